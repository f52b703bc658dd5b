// Variants of the fused webgpu log-prob kernels, timed on the GPU machine (median of 20 steps, each
// ending with a read-back of a scalar): tokenLogProbs fwd+bwd and forward only at [2, 512, 152000]
// with the split and the one-pass forward, entropyFromLogits fwd+bwd, and tfjs's own elementwise
// add + sum over the same logits as a bandwidth reference.
//   node dist-bench/webgpu_micro.mjs
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {configureValidation, entropyFromLogits, tokenLogProbs} from '../src/index.js';
import {setLogProbsWebGPU} from '../src/math/fused/log_probs_webgpu.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(name: string, f: () => tf.Tensor[], n = 20): Promise<void> {
  const once = async () => {
    const outs = f();
    await outs[0]!.data();
    tf.dispose(outs);
  };
  for (let i = 0; i < 5; i++) await once();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    ts.push(performance.now() - t0);
  }
  console.log(`${name.padEnd(64)} median ${median(ts).toFixed(3)} ms  min ${Math.min(...ts).toFixed(3)} ms`);
}

async function main(): Promise<void> {
  const webgpu = await import('webgpu') as unknown as {create: (o: string[]) => unknown; globals: object};
  Object.assign(globalThis, webgpu.globals);
  Object.defineProperty(globalThis, 'navigator', {value: {gpu: webgpu.create([])}, configurable: true});
  await import('@tensorflow/tfjs-backend-webgpu');
  await tf.setBackend('webgpu');
  for (const checks of [false]) {
    configureValidation({valueChecks: checks});
    for (const [B, T, V] of [[2, 512, 152000], [4, 512, 32000]] as const) {
      const logits = tf.randomNormal([B, T, V], 0, 2, 'float32', 6) as tf.Tensor3D;
      const tok = tf.randomUniform([B, T], 0, V, 'int32', 7) as tf.Tensor2D;
      const shape = `[${B},${T},${V}]${checks ? ' checks on' : ''}`;
      const fb = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tokenLogProbs(x as tf.Tensor3D, tok)));
      const eb = tf.valueAndGrad((x: tf.Tensor) => tf.sum(entropyFromLogits(x as tf.Tensor3D)));
      for (const [splitForward, bwdIter] of [[false, 4], [false, 1], [false, 16], [false, 160], [true, 4]] as const) {
        setLogProbsWebGPU(true, {splitForward, bwdIter});
        const v = `${splitForward ? 'split' : 'one-pass'}, bwd ${bwdIter}/thread`;
        await timeIt(`tokenLogProbs fwd+bwd ${shape} (${v})`, () => { const r = fb(logits); return [r.value, r.grad]; });
        await timeIt(`tokenLogProbs fwd ${shape} (${v})`, () => [tf.sum(tokenLogProbs(logits, tok))]);
        await timeIt(`entropyFromLogits fwd+bwd ${shape} (${v})`, () => { const r = eb(logits); return [r.value, r.grad]; });
      }
      setLogProbsWebGPU(true);
      // tfjs's own elementwise add: the same traffic as the backward pass (read + write [rows, vocab]).
      if (!checks) {
        await timeIt(`tf.add(logits, 1), one element read ${shape} (reference)`, () => {
          const y = tf.add(logits, 1);
          const one = tf.slice(y, [0, 0, 0], [1, 1, 1]);
          y.dispose();
          return [one];
        });
      }
      tf.dispose([logits, tok]);
    }
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Where the time of a small webgpu step goes (run on the GPU machine):
//   node dist-bench/webgpu_latency.mjs
// Medians over 50 runs of: an empty queue wait, a 1-element op + read-back, a raw WebGPU buffer
// copy + mapAsync (no tfjs), and the CPU time to enqueue one fused grpoLoss fwd+bwd step (no wait),
// for the direct-device path (default) and the runWebGPUProgram path (`legacy`).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {configureValidation, grpoLoss} from '../src/index.js';
import {setGrpoLossWebGPUDirect} from '../src/math/fused/grpo_loss_webgpu.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(name: string, f: () => Promise<void> | void, n = 50): Promise<void> {
  for (let i = 0; i < 5; i++) await f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  console.log(`${name.padEnd(58)} median ${median(ts).toFixed(4)} ms  min ${Math.min(...ts).toFixed(4)} ms`);
}

async function main(): Promise<void> {
  const webgpu = await import('webgpu') as unknown as {create: (o: string[]) => unknown; globals: object};
  Object.assign(globalThis, webgpu.globals);
  const dawn = process.env['BENCH_DAWN_OPTIONS']?.split(',') ?? [];
  Object.defineProperty(globalThis, 'navigator', {value: {gpu: webgpu.create(dawn)}, configurable: true});
  await import('@tensorflow/tfjs-backend-webgpu');
  await tf.setBackend('webgpu');
  configureValidation({valueChecks: false});
  const b = tf.backend() as unknown as {
    device: GPUDevice; submitQueue: () => void; endComputePassEncoder: () => void; commandEncoder: unknown;
  };
  const drain = async () => {
    if (b.commandEncoder != null) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
    await b.device.queue.onSubmittedWorkDone();
  };
  await timeIt('queue.onSubmittedWorkDone, empty queue', drain);
  const one = tf.ones([1]);
  await timeIt('tf.add on [1] + data() (tfjs read-back)', async () => {
    const y = tf.add(one, 1);
    await y.data();
    y.dispose();
  });
  const device = b.device;
  const src = device.createBuffer({size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC});
  const dst = device.createBuffer({size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
  await timeIt('raw WebGPU: copy 16 B + mapAsync (no tfjs)', async () => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, dst, 0, 16);
    device.queue.submit([enc.finish()]);
    await dst.mapAsync(GPUMapMode.READ);
    dst.unmap();
  });
  for (const [B, T, legacy] of [[256, 2048, false], [512, 8192, false], [256, 2048, true]] as const) {
    setGrpoLossWebGPUDirect(!legacy);
    const tag = legacy ? ' legacy' : '';
    const lp = tf.randomUniform([B, T], -3, 0);
    const x = {logProbs: lp, oldLogProbs: tf.add(lp, 0.05), refLogProbs: tf.add(lp, -0.05),
      advantages: tf.randomNormal([B]), mask: tf.ones([B, T])};
    const f = tf.valueAndGrad((l: tf.Tensor) => grpoLoss({...x, logProbs: l}, {beta: 0.04, implementation: 'fused'}));
    let outs: tf.Tensor[] = [];
    // The previous step's outputs are disposed first (their buffers return to tfjs's pool at the next
    // submit), as in a training loop.
    await timeIt(`fused${tag} fwd+bwd [${B},${T}]: enqueue only (CPU)`, () => {
      tf.dispose(outs);
      const {value, grad} = f(lp);
      outs = [value, grad];
    });
    await drain();
    tf.dispose(outs);
    await timeIt(`fused${tag} fwd+bwd [${B},${T}]: enqueue + queue wait`, async () => {
      const {value, grad} = f(lp);
      await drain();
      tf.dispose([value, grad]);
    });
    await timeIt(`fused${tag} fwd+bwd [${B},${T}]: enqueue + loss read-back`, async () => {
      const {value, grad} = f(lp);
      await value.data();
      tf.dispose([value, grad]);
    });
    await timeIt(`fused${tag} fwd [${B},${T}]: enqueue + loss read-back`, async () => {
      const v = grpoLoss(x, {beta: 0.04, implementation: 'fused'});
      await v.data();
      v.dispose();
    });
    tf.dispose(Object.values(x));
  }
  setGrpoLossWebGPUDirect(true);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

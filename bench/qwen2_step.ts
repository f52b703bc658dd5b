// One full GRPO step (forward, completion log-probs, grpoLoss, backward, Adam) of a checkpoint loaded
// with `loadPretrained`, timed as a user runs it (default options, loss read back every step), next to
// the same step in PyTorch eager (bench/qwen2_step_torch.py, same shapes) when --torch-json is given.
//
//   npx tsx bench/qwen2_step.ts --dir CHECKPOINT [--backend webgpu] [--batch 4] [--prompt 64]
//       [--completion 192] [--steps 5] [--warmup 2] [--out result.json] [--torch-json torch.json] [--profile]
//       [--matmul on|off] [--upload on|off] [--adam on|off] [--norms on|off] [--submit-batch N]   (webgpu fast paths, for A/B timing)
//
// --profile: afterwards, the time of each phase (forward, + log-probs, + backward, whole step; each read
// back) and how long the step's JavaScript takes to enqueue, then tf.profile of one step: kernels by name
// with their count and GPU time (webgpu timestamp queries where Dawn has them).
//
// On the GPU machine it runs from the bundle (bench/bundle.sh builds dist-bench/qwen2_step.mjs).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {readFileSync, writeFileSync} from 'node:fs';
import {applyClippedGradients, grpoLoss, tokenLogProbs} from '../src/index.js';
import {loadPretrained} from '../src/node.js';
import {setFusedAdam} from '../src/train/fused_adam_update.js';
import {setSumSquaresWebGPU} from '../src/math/fused/sum_squares_webgpu.js';
import {tuneWebGPUBackend} from '../src/math/fused/webgpu_fast_paths.js';
import {profileStep} from './profile_step.js';
import {activateWebGPU} from './activate_webgpu.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

async function useBackend(name: string): Promise<void> {
  if (name === 'webgpu') {
    await activateWebGPU();
    return;
  }
  await import(name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

async function main(): Promise<void> {
  const dir = arg('--dir', '');
  if (dir === '') throw new Error('--dir CHECKPOINT is required');
  const backend = arg('--backend', 'webgpu');
  const B = Number(arg('--batch', '4'));
  const P = Number(arg('--prompt', '64'));
  const C = Number(arg('--completion', '192'));
  const steps = Number(arg('--steps', '5'));

  const warmup = Number(arg('--warmup', '2'));
  await useBackend(backend);
  // A/B switches of the webgpu fast paths (default: what the training path sets by itself).
  const tuning = {matmul: arg('--matmul', 'on') === 'on', upload: arg('--upload', 'on') === 'on'};
  const submitBatch = arg('--submit-batch', ''); // tfjs's WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (default 15)
  if (arg('--adam', 'on') === 'off') setFusedAdam(false); // tfjs's AdamOptimizer.applyGradients
  if (arg('--norms', 'on') === 'off') setSumSquaresWebGPU(false); // tf.sum(tf.square(g)) per variable
  if (submitBatch !== '') tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', Number(submitBatch));
  if (backend === 'webgpu' && (!tuning.matmul || !tuning.upload)) {
    console.log('webgpu tuning', JSON.stringify(tuneWebGPUBackend({...tuning, auto: false})));
  }

  const t0 = performance.now();
  const model = await loadPretrained(dir);
  const loadMs = performance.now() - t0;
  const V = model.vocabSize;
  const vars = model.variables();
  let seed = 1;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const ids = Array.from({length: B * (P + C)}, () => Math.floor(rand() * V));
  const tokens = tf.tensor2d(ids, [B, P + C], 'int32');
  const completion = tf.slice(tokens, [0, P], [B, C]) as tf.Tensor2D;
  const mask = tf.ones([B, C]) as tf.Tensor2D;
  const advantages = tf.tensor1d(Array.from({length: B}, (_, i) => (i % 2 === 0 ? 1 : -1)));
  const completionLogProbs = (): tf.Tensor2D => {
    const {logits} = model.apply(tokens);
    return tokenLogProbs(tf.slice(logits, [0, P - 1, 0], [B, C, V]) as tf.Tensor3D, completion);
  };
  const oldLogProbs = tf.tidy(completionLogProbs);
  const optimizer = tf.train.adam(1e-6);
  const times: number[] = [];
  let loss = NaN;
  for (let s = 0; s < warmup + steps; s++) {
    const start = performance.now();
    // The training steps' update: gradients, global-norm clip at 1 (grpoStep's default), Adam.
    const {loss: value, gradNorms} = applyClippedGradients(optimizer,
        () => grpoLoss({logProbs: completionLogProbs(), oldLogProbs, advantages, mask}, {beta: 0}), [vars], 1);
    loss = (await value.data())[0]!;
    tf.dispose([value, ...gradNorms]);
    const ms = performance.now() - start;
    if (s >= warmup) times.push(ms);
    console.log(`step ${s}${s < warmup ? ' (warm-up)' : ''}: ${ms.toFixed(1)} ms, loss ${loss.toFixed(6)}`);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const result: Record<string, unknown> = {
    backend, tuning, fusedAdam: arg('--adam', 'on'), fusedNorms: arg('--norms', 'on'), architecture: model.architecture, params: model.numParams(), batch: B, prompt: P, completion: C,
    loadMs: Math.round(loadMs), stepMsMedian: median, stepMs: times, lastLoss: loss,
    tokensPerSecond: (B * (P + C)) / (median / 1000),
  };
  const torchJson = arg('--torch-json', '');
  if (torchJson !== '') {
    const torch = JSON.parse(readFileSync(torchJson, 'utf8')) as {stepMsMedian: number};
    result['torch'] = torch;
    result['ratioVsTorch'] = median / torch.stepMsMedian;
  }
  console.log(JSON.stringify(result));
  const out = arg('--out', '');
  if (out !== '') writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  const cpuProf = arg('--cpu-prof', '');
  if (cpuProf !== '') {
    // The V8 CPU profile of two more steps (open in Chrome DevTools, or summarize by self time).
    const {Session} = await import('node:inspector/promises');
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', {interval: 200});
    await session.post('Profiler.start');
    for (let s = 0; s < 2; s++) {
      const {loss: value, gradNorms} = applyClippedGradients(optimizer,
          () => grpoLoss({logProbs: completionLogProbs(), oldLogProbs, advantages, mask}, {beta: 0}), [vars], 1);
      await value.data();
      tf.dispose([value, ...gradNorms]);
    }
    const {profile} = await session.post('Profiler.stop');
    writeFileSync(cpuProf, JSON.stringify(profile));
    session.disconnect();
  }
  if (process.argv.includes('--profile')) {
    const lossFn = (): tf.Scalar => grpoLoss({logProbs: completionLogProbs(), oldLogProbs, advantages, mask}, {beta: 0});
    await profileStep(async () => {
      const {loss: value, gradNorms} = applyClippedGradients(optimizer, lossFn, [vars], 1);
      await value.data();
      tf.dispose([value, ...gradNorms]);
    }, {
      forward: () => model.apply(tokens).logits,
      logProbs: completionLogProbs,
      grads: () => { const {value, grads} = tf.variableGrads(lossFn, vars); return [value, ...Object.values(grads)]; },
    });
  }
  tf.dispose([tokens, completion, mask, advantages, oldLogProbs]);
  optimizer.dispose();
  model.dispose();
}

await main();

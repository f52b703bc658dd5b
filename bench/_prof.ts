import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {clippedPolicyLoss, configureValidation, groupAdvantages} from '../src/index.js';
const webgpu = await import('webgpu') as any;
Object.assign(globalThis, webgpu.globals);
Object.defineProperty(globalThis, 'navigator', {value: {gpu: webgpu.create([])}, configurable: true});
await import('@tensorflow/tfjs-backend-webgpu');
await tf.setBackend('webgpu');
try { const m = tf.ones([4, 4]); grpo(); function grpo() { clippedPolicyLoss({logProbs: m as any, oldLogProbs: m as any, advantages: tf.ones([4]) as any, mask: m as any}); } console.log('value checks on: ok'); } catch (e) { console.log('value checks on: THROWS', (e as Error).message); }
configureValidation({valueChecks: false});
const B = 512, T = 8192;
const lp = tf.randomUniform([B, T], -3, 0) as tf.Tensor2D;
const x = {logProbs: lp, oldLogProbs: tf.add(lp, 0.1) as tf.Tensor2D, advantages: tf.randomNormal([B]) as tf.Tensor1D,
  mask: tf.cast(tf.greater(tf.randomUniform([B, T]), 0.1), 'float32') as tf.Tensor2D};
const r = tf.randomUniform([4096]) as tf.Tensor1D;
for (const [name, f] of [['cpl', () => clippedPolicyLoss(x)], ['ga', () => groupAdvantages(r, {groupSize: 16})]] as const) {
  for (let i = 0; i < 3; i++) { const o = f(); await o.data(); o.dispose(); }
  const t0 = performance.now();
  const prof = await tf.profile(async () => { const o = f(); await o.data(); o.dispose(); });
  console.log(name, (performance.now() - t0).toFixed(1), 'ms');
  for (const k of prof.kernels) console.log('  ', k.name, JSON.stringify(k.inputShapes), k.kernelTimeMs, k.outputShapes);
}
process.exit(0);

// GPU self-checks of the small fused webgpu kernels (run by bench/webgpu_check.ts after the extra
// checks): clippedPolicyLoss, klPenalty, aggregateLoss, groupAdvantages and the masked statistics,
// each fused (its kernel on) against composed (the tfjs ops, kernel off) on the same backend, for
// values and, where the op is differentiable, the gradients of sum(w * out) (w random, so the
// backward kernels multiply by a real upstream gradient) w.r.t. every float input. Shapes include
// odd sizes, rows longer than a workgroup (256) and masks with empty rows.
// Alone: XDG_RUNTIME_DIR=/tmp npx tsx bench/webgpu_check_ops.ts (webgpu, lavapipe locally).
import * as tf from '@tensorflow/tfjs-core';
import {
  aggregateLoss, clippedPolicyLoss, groupAdvantages, klPenalty, maskedMean, maskedSum, maskedVariance, whiten,
} from '../src/index.js';
import {setSmallOpsWebGPU} from '../src/math/fused/small_ops_webgpu_switch.js';

interface Tally {failures: number; worst: number; count: number}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    const d = Number.isNaN(a[i]!) !== Number.isNaN(b[i]!) ? Infinity : Number.isNaN(b[i]!) ? 0 : Math.abs(a[i]! - b[i]!);
    err = Math.max(err, d);
  }
  return a.length !== b.length ? Infinity : err / Math.max(scale, 1e-12);
}

/**
 * Runs `f(...diff)` fused and composed; compares the output and (when `grad`) the gradients of
 * sum(w * out) w.r.t. each of `diff`. Disposes nothing it was given.
 */
async function compare(t: Tally, what: string, diff: tf.Tensor[], f: (...x: tf.Tensor[]) => tf.Tensor, grad: boolean,
    tol = 1e-5): Promise<void> {
  const run = async (on: boolean) => {
    setSmallOpsWebGPU(on);
    const y = f(...diff);
    const out = [await y.data()];
    if (grad) {
      const w = tf.randomUniform(y.shape, 0.5, 2, 'float32', 77);
      const gs = tf.grads((...x: tf.Tensor[]) => tf.sum(tf.mul(f(...x), w)))(diff);
      for (const g of gs) out.push(await g.data());
      tf.dispose([w, ...gs]);
    }
    y.dispose();
    return out;
  };
  const before = tf.memory().numTensors;
  const fused = await run(true);
  const composed = await run(false);
  setSmallOpsWebGPU(true);
  const errs = composed.map((c, i) => maxRel(fused[i]!, c));
  const err = Math.max(...errs);
  const leaked = tf.memory().numTensors - before;
  const bad = !(err < tol) || leaked !== 0;
  t.count++;
  if (bad) t.failures++;
  t.worst = Math.max(t.worst, err);
  console.log(`${bad ? 'FAIL' : 'ok  '} ${what}: ${errs.map((e) => e.toExponential(2)).join(' / ')}` +
      `${leaked !== 0 ? ` (${leaked} tensors leaked)` : ''}`);
}

/** A 0/1 float mask with ~30 % zeros and row 1 (when there is one) all zeros. */
function maskOf(B: number, T: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const m = tf.cast(tf.greater(tf.randomUniform([B, T], 0, 1, 'float32', seed), 0.3), 'float32');
    if (B < 2) return m as tf.Tensor2D;
    const rowOne = tf.reshape(tf.cast(tf.notEqual(tf.range(0, B, 1, 'int32'), 1), 'float32'), [B, 1]);
    return tf.mul(m, rowOne) as tf.Tensor2D;
  });
}

const SHAPES: Array<[number, number]> = [[1, 1], [3, 7], [5, 300], [4, 1031], [70, 9]];

async function clipChecks(t: Tally): Promise<void> {
  for (const [B, T] of SHAPES) {
    const lp = tf.randomUniform([B, T], -3, 0, 'float32', 1);
    const far = tf.tidy(() => tf.mul(tf.cast(tf.equal(tf.mod(tf.range(0, B * T, 1, 'int32'), 37), 0), 'float32'),
        tf.randomUniform([B * T], -30, 30, 'float32', 2)).reshape([B, T]));
    const old = tf.tidy(() => tf.minimum(tf.add(tf.add(lp, tf.randomUniform([B, T], -0.5, 0.5, 'float32', 3)), far), 0));
    const adv1 = tf.randomNormal([B], 0, 1, 'float32', 4);
    const adv2 = tf.randomNormal([B, T], 0, 1, 'float32', 5);
    const mask = maskOf(B, T, 6);
    const maskI = tf.cast(mask, 'int32');
    for (const o of [{}, {clipLow: 0.2, clipHigh: 0.28}, {dualClip: 3}, {clipLow: 0, clipHigh: 0},
      {ratioLevel: 'sequence', clipLow: 3e-4, clipHigh: 4e-4}, {ratioLevel: 'sequence', dualClip: 2}] as const) {
      for (const [name, adv, m] of [['[B] adv', adv1, mask], ['[B,T] adv, int32 mask', adv2, maskI]] as const) {
        await compare(t, `clippedPolicyLoss [${B},${T}] ${name} ${JSON.stringify(o)}`, [lp, old, adv],
            (l, ol, a) => clippedPolicyLoss({logProbs: l!, oldLogProbs: ol!, advantages: a!, mask: m}, o), true);
      }
    }
    tf.dispose([lp, far, old, adv1, adv2, mask, maskI]);
  }
}

/** Runs every check of this file; returns the tally. */
export async function opsChecks(): Promise<Tally> {
  const t: Tally = {failures: 0, worst: 0, count: 0};
  await clipChecks(t);
  return t;
}

if (process.argv[1]?.endsWith('webgpu_check_ops.ts')) {
  void (async () => {
    await import('@tensorflow/tfjs');
    const webgpu = await import('webgpu') as unknown as {create: (o: string[]) => unknown; globals: object};
    Object.assign(globalThis, webgpu.globals);
    Object.defineProperty(globalThis, 'navigator', {value: {gpu: webgpu.create([])}, configurable: true});
    await import('@tensorflow/tfjs-backend-webgpu');
    await tf.setBackend('webgpu');
    await tf.ready();
    const t = await opsChecks();
    console.log(`${t.failures === 0 ? 'PASS' : 'FAIL'}: ${t.count} comparisons, worst ${t.worst.toExponential(2)}`);
    process.exit(t.failures === 0 ? 0 : 1);
  })();
}

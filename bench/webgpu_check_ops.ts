// GPU self-checks of the small fused webgpu kernels (run by bench/webgpu_check.ts after the extra
// checks): clippedPolicyLoss, klPenalty, aggregateLoss, groupAdvantages and the masked statistics,
// each fused (its kernel on) against composed (the tfjs ops, kernel off) on the same backend, for
// values and, where the op is differentiable, the gradients of sum(w * out) (w random, so the
// backward kernels multiply by a real upstream gradient) w.r.t. every float input. Shapes include
// odd sizes, rows longer than a workgroup (256) and masks with empty rows.
// Alone: XDG_RUNTIME_DIR=/tmp npx tsx bench/webgpu_check_ops.ts (webgpu, lavapipe locally).
import * as tf from '@tensorflow/tfjs-core';
import {
  aggregateLoss, clippedPolicyLoss, configureValidation, groupAdvantages, klPenalty, maskedMean, maskedSum, maskedVariance, whiten,
} from '../src/index.js';
import {settleWebGPUValueChecks} from '../src/math/fused/webgpu_value_checks.js';
import {setSmallOpsWebGPU} from '../src/math/fused/small_ops_webgpu_switch.js';
import {maxRel} from './max_rel.js';

interface Tally {failures: number; worst: number; count: number}

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

async function klChecks(t: Tally): Promise<void> {
  for (const shape of [[1], [3, 7], [5, 300], [2, 3, 1031]]) {
    const lp = tf.randomUniform(shape, -3, 0, 'float32', 11);
    const ref = tf.tidy(() => tf.add(lp, tf.randomUniform(shape, -4, 4, 'float32', 12)));
    for (const estimator of ['k1', 'k2', 'k3', 'abs'] as const) {
      for (const clamps of [{}, {logRatioClamp: 2, valueClamp: 1.5}]) {
        await compare(t, `klPenalty [${shape}] ${estimator} ${JSON.stringify(clamps)}`, [lp, ref],
            (a, b) => klPenalty(a!, b!, {estimator, ...clamps}), true);
      }
    }
    tf.dispose([lp, ref]);
  }
}

async function aggregateChecks(t: Tally): Promise<void> {
  for (const [B, T] of SHAPES) {
    const x = tf.randomUniform([B, T], 0.1, 2, 'float32', 21);
    const mask = maskOf(B, T, 22);
    const maskB = tf.cast(mask, 'bool');
    for (const mode of ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'] as const) {
      for (const o of [{}, {normalizer: 7}, ...(mode === 'seq-mean-token-sum-norm' ? [{maxLength: 2048}] : [])]) {
        await compare(t, `aggregateLoss [${B},${T}] ${mode} ${JSON.stringify(o)}`, [x],
            (p) => aggregateLoss(p!, B % 2 === 0 ? maskB : mask, mode, o), true);
      }
    }
    tf.dispose([x, mask, maskB]);
  }
}

async function groupChecks(t: Tally): Promise<void> {
  for (const [B, G] of [[2, 2], [48, 16], [4096, 16], [1000, 1000], [9, 3]]) {
    // Rounded rewards: some groups have all-equal rewards (exact zeros); group 0 is constant.
    const r = tf.tidy(() => tf.concat([tf.fill([G!], 0.5),
      tf.round(tf.randomUniform([B! - G!], 0, 3, 'float32', 31))]).slice([0], [B!]) as tf.Tensor1D);
    for (const o of [{}, {scale: 'batch'}, {scale: 'none'}, {std: 'biased', epsilon: 0}, {scale: 'batch', std: 'biased'}] as const) {
      await compare(t, `groupAdvantages B=${B} G=${G} ${JSON.stringify(o)}`, [r], (x) => groupAdvantages(x as tf.Tensor1D,
          {groupSize: G!, ...o}), false);
    }
    await compare(t, `groupAdvantages B=${B} groupIds (contiguous)`, [r], (x) => groupAdvantages(x as tf.Tensor1D,
        {groupIds: Array.from({length: B!}, (_, i) => 100 - Math.floor(i / G!))}), false);
    r.dispose();
  }
}

async function maskedChecks(t: Tally): Promise<void> {
  for (const shape of [[1], [7], [3, 7], [5, 300], [4, 1031], [2, 3, 5], [5000], [3, 2049]]) {
    const x = tf.randomNormal(shape, 1, 2, 'float32', 41);
    const mask = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', 42), 0.3), 'float32'));
    const empty = tf.zerosLike(mask);
    const last = shape.length - 1;
    for (const [name, m] of [['mask', mask], ['empty mask', empty]] as const) {
      const at = `[${shape}] ${name}`;
      await compare(t, `maskedSum ${at}`, [x], (a) => maskedSum(a!, m), false);
      await compare(t, `maskedSum ${at} axis -1`, [x], (a) => maskedSum(a!, m, {axis: -1}), false);
      await compare(t, `maskedMean ${at}`, [x], (a) => maskedMean(a!, m), false);
      await compare(t, `maskedMean ${at} axis ${last}`, [x], (a) => maskedMean(a!, m, {axis: last}), false);
      await compare(t, `maskedVariance ${at}`, [x], (a) => maskedVariance(a!, m), false, 1e-4);
      await compare(t, `maskedVariance ${at} biased`, [x], (a) => maskedVariance(a!, m, {unbiased: false}), false, 1e-4);
      await compare(t, `whiten ${at}`, [x], (a) => whiten(a!, m), false, 1e-4);
      await compare(t, `whiten ${at} shiftMean false`, [x], (a) => whiten(a!, m, {shiftMean: false, epsilon: 1e-3}), false, 1e-4);
    }
    tf.dispose([x, mask, empty]);
  }
}

/** Named errors of the in-kernel value checks (raised by the next fused call / settle). */
async function valueErrorChecks(t: Tally): Promise<void> {
  const previous = configureValidation({valueChecks: true});
  const lp = [[-1, -2, -0.5], [-0.3, -1, -2]];
  const cases: Array<{what: string; expect: string | null; run: () => tf.Tensor}> = [
    {what: 'clippedPolicyLoss NaN logProbs', expect: "clippedPolicyLoss: 'logProbs' expected finite",
      run: () => clippedPolicyLoss({logProbs: tf.tensor2d([[-1, NaN, -1], [-1, -1, -1]]), oldLogProbs: tf.tensor2d(lp),
        advantages: tf.tensor1d([1, -1]), mask: tf.tensor2d([[1, 1, 0], [1, 1, 1]])})},
    {what: 'clippedPolicyLoss probabilities as oldLogProbs', expect: "'oldLogProbs' expected finite log-probabilities",
      run: () => clippedPolicyLoss({logProbs: tf.tensor2d(lp), oldLogProbs: tf.tensor2d([[0.5, -1, -1], [-1, -1, -1]]),
        advantages: tf.tensor1d([1, -1]), mask: tf.tensor2d([[1, 1, 0], [1, 1, 1]])})},
    {what: 'clippedPolicyLoss NaN advantage of an empty row', expect: "'advantages' expected finite values",
      run: () => clippedPolicyLoss({logProbs: tf.tensor2d(lp), oldLogProbs: tf.tensor2d(lp),
        advantages: tf.tensor1d([1, NaN]), mask: tf.tensor2d([[1, 1, 0], [0, 0, 0]])})},
    {what: 'clippedPolicyLoss NaN on a masked token', expect: null,
      run: () => clippedPolicyLoss({logProbs: tf.tensor2d([[-1, -1, NaN], [-1, -1, -1]]), oldLogProbs: tf.tensor2d(lp),
        advantages: tf.tensor1d([1, -1]), mask: tf.tensor2d([[1, 1, 0], [1, 1, 1]])})},
    {what: 'aggregateLoss mask 2', expect: "aggregateLoss: 'mask' expected values in {0, 1}",
      run: () => aggregateLoss(tf.tensor2d(lp), tf.tensor2d([[1, 2, 0], [1, 1, 1]]), 'token-mean')},
    {what: 'maskedMean mask 0.5', expect: "maskedMean: 'mask' expected values in {0, 1}",
      run: () => maskedMean(tf.tensor2d(lp), tf.tensor2d([[1, 0.5, 0], [1, 1, 1]]))},
    {what: 'whiten mask -1', expect: "whiten: 'mask' expected values in {0, 1}",
      run: () => whiten(tf.tensor2d(lp), tf.tensor2d([[1, -1, 0], [1, 1, 1]]))},
    {what: 'groupAdvantages Infinity reward', expect: "groupAdvantages: 'rewards' expected finite values",
      run: () => groupAdvantages(tf.tensor1d([1, Infinity, 0, 1]), {groupSize: 2})},
  ];
  for (const c of cases) {
    let message: string | null = null;
    try {
      const y = tf.tidy(c.run);
      await y.data();
      y.dispose();
      await settleWebGPUValueChecks();
    } catch (e) {
      message = (e as Error).message;
    }
    const ok = c.expect === null ? message === null : message !== null && message.includes(c.expect);
    t.count++;
    if (!ok) t.failures++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} value check, ${c.what}: ${message ?? 'no error'}`);
  }
  configureValidation(previous);
}

/** Runs every check of this file; returns the tally. */
export async function opsChecks(): Promise<Tally> {
  const t: Tally = {failures: 0, worst: 0, count: 0};
  // The default path (value checks in the kernels) for every op, then the kernels without checks.
  const previous = configureValidation({valueChecks: true});
  await clipChecks(t);
  await klChecks(t);
  await aggregateChecks(t);
  await groupChecks(t);
  await maskedChecks(t);
  await valueErrorChecks(t);
  configureValidation({valueChecks: false});
  console.log('small ops with value checks off:');
  await clipChecks(t);
  await aggregateChecks(t);
  await groupChecks(t);
  configureValidation(previous);
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
    console.log(`${t.failures === 0 ? 'PASS' : 'FAIL'}: ${t.count} comparisons, worst ${t.worst.toExponential(2)}, ` +
        `tensors left ${tf.memory().numTensors}`);
    process.exit(t.failures === 0 ? 0 : 1);
  })();
}

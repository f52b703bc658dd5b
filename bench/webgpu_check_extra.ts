// Extra GPU self-checks run by bench/webgpu_check.ts after the fused-vs-composed grid:
// - truncated importance sampling: with per-token advantages A and old log-probs, the fused loss with
//   rolloutLogProbs / tisCap equals the composed loss (no TIS) with advantages A * w,
//   w = min(exp(old - rollout), tisCap) (each policy-gradient branch is linear in A with the branch
//   chosen by sign(A), and w > 0 is detached), for the loss and d loss / d logProbs;
// - in-kernel value checks: NaN / +Inf log-probs on unmasked tokens, probabilities passed as
//   log-probs, a non-binary mask, NaN advantages each give the named error; the same values on
//   masked tokens (mask check aside) give none;
// - the fused log-prob kernels (tokenLogProbs, entropyFromLogits) against composed references.
import * as tf from '@tensorflow/tfjs-core';
import type {GrpoLossInputs, GrpoLossOptions, ResolvedGrpoLossOptions} from '../src/math/grpo_loss.js';
import {logProbChecks} from './webgpu_check_logprobs.js';
import {gae} from '../src/index.js';
import {setGaeWebGPU} from '../src/math/fused/gae_webgpu.js';

/** gae fused (one webgpu kernel) vs composed (the tfjs ops, kernel off), masks with holes. */
async function gaeChecks(): Promise<{failures: number; worst: number; count: number}> {
  let failures = 0;
  let worst = 0;
  let count = 0;
  for (const [B, T, gamma, lambda] of [[3, 7, 0.99, 0.95], [64, 512, 1, 0.95], [5, 1, 0.9, 1], [130, 33, 0.97, 0.9]]) {
    const x = tf.tidy(() => ({
      rewards: tf.randomNormal([B!, T!], 0, 1, 'float32', 31) as tf.Tensor2D,
      values: tf.randomNormal([B!, T!], 0, 1, 'float32', 32) as tf.Tensor2D,
      mask: tf.cast(tf.greater(tf.randomUniform([B!, T!], 0, 1, 'float32', 33), 0.25), 'float32') as tf.Tensor2D,
    }));
    const run = async (on: boolean) => {
      setGaeWebGPU(on);
      const r = gae(x, {gamma, lambda});
      const out = {a: await r.advantages.data(), r: await r.returns.data()};
      tf.dispose([r.advantages, r.returns]);
      return out;
    };
    const f = await run(true);
    const c = await run(false);
    setGaeWebGPU(true);
    const err = Math.max(maxRel(f.a, c.a), maxRel(f.r, c.r));
    const bad = !(err < 1e-5);
    count++;
    if (bad) failures++;
    worst = Math.max(worst, err);
    console.log(`${bad ? 'FAIL' : 'ok  '} gae fused vs composed [${B},${T}] gamma ${gamma} lambda ${lambda}: ${err.toExponential(2)}`);
    tf.dispose(Object.values(x));
  }
  return {failures, worst, count};
}

interface Deps {
  grpoLoss: (i: GrpoLossInputs, o?: GrpoLossOptions) => tf.Scalar;
  grpoLossFused: (i: GrpoLossInputs, r: ResolvedGrpoLossOptions) => tf.Scalar;
  runFusedGrpoLoss: (i: GrpoLossInputs, r: ResolvedGrpoLossOptions, run: {fn: string; checkValues: boolean; withStats: boolean}) =>
    {loss: tf.Scalar} | null;
  resolveGrpoLossOptions: (o?: GrpoLossOptions) => ResolvedGrpoLossOptions;
  configureValidation: (c: {valueChecks?: boolean}) => {valueChecks: boolean};
  settleWebGPUValueChecks: () => Promise<void>;
  quick: boolean;
  /** The runWebGPUProgram path (--legacy), which has no in-kernel value checks: those checks are skipped. */
  legacy?: boolean;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / Math.max(scale, 1e-12);
}

async function tisChecks(d: Deps): Promise<{failures: number; worst: number; count: number}> {
  let failures = 0;
  let worst = 0;
  let count = 0;
  for (const [B, T] of d.quick ? [[3, 50]] : [[3, 50], [64, 1500]]) {
    for (const tisCap of [2, 1e9]) {
      for (const o of [{beta: 0}, {beta: 0.04, clipHigh: 0.28, dualClip: 3}] as GrpoLossOptions[]) {
        const x = tf.tidy(() => {
          const lp = tf.randomUniform([B!, T!], -3, 0, 'float32', 11);
          const old = tf.add(lp, tf.randomUniform([B!, T!], -0.5, 0.5, 'float32', 12));
          const rollout = tf.minimum(tf.add(old, tf.randomUniform([B!, T!], -1.5, 1.5, 'float32', 13)), 0);
          const adv = tf.randomNormal([B!, T!], 0, 1, 'float32', 14);
          const mask = tf.cast(tf.greater(tf.randomUniform([B!, T!], 0, 1, 'float32', 15), 0.2), 'float32');
          const w = tf.minimum(tf.exp(tf.sub(old, rollout)), tisCap);
          return {lp, old, rollout, adv, mask, advW: tf.mul(adv, w), ref: tf.add(lp, 0.1)};
        });
        const fused = tf.valueAndGrad((lp: tf.Tensor) => d.grpoLossFused(
            {logProbs: lp, oldLogProbs: x.old, refLogProbs: x.ref, advantages: x.adv, mask: x.mask,
              rolloutLogProbs: x.rollout} as GrpoLossInputs,
            {...d.resolveGrpoLossOptions(o), tisCap} as ResolvedGrpoLossOptions))(x.lp);
        const composed = tf.valueAndGrad((lp: tf.Tensor) => d.grpoLoss(
            {logProbs: lp, oldLogProbs: x.old, refLogProbs: x.ref, advantages: x.advW, mask: x.mask},
            {...o, implementation: 'composed'}))(x.lp);
        const lossErr = Math.abs((await fused.value.data())[0]! - (await composed.value.data())[0]!) /
            Math.max(1e-3, Math.abs((await composed.value.data())[0]!));
        const gradErr = maxRel(await fused.grad.data(), await composed.grad.data());
        const bad = !(lossErr < 1e-4 && gradErr < 1e-4);
        count++;
        if (bad) failures++;
        worst = Math.max(worst, lossErr, gradErr);
        console.log(`${bad ? 'FAIL' : 'ok  '} TIS [${B},${T}] tisCap ${tisCap} ${JSON.stringify(o)}: loss rel ` +
            `${lossErr.toExponential(2)}, grad ${gradErr.toExponential(2)}`);
        tf.dispose([fused.value, fused.grad, composed.value, composed.grad, ...Object.values(x)]);
      }
    }
  }
  return {failures, worst, count};
}

async function valueCheckChecks(d: Deps): Promise<{failures: number; count: number}> {
  let failures = 0;
  let count = 0;
  const previous = d.configureValidation({valueChecks: true});
  // [3, 10] inputs built from plain arrays; `make` puts one bad value in.
  type Arrays = Record<'logProbs' | 'oldLogProbs' | 'refLogProbs' | 'mask', number[][]> & {advantages: number[]};
  const cases: Array<{what: string; expect: string | null; make: (x: Arrays) => void}> = [
    {what: 'NaN logProbs on an unmasked token', expect: "'logProbs' expected finite values",
      make: (x) => { x.logProbs[1]![3] = NaN; }},
    {what: '+Inf oldLogProbs on an unmasked token', expect: "'oldLogProbs' expected finite values",
      make: (x) => { x.oldLogProbs[0]![0] = Infinity; }},
    {what: 'probabilities as refLogProbs', expect: "'refLogProbs' expected log-probabilities",
      make: (x) => { x.refLogProbs[2]![7] = 0.5; }},
    {what: 'mask value 2', expect: "'mask' expected values in {0, 1}", make: (x) => { x.mask[1]![1] = 2; }},
    {what: 'NaN advantage', expect: "'advantages' expected finite values", make: (x) => { x.advantages[1] = NaN; }},
    {what: 'NaN logProbs on a masked token', expect: null, make: (x) => { x.logProbs[0]![9] = NaN; }},
    {what: 'clean inputs', expect: null, make: () => undefined},
  ];
  for (const c of cases) {
    const grid = (s: number) => [0, 1, 2].map((b) => Array.from({length: 10}, (_, t) => -0.1 - ((b * 10 + t) * s % 29) / 10));
    const a: Arrays = {logProbs: grid(7), oldLogProbs: grid(11), refLogProbs: grid(13), advantages: [1, -1, 0.5],
      mask: [[1, 1, 1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]]};
    c.make(a);
    const x = {logProbs: tf.tensor2d(a.logProbs), oldLogProbs: tf.tensor2d(a.oldLogProbs),
      refLogProbs: tf.tensor2d(a.refLogProbs), advantages: tf.tensor1d(a.advantages), mask: tf.tensor2d(a.mask)};
    let message: string | null = null;
    try {
      const loss = d.runFusedGrpoLoss(x as unknown as GrpoLossInputs, d.resolveGrpoLossOptions({beta: 0.04}),
          {fn: 'grpoLoss', checkValues: true, withStats: false})!.loss;
      const value = (await loss.data())[0]!;
      loss.dispose();
      await d.settleWebGPUValueChecks();
      if (c.expect !== null && !Number.isNaN(value)) message = `loss ${value}, expected NaN`;
    } catch (e) {
      message = (e as Error).message;
    }
    const ok = c.expect === null ? message === null : message !== null && message.includes(c.expect);
    count++;
    if (!ok) failures++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} value check, ${c.what}: ${message ?? 'no error'}`);
    tf.dispose(Object.values(x));
  }
  d.configureValidation(previous);
  return {failures, count};
}

/** Runs the extra checks; returns failures, worst relative error and the number of comparisons. */
export async function extraChecks(d: Deps): Promise<{failures: number; worst: number; count: number}> {
  const tis = await tisChecks(d);
  const vc = d.legacy === true ? {failures: 0, count: 0} : await valueCheckChecks(d);
  const lp = await logProbChecks(d.quick);
  const g = await gaeChecks();
  return {failures: tis.failures + vc.failures + lp.failures + g.failures, worst: Math.max(tis.worst, lp.worst, g.worst),
    count: tis.count + vc.count + lp.count + g.count};
}

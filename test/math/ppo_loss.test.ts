import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {aggregateLoss, type LossAggregation} from '../../src/math/aggregate_loss.js';
import {configureValidation} from '../../src/math/assert.js';
import {clippedPolicyLoss} from '../../src/math/clipped_policy_loss.js';
import {entropyFromLogits} from '../../src/math/entropy_from_logits.js';
import {gae} from '../../src/math/gae.js';
import {klPenalty} from '../../src/math/kl_penalty.js';
import {klShapedRewards} from '../../src/math/kl_reward_shaping.js';
import {ppoLoss, type PpoLossInputs, type PpoLossOptions, type PpoLossStats} from '../../src/math/ppo_loss.js';
import {valueLoss} from '../../src/math/value_loss.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

type Grid = number[][];
interface Case {
  logProbs: Grid; oldLogProbs: Grid; advantages: Grid; values: Grid; oldValues: Grid; returns: Grid;
  entropy: Grid; refLogProbs: Grid; mask: Grid;
}

function tensors(c: Case): PpoLossInputs {
  const t = (g: Grid) => tf.tensor2d(g);
  return {
    logProbs: t(c.logProbs), oldLogProbs: t(c.oldLogProbs), advantages: t(c.advantages), values: t(c.values),
    oldValues: t(c.oldValues), returns: t(c.returns), entropy: t(c.entropy), refLogProbs: t(c.refLogProbs), mask: t(c.mask),
  };
}

function disposeInputs(i: PpoLossInputs) {
  tf.dispose(Object.values(i) as tf.Tensor[]);
}

function read(c: Case, options: PpoLossOptions): {loss: number; stats: Record<string, number>} {
  const inputs = tensors(c);
  const {loss, stats} = ppoLoss(inputs, options);
  const out = {loss: loss.dataSync()[0]!, stats: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, (v as tf.Scalar).dataSync()[0]!]))};
  tf.dispose([loss, ...Object.values(stats) as tf.Tensor[]]);
  disposeInputs(inputs);
  return out;
}

const AGGREGATIONS: LossAggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];

const caseArb: fc.Arbitrary<Case> = fc.integer({min: 1, max: 3}).chain((batch) => fc.integer({min: 1, max: 5}).chain((time) => {
  const grid = (a: fc.Arbitrary<number>) => fc.array(fc.array(a, {minLength: time, maxLength: time}), {minLength: batch, maxLength: batch});
  const lp = fc.double({min: -3, max: -0.01, noNaN: true});
  const num = fc.double({min: -2, max: 2, noNaN: true});
  return fc.record({
    logProbs: grid(lp), oldLogProbs: grid(lp), advantages: grid(num), values: grid(num), oldValues: grid(num),
    returns: grid(num), entropy: grid(fc.double({min: 0, max: 3, noNaN: true})), refLogProbs: grid(lp),
    mask: grid(fc.constantFrom(0, 1)),
  });
}));

const optionsArb: fc.Arbitrary<PpoLossOptions> = fc.record({
  clipLow: fc.double({min: 0.05, max: 0.4, noNaN: true}),
  valueClip: fc.double({min: 0.05, max: 1, noNaN: true}),
  valueCoef: fc.double({min: 0, max: 1, noNaN: true}),
  entropyCoef: fc.double({min: 0, max: 0.1, noNaN: true}),
  klCoef: fc.double({min: 0, max: 0.5, noNaN: true}),
  aggregation: fc.constantFrom(...AGGREGATIONS),
});

const HAND: Case = {
  logProbs: [[-1, -0.5, 0]], oldLogProbs: [[-1, -1, 0]], advantages: [[1, 1, 0]], values: [[0.5, 0.5, 0]],
  oldValues: [[0.5, 0.5, 0]], returns: [[1, 1, 0]], entropy: [[0.3, 0.5, 9]], refLogProbs: [[-1.5, -0.5, 0]],
  mask: [[1, 1, 0]],
};

describe('ppoLoss', () => {
  it('hand-computed values', () => {
    // ratios r = exp(lp - old) = [1, e^0.5 = 1.6487]; A = [1, 1]; clip 0.2:
    //   token 1: -1 * 1 = -1;  token 2: r > 1.2 and A > 0 -> clipped: -1.2 * 1 = -1.2  -> policy = -1.1
    // value: 0.5 * (0.5 - 1)^2 = 0.125 per token -> 0.125
    // entropy (padding 9 ignored): (0.3 + 0.5) / 2 = 0.4
    // KL k3 to ref, d = lp - ref = [0.5, 0]: exp(-0.5) + 0.5 - 1 = 0.106531 and 0 -> 0.0532653
    // approxKl: d = lp - old = [0, 0.5]: (e^0.5 - 1) - 0.5 = 0.148721 -> mean 0.0743606
    // loss = -1.1 + 0.5 * 0.125 - 0.1 * 0.4 + 0.2 * 0.0532653 = -1.0668469
    const {loss, stats} = read(HAND, {entropyCoef: 0.1, klCoef: 0.2});
    expect(loss).toBeCloseTo(-1.0668469, 5);
    expect(stats.policyLoss).toBeCloseTo(-1.1, 5);
    expect(stats.valueLoss).toBeCloseTo(0.125, 6);
    expect(stats.entropy).toBeCloseTo(0.4, 6);
    expect(stats.kl).toBeCloseTo(0.0532653, 5);
    expect(stats.approxKl).toBeCloseTo(0.0743606, 5);
    expect(stats.clipFraction).toBeCloseTo(0.5, 6);
    expect(stats.clipFracHigh).toBeCloseTo(0.5, 6);
    expect(stats.clipFracLow).toBe(0);
    expect(stats.clipFracDual).toBe(0);
    expect(stats.valueClipFraction).toBe(0);
    // Defaults only (no entropy bonus, no KL term): -1.1 + 0.5 * 0.125 = -1.0375, the TSDoc example.
    expect(read(HAND, {}).loss).toBeCloseTo(-1.0375, 5);
  });

  it('hand-computed value clip fraction', () => {
    // V = 2 from V_old = 1, R = 3, valueClip 0.5 -> clipped error wins on token 1 only:
    //   token 1: 0.5 * max(1, 2.25) = 1.125 (clipped); token 2: V = 0.5 = V_old, 0.5 * 0.25 = 0.125
    const c = {...HAND, values: [[2, 0.5, 0]], oldValues: [[1, 0.5, 0]], returns: [[3, 1, 0]]};
    const {stats} = read(c, {valueClip: 0.5});
    expect(stats.valueLoss).toBeCloseTo((1.125 + 0.125) / 2, 5);
    expect(stats.valueClipFraction).toBeCloseTo(0.5, 6);
  });

  it('property: loss = policyLoss + valueCoef valueLoss - entropyCoef entropy + klCoef kl, and the terms equal ' +
      'the public clippedPolicyLoss / valueLoss / klPenalty reduced by aggregateLoss', () => {
    fc.assert(fc.property(caseArb, optionsArb, (c, options) => {
      const {loss, stats} = read(c, options);
      const expected = stats.policyLoss! + options.valueCoef! * stats.valueLoss! - options.entropyCoef! * stats.entropy! +
        options.klCoef! * stats.kl!;
      expect(loss).toBeCloseTo(expected, 4);
      const i = tensors(c);
      const agg = options.aggregation!;
      const [pol, val, kl, ent] = tf.tidy(() => [
        aggregateLoss(clippedPolicyLoss({logProbs: i.logProbs, oldLogProbs: i.oldLogProbs, advantages: i.advantages, mask: i.mask},
            {clipLow: options.clipLow!}), i.mask, agg),
        valueLoss({values: i.values, oldValues: i.oldValues, returns: i.returns, mask: i.mask}, {clip: options.valueClip!, aggregation: agg}),
        aggregateLoss(klPenalty(i.logProbs, i.refLogProbs!, {estimator: 'k3'}), i.mask, agg),
        aggregateLoss(i.entropy!, i.mask, agg),
      ]) as tf.Scalar[];
      expect(stats.policyLoss).toBeCloseTo(pol!.dataSync()[0]!, 4);
      expect(stats.valueLoss).toBeCloseTo(val!.dataSync()[0]!, 4);
      expect(stats.kl).toBeCloseTo(kl!.dataSync()[0]!, 4);
      expect(stats.entropy).toBeCloseTo(ent!.dataSync()[0]!, 4);
      for (const k of ['clipFraction', 'clipFracLow', 'clipFracHigh', 'clipFracDual', 'valueClipFraction']) {
        expect(stats[k]).toBeGreaterThanOrEqual(0);
        expect(stats[k]).toBeLessThanOrEqual(1);
      }
      expect(stats.clipFraction).toBeCloseTo(stats.clipFracLow! + stats.clipFracHigh!, 5);
      expect(stats.approxKl).toBeGreaterThanOrEqual(-1e-6);
      tf.dispose([pol!, val!, kl!, ent!]);
      disposeInputs(i);
    }), {numRuns: 30});
  });

  it('property: ratios inside the clip range -> clip fractions 0; identical policies -> approxKl 0', () => {
    fc.assert(fc.property(caseArb, (c) => {
      const same = read({...c, oldLogProbs: c.logProbs, oldValues: c.values}, {valueClip: 0.3});
      expect(same.stats.approxKl).toBeCloseTo(0, 6);
      expect(same.stats.clipFraction).toBe(0);
      expect(same.stats.valueClipFraction).toBe(0);
      // Within 0.1 in log space: r in [0.905, 1.105], inside [0.8, 1.2] (log-probs kept <= 0).
      const near = read({...c, oldLogProbs: c.logProbs.map((row) => row.map((x, t) => Math.min(0, x + 0.1 * Math.sin(t + x))))}, {});
      expect(near.stats.clipFraction).toBe(0);
      expect(near.stats.approxKl).toBeGreaterThanOrEqual(0);
    }), {numRuns: 20});
  });

  it('property: masked tokens have no effect (even NaN/Inf) and get exactly zero gradient', () => {
    const junk = fc.constantFrom(NaN, Infinity, -Infinity, 1e6, -7);
    fc.assert(fc.property(caseArb, optionsArb, junk, (c, opts, z) => {
      // entropyCoef > 0 so that `entropy` is on the loss path (tf.grads rejects an unconnected input).
      const options = {...opts, entropyCoef: Math.max(opts.entropyCoef!, 0.01)};
      const base = read(c, options);
      const noisy = (g: Grid) => g.map((row, b) => row.map((x, t) => (c.mask[b]![t] ? x : z)));
      const dirty: Case = {
        ...c, logProbs: noisy(c.logProbs), oldLogProbs: noisy(c.oldLogProbs), advantages: noisy(c.advantages),
        values: noisy(c.values), oldValues: noisy(c.oldValues), returns: noisy(c.returns), entropy: noisy(c.entropy),
        refLogProbs: noisy(c.refLogProbs),
      };
      const other = read(dirty, options);
      expect(other.loss).toBeCloseTo(base.loss, 4);
      for (const k of Object.keys(base.stats)) expect(other.stats[k]).toBeCloseTo(base.stats[k]!, 4);
      const i = tensors(dirty);
      const grads = tf.grads((lp: tf.Tensor, v: tf.Tensor, h: tf.Tensor) => ppoLoss(
          {...i, logProbs: lp as tf.Tensor2D, values: v as tf.Tensor2D, entropy: h as tf.Tensor2D}, options).loss)(
          [i.logProbs, i.values, i.entropy!]);
      for (const g of grads) {
        const d = g.arraySync() as Grid;
        c.mask.forEach((row, b) => row.forEach((on, t) => {
          if (!on) expect(d[b]![t]).toBe(0);
          else expect(Number.isFinite(d[b]![t]!)).toBe(true);
        }));
      }
      tf.dispose(grads);
      disposeInputs(i);
    }), {numRuns: 20});
  });

  it('gradients match central finite differences (h 1e-3, rtol 1e-2) for logProbs, values and entropy', () => {
    // Ratios chosen away from the clip edges (0.8, 1.2) and the value clip edges.
    const c: Case = {
      logProbs: [[-1.0, -0.7, -2.0], [-0.4, -1.5, -0.9]],
      oldLogProbs: [[-1.1, -1.2, -1.9], [-0.45, -1.0, -0.9]],
      advantages: [[0.8, 1.5, -0.6], [-1.2, -0.7, 0.4]],
      values: [[0.3, -0.2, 0.9], [1.4, 0.1, -0.6]],
      oldValues: [[0.2, 0.6, 0.85], [0.7, 0.0, -0.5]],
      returns: [[1.0, 0.5, 0.1], [2.0, -0.3, 0.2]],
      entropy: [[1.1, 0.4, 2.0], [0.9, 1.7, 0.2]],
      refLogProbs: [[-1.2, -0.6, -1.7], [-0.5, -1.4, -1.0]],
      mask: [[1, 1, 1], [1, 1, 0]],
    };
    for (const aggregation of AGGREGATIONS) {
      const options: PpoLossOptions = {valueClip: 0.3, valueCoef: 0.7, entropyCoef: 0.05, klCoef: 0.3, aggregation};
      const i = tensors(c);
      const f = (lp: tf.Tensor, v: tf.Tensor, h: tf.Tensor) => ppoLoss(
          {...i, logProbs: lp as tf.Tensor2D, values: v as tf.Tensor2D, entropy: h as tf.Tensor2D}, options).loss;
      const grads = tf.grads(f)([i.logProbs, i.values, i.entropy!]).map((g) => g.arraySync() as Grid);
      const grids = [c.logProbs, c.values, c.entropy];
      const step = 1e-3;
      grids.forEach((grid, which) => {
        const fd = gridCentralDifferences((shifted) => tf.tidy(() => {
          const args = grids.map((g, k) => tf.tensor2d(k === which ? shifted : g));
          return f(args[0]!, args[1]!, args[2]!).dataSync()[0]!;
        }), grid, step);
        expectGradientClose(grads[which]!, fd, {rtol: 1e-2, floor: 5e-2, inclusive: true}, `${aggregation} input ${which}`);
      });
      const nonZero = grads.flat(2).filter((g) => g !== 0).length;
      // Clipped tokens: row 0 t 1 has r = e^0.5 > 1.2 with A > 0 -> zero policy gradient; with the KL term it
      // still has the KL gradient, so check the policy-only loss there.
      const pOnly = tf.grad((lp: tf.Tensor) => ppoLoss({...i, logProbs: lp as tf.Tensor2D}, {aggregation}).loss)(i.logProbs);
      expect((pOnly.arraySync() as Grid)[0]![1]).toBe(0);
      // Value clip active on row 0 t 1 (V = -0.2 from 0.6, R = 0.5: clipped 0.3 -> error 0.04 vs 0.49: plain wins)
      // and row 1 t 0 (V = 1.4 from 0.7, R = 2: clip to 1.0 -> error 1.0 > 0.36: clipped wins -> zero gradient).
      expect(grads[1]![1]![0]).toBe(0);
      expect(nonZero).toBeGreaterThan(10);
      tf.dispose(pOnly);
      disposeInputs(i);
    }
  });

  it('does not leak tensors and does not dispose its inputs', () => {
    const i = tensors(HAND);
    const before = tf.memory().numTensors;
    const {loss, stats} = ppoLoss(i, {entropyCoef: 0.01, klCoef: 0.1, valueClip: 0.2});
    const kept = 1 + Object.keys(stats).length;
    expect(Object.keys(stats).sort()).toEqual(['approxKl', 'clipFracDual', 'clipFracHigh', 'clipFracLow', 'clipFraction',
      'entropy', 'kl', 'policyLoss', 'valueClipFraction', 'valueLoss']);
    expect(tf.memory().numTensors).toBe(before + kept);
    tf.dispose([loss, ...Object.values(stats) as tf.Tensor[]]);
    expect(tf.memory().numTensors).toBe(before);
    // Without entropy / refLogProbs the optional stats are absent.
    const {entropy: _e, refLogProbs: _r, ...rest} = i;
    const out = ppoLoss(rest);
    expect(out.stats.entropy).toBeUndefined();
    expect(out.stats.kl).toBeUndefined();
    tf.dispose([out.loss, ...Object.values(out.stats) as tf.Tensor[]]);
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.values(i).some((t) => (t as tf.Tensor).isDisposed)).toBe(false);
    disposeInputs(i);
  });

  it('one PPO update with gae + klShapedRewards + entropyFromLogits, stats kept with tf.keep through variableGrads', () => {
    // A 1-layer "policy" (logits variable) and a value variable; a reward of +1 for token 0 at the last position.
    const vocab = 4;
    const logits = tf.variable(tf.zeros([2, 3, vocab]));
    const valueVar = tf.variable(tf.zeros([2, 3]));
    const actions = tf.tensor2d([[0, 1, 0], [2, 0, 3]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    const logProbsOf = () => tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(actions, vocab)), 2) as tf.Tensor2D;
    const oldLogProbs = logProbsOf();
    const refLogProbs = tf.clone(oldLogProbs);
    const oldValues = tf.clone(valueVar) as tf.Tensor2D;
    const kl = tf.sub(oldLogProbs, refLogProbs) as tf.Tensor2D;
    const rewards = klShapedRewards({scores: tf.tensor1d([1, 0]), kl, mask}, {klCoef: 0.05});
    const {advantages, returns} = gae({rewards, values: oldValues, mask}, {gamma: 1, lambda: 0.95});
    const optimizer = tf.train.adam(0.1);
    let stats: PpoLossStats | undefined;
    const before = tf.memory().numTensors;
    const step = () => {
      const {value, grads} = tf.variableGrads(() => {
        const out = ppoLoss({
          logProbs: logProbsOf(), oldLogProbs, advantages, values: valueVar as tf.Tensor2D, oldValues, returns, mask,
          entropy: entropyFromLogits(logits as tf.Tensor3D),
        }, {valueClip: 0.2, entropyCoef: 0.01});
        stats = Object.fromEntries(Object.entries(out.stats).map(([k, t]) => [k, tf.keep(t as tf.Tensor)])) as never;
        return out.loss;
      });
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({name, tensor})));
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const first = {v: stats!.valueLoss.dataSync()[0]!, p: stats!.policyLoss.dataSync()[0]!};
    expect(first.v).toBeGreaterThan(0);
    expect(stats!.approxKl.dataSync()[0]).toBeCloseTo(0, 6); // first epoch: pi = pi_old
    tf.dispose(Object.values(stats!) as tf.Tensor[]);
    for (let k = 0; k < 5; k++) {
      step();
      tf.dispose(Object.values(stats!) as tf.Tensor[]);
    }
    step();
    // The critic moved toward the returns (value clip bounds each step at 0.2 from V_old, so not all the way).
    expect(stats!.valueLoss.dataSync()[0]!).toBeLessThan(first.v);
    expect(stats!.approxKl.dataSync()[0]!).toBeGreaterThan(0);
    expect(stats!.clipFraction.dataSync()[0]!).toBeGreaterThan(0);
    tf.dispose(Object.values(stats!) as tf.Tensor[]);
    // Only the optimizer's slots were added: 2 variables x (m, v) for Adam + its 2 step scalars (beta powers).
    const slots = tf.memory().numTensors - before;
    expect(slots).toBeLessThanOrEqual(6);
    optimizer.dispose();
    tf.dispose([logits, valueVar, actions, mask, oldLogProbs, refLogProbs, oldValues, kl, rewards, advantages, returns]);
  });

  it('throws named errors on bad input', () => {
    const i = tensors(HAND);
    const bad = tf.zeros([1, 4]) as tf.Tensor2D;
    const {entropy: _e, refLogProbs: _r, ...noOptional} = i;
    expect(() => ppoLoss({...i, values: bad})).toThrow("ppoLoss: 'values' expected the shape of 'logProbs' [1,3], got [1,4]");
    expect(() => ppoLoss({...i, returns: bad})).toThrow("ppoLoss: 'returns' expected the shape of 'values' [1,3], got [1,4]");
    expect(() => ppoLoss({...i, entropy: bad})).toThrow("ppoLoss: 'entropy' expected the shape of 'logProbs' [1,3], got [1,4]");
    expect(() => ppoLoss({...i, oldLogProbs: bad})).toThrow("ppoLoss: 'oldLogProbs' expected the shape of 'logProbs' [1,3], got [1,4]");
    expect(() => ppoLoss({...i, oldLogProbs: undefined as never})).toThrow("ppoLoss: 'oldLogProbs'");
    expect(() => ppoLoss(noOptional, {entropyCoef: 0.01})).toThrow("ppoLoss: 'entropy' is required when entropyCoef > 0");
    expect(() => ppoLoss(noOptional, {klCoef: 0.1})).toThrow("ppoLoss: 'refLogProbs' is required when klCoef > 0");
    expect(() => ppoLoss({...i, oldValues: undefined}, {valueClip: 0.2})).toThrow("ppoLoss: 'oldValues' expected a [batch, time] tensor when 'valueClip' is set");
    expect(() => ppoLoss(i, {valueClip: -1})).toThrow("ppoLoss: 'valueClip' expected > 0, got -1");
    expect(() => ppoLoss(i, {valueCoef: -1})).toThrow("ppoLoss: 'valueCoef' expected >= 0, got -1");
    expect(() => ppoLoss(i, {vfCoef: 0.5} as never)).toThrow("ppoLoss: unknown option 'vfCoef'");
    expect(() => ppoLoss(i, {aggregation: 'sum' as never})).toThrow("ppoLoss: 'aggregation' expected one of");
    expect(() => ppoLoss(i, {klEstimator: 'k4' as never})).toThrow("ppoLoss: 'klEstimator' expected one of");
    const half = tf.fill([1, 3], 0.5) as tf.Tensor2D;
    expect(() => ppoLoss({...i, mask: half})).toThrow("ppoLoss: 'mask' expected values in {0, 1}, got 0.5");
    const nan = tf.tensor2d([[NaN, 0, 0]]);
    expect(() => ppoLoss({...i, returns: nan})).toThrow("ppoLoss: 'returns' expected finite values, got NaN at flat index 0");
    expect(() => ppoLoss({...i, values: nan})).toThrow("ppoLoss: 'values' expected finite values, got NaN at flat index 0");
    tf.dispose([bad, half, nan]);
    disposeInputs(i);
  });

  it('rejects NaN / +-Infinity log-probs and entropy on unmasked tokens (padding may hold anything)', () => {
    const i = tensors(HAND); // mask [[1, 1, 0]]
    const at = (v: number, t: number) => tf.tensor2d([[-1, -1, 0].map((x, k) => (k === t ? v : x))]);
    const nan0 = at(NaN, 0);
    const inf1 = at(Infinity, 1);
    const negInf1 = at(-Infinity, 1);
    const before = tf.memory().numTensors;
    const where = (k: number) => `at [0, ${k}] (flat index ${k}, shape [1,3])`;
    expect(() => ppoLoss({...i, logProbs: nan0}))
        .toThrow(`ppoLoss: 'logProbs' expected finite values on unmasked tokens, got NaN ${where(0)}`);
    expect(() => ppoLoss({...i, oldLogProbs: inf1}))
        .toThrow(`ppoLoss: 'oldLogProbs' expected finite values on unmasked tokens, got Infinity ${where(1)}`);
    expect(() => ppoLoss({...i, entropy: nan0}))
        .toThrow(`ppoLoss: 'entropy' expected finite values on unmasked tokens, got NaN ${where(0)}`);
    expect(() => ppoLoss({...i, refLogProbs: negInf1}))
        .toThrow(`ppoLoss: 'refLogProbs' expected finite values on unmasked tokens, got -Infinity ${where(1)}`);
    // Probabilities passed for log-probabilities (as clippedPolicyLoss and grpoLoss report it).
    const prob = tf.tensor2d([[0.5, -1, 0]]);
    expect(() => ppoLoss({...i, refLogProbs: prob})).toThrow(
        `ppoLoss: 'refLogProbs' expected log-probabilities (<= 0.0001) on unmasked tokens, got 0.5 ${where(0)}: ` +
        'were probabilities passed instead of log-probabilities?');
    // Entropy is not a log-prob: positive values are fine.
    const {loss: l0, stats: s0} = ppoLoss({...i, entropy: tf.keep(tf.tensor2d([[2, 3, 0]]))}, {entropyCoef: 0.1});
    expect(Number.isFinite(l0.dataSync()[0]!)).toBe(true);
    tf.dispose([l0, ...Object.values(s0) as tf.Tensor[]]);
    // Inside a gradient: the error reaches the caller, nothing leaks.
    expect(() => tf.grad((lp: tf.Tensor) => ppoLoss({...i, logProbs: lp as tf.Tensor2D, oldLogProbs: inf1}).loss)(i.logProbs))
        .toThrow("ppoLoss: 'oldLogProbs' expected finite values on unmasked tokens, got Infinity");
    // NaN on the padded token is ignored.
    for (const name of ['logProbs', 'oldLogProbs', 'entropy', 'refLogProbs'] as const) {
      const padNaN = tf.tensor2d([[HAND[name][0]![0]!, HAND[name][0]![1]!, NaN]]);
      const {loss, stats} = ppoLoss({...i, [name]: padNaN}, {entropyCoef: 0.1, klCoef: 0.2});
      expect(loss.dataSync()[0]).toBeCloseTo(-1.0668469, 5);
      tf.dispose([padNaN, loss, ...Object.values(stats) as tf.Tensor[]]);
    }
    tf.dispose(prob);
    expect(tf.memory().numTensors).toBe(before + 1); // the kept entropy
    // Skipped when value checks are off.
    const previous = configureValidation({valueChecks: false});
    try {
      const {loss, stats} = ppoLoss({...i, logProbs: nan0}); // no error (wasm's max/min may drop the NaN)
      tf.dispose([loss, ...Object.values(stats) as tf.Tensor[]]);
    } finally {
      configureValidation(previous);
    }
    tf.dispose([nan0, inf1, negInf1]);
    disposeInputs(i);
  });
});

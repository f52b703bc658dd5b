import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {expectSameNumbers} from '../helpers/expect_same_numbers.js';
import {aggregateLoss, LOSS_AGGREGATIONS, type LossAggregation} from '../../src/math/aggregate_loss.js';
import {clippedPolicyLoss, type RatioLevel} from '../../src/math/clipped_policy_loss.js';
import {
  type GrpoLossInputs, type GrpoLossOptions, grpoLoss, grpoLossComposed, grpoLossWithStats, resolveGrpoLossOptions,
} from '../../src/math/grpo_loss.js';
import {klPenalty} from '../../src/math/kl_penalty.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';


interface Data {lp: number[][]; old?: number[][]; ref?: number[][]; adv: number[] | number[][]; mask: number[][]}

function toInputs(d: Data): GrpoLossInputs {
  const inputs: GrpoLossInputs = {
    logProbs: tf.tensor2d(d.lp),
    advantages: Array.isArray(d.adv[0]) ? tf.tensor2d(d.adv as number[][]) : tf.tensor1d(d.adv as number[]),
    mask: tf.tensor2d(d.mask),
  };
  if (d.old) inputs.oldLogProbs = tf.tensor2d(d.old);
  if (d.ref) inputs.refLogProbs = tf.tensor2d(d.ref);
  return inputs;
}

function disposeInputs(i: GrpoLossInputs): void {
  tf.dispose([i.logProbs, i.advantages, i.mask, ...(i.oldLogProbs ? [i.oldLogProbs] : []), ...(i.refLogProbs ? [i.refLogProbs] : [])]);
}

/** Loss value and d loss / d logProbs (with -0 turned into 0). */
function run(d: Data, options?: GrpoLossOptions): {loss: number; grad: number[][]} {
  const inputs = toInputs(d);
  const loss = grpoLoss(inputs, options);
  const g = tf.grad((x: tf.Tensor) => grpoLoss({...inputs, logProbs: x}, options))(inputs.logProbs);
  const res = {loss: loss.dataSync()[0]!, grad: (g.arraySync() as number[][]).map((r) => r.map((v) => v + 0))};
  tf.dispose([loss, g]);
  disposeInputs(inputs);
  return res;
}

const ln = Math.log;

// Log-ratios d = lp - old chosen away from the clip kinks (ln 0.8 = -0.223, ln 1.2 = 0.182) for tokens
// and for the sequence means: row 0 mean 0.15, row 1 mean -0.16, row 2 mean 0.425 (clipped with A > 0).
// Token level: 0.5 with A = 1.2 and -0.6 with A = -0.8 are clipped, row 2 is clipped throughout.
const D = [[0.05, 0.5, -0.1, 0], [-0.6, 0.1, 0, 0.02], [0.4, 0.45, 0.35, 0.5]];
// (shifted by -1 so that every log-prob stays below 0: larger ones are flagged as probabilities)
const OLD = [[-2.0, -2.3, -1.7, -3.0], [-1.4, -2.1, -1.9, -2.6], [-1.5, -1.8, -2.2, -1.3]];
const MASK = [[1, 1, 1, 0], [1, 1, 0, 1], [1, 1, 1, 1]];
const LP = OLD.map((row, b) => row.map((o, t) => o + D[b]![t]!));
const REF = LP.map((row, b) => row.map((x, t) => x - 0.3 + 0.2 * Math.sin(3 * b + t)));
const ADV = [1.2, -0.8, 0.6];

function finiteDifference(d: Data, options: GrpoLossOptions, h = 1e-3): number[][] {
  return gridCentralDifferences((lp) => run({...d, lp}, options).loss, d.lp, h);
}

function expectGradClose(grad: number[][], fd: number[][], label: string): void {
  expectGradientClose(grad, fd, {rtol: 1e-2, atol: 1e-3}, label);
}

describe('grpoLoss', () => {
  it('hand-computed: default options (beta 0, old = stop-gradient(logProbs), token-mean)', () => {
    // Ratio 1 everywhere, so the loss is token-mean of -A: (-1 - 1 + 1) / 3 = -1/3.
    // Gradient: d/dlp of -r A / N with r = exp(lp - sg(lp)) -> -A / N = [[-1/3, -1/3], [1/3, 0]].
    const {loss, grad} = run({lp: [[-1, -2], [-0.5, NaN]], adv: [1, -1], mask: [[1, 1], [1, 0]]});
    expect(loss).toBeCloseTo(-1 / 3, 6);
    [[-1 / 3, -1 / 3], [1 / 3, 0]].forEach((row, b) => row.forEach((v, t) => expect(grad[b]![t]).toBeCloseTo(v, 6)));
  });

  it('hand-computed: clipped loss + beta * k3, every aggregation', () => {
    // One row, tokens: r = [1.5, 1.1], A = 1, eps 0.2 -> policy loss [-1.2, -1.1];
    // ref so that d = lp - ref = [ln 2, 0]: k3 = [0.5 + ln 2 - 1, 0] = [0.193147, 0]; beta 0.1.
    // per-token = [-1.2 + 0.0193147, -1.1] = [-1.1806853, -1.1]; third token padding.
    // token-mean = seq-mean-token-mean = -2.2806853 / 2 = -1.14034265; seq-mean-token-sum = -2.2806853;
    // seq-mean-token-sum-norm (maxLength = time = 3) = -0.76022843; (maxLength 10) = -0.22806853.
    const d: Data = {
      lp: [[ln(1.5) - 1, ln(1.1) - 1, 5]], old: [[-1, -1, 0]], ref: [[ln(1.5) - 1 - ln(2), ln(1.1) - 1, 0]], adv: [1],
      mask: [[1, 1, 0]],
    };
    const want: Record<LossAggregation, number> = {
      'token-mean': -1.14034265, 'seq-mean-token-mean': -1.14034265, 'seq-mean-token-sum': -2.2806853,
      'seq-mean-token-sum-norm': -0.76022843,
    };
    for (const aggregation of LOSS_AGGREGATIONS) {
      expect(run(d, {beta: 0.1, aggregation}).loss, aggregation).toBeCloseTo(want[aggregation], 5);
    }
    expect(run(d, {beta: 0.1, aggregation: 'seq-mean-token-sum-norm', maxLength: 10}).loss).toBeCloseTo(-0.22806853, 5);
    // Other estimators on the same data: k1 = [ln 2, 0] -> (-1.2 + 0.0693147 - 1.1)/2 = -1.11534265
    expect(run(d, {beta: 0.1, klEstimator: 'k1'}).loss).toBeCloseTo(-1.11534265, 5);
  });

  it('hand-computed: DAPO clip-higher, dual-clip and normalizer through grpoLoss', () => {
    // r = [1.5, 4], A = [2, -1] per token: clipHigh 0.28 -> -2.56; r = 4 with dual 3 -> 3. Sum 0.44.
    // token-mean over 2 tokens = 0.22; normalizer 8 -> 0.055.
    const d: Data = {lp: [[ln(1.5) - 2, ln(4) - 2]], old: [[-2, -2]], adv: [[2, -1]], mask: [[1, 1]]};
    expect(run(d, {clipHigh: 0.28, dualClip: 3}).loss).toBeCloseTo(0.22, 5);
    expect(run(d, {clipHigh: 0.28, dualClip: 3, normalizer: 8}).loss).toBeCloseTo(0.055, 5);
    expect(run(d, {clipHigh: 0.28}).loss).toBeCloseTo((-2.56 + 4) / 2, 5);
  });

  describe('gradients match central finite differences (h = 1e-3)', () => {
    const cases: Array<{aggregation: LossAggregation; ratioLevel: RatioLevel; beta: number}> = [];
    for (const aggregation of LOSS_AGGREGATIONS) {
      for (const ratioLevel of ['token', 'sequence'] as const) for (const beta of [0, 0.1]) cases.push({aggregation, ratioLevel, beta});
    }
    it.each(cases)('$aggregation, ratioLevel $ratioLevel, beta $beta', ({aggregation, ratioLevel, beta}) => {
      const d: Data = {lp: LP, old: OLD, ref: REF, adv: ADV, mask: MASK};
      const options: GrpoLossOptions = {aggregation, ratioLevel, beta, klEstimator: 'k3'};
      const {grad} = run(d, options);
      expectGradClose(grad, finiteDifference(d, options), JSON.stringify(options));
      // Some tokens are clipped (zero policy gradient) and some are not: the check exercises both.
      if (beta === 0) expect(grad[2]).toEqual([0, 0, 0, 0]);
      expect(grad[0]![3]).toBe(0);
      expect(grad[1]![2]).toBe(0);
    });

    it('default oldLogProbs: the gradient is that of the loss with old held fixed at logProbs', () => {
      for (const ratioLevel of ['token', 'sequence'] as const) {
        const options: GrpoLossOptions = {ratioLevel, beta: 0.1, aggregation: 'seq-mean-token-mean'};
        const {grad, loss} = run({lp: LP, ref: REF, adv: ADV, mask: MASK}, options);
        const fixedOld: Data = {lp: LP, old: LP, ref: REF, adv: ADV, mask: MASK};
        expect(loss).toBeCloseTo(run(fixedOld, options).loss, 6);
        expectGradClose(grad, finiteDifference(fixedOld, options), `default old, ${ratioLevel}`);
      }
    });

    it('other KL estimators and dual-clip', () => {
      for (const options of [{beta: 0.2, klEstimator: 'k1'}, {beta: 0.2, klEstimator: 'k2'}, {beta: 0.2, klEstimator: 'abs'},
        {dualClip: 1.5, clipLow: 0.1}] as GrpoLossOptions[]) {
        // dual-clip at 1.5 bounds nothing here (no A < 0 token above 1.5) except with the per-token advantages below.
        const d: Data = {lp: LP, old: OLD, ref: REF, adv: [[1.2, -0.8, 0.6, 1], [-0.8, 0.3, 1, -2], [0.6, -1.5, 0.6, -0.4]], mask: MASK};
        expectGradClose(run(d, options).grad, finiteDifference(d, options), JSON.stringify(options));
      }
    });
  });

  it('property: equals aggregateLoss(clippedPolicyLoss + beta * klPenalty) for random inputs and options', () => {
    const arb = fc.record({
      // lp - d and lp - r stay <= -0.1 (log-probs above 1e-4 are rejected as probabilities)
      lp: fc.array(fc.array(fc.double({min: -3, max: -0.7, noNaN: true}), {minLength: 3, maxLength: 3}), {minLength: 4, maxLength: 4}),
      d: fc.array(fc.array(fc.double({min: -0.6, max: 0.6, noNaN: true}), {minLength: 3, maxLength: 3}), {minLength: 4, maxLength: 4}),
      r: fc.array(fc.array(fc.double({min: -0.6, max: 0.6, noNaN: true}), {minLength: 3, maxLength: 3}), {minLength: 4, maxLength: 4}),
      adv: fc.array(fc.double({min: -2, max: 2, noNaN: true}), {minLength: 4, maxLength: 4}),
      mask: fc.array(fc.array(fc.constantFrom(0, 1), {minLength: 3, maxLength: 3}), {minLength: 4, maxLength: 4}),
      beta: fc.constantFrom(0, 0.04, 0.5),
      klEstimator: fc.constantFrom('k1' as const, 'k2' as const, 'k3' as const, 'abs' as const),
      aggregation: fc.constantFrom(...LOSS_AGGREGATIONS),
      ratioLevel: fc.constantFrom('token' as const, 'sequence' as const),
      clipLow: fc.double({min: 0, max: 0.5, noNaN: true}),
      clipHigh: fc.double({min: 0, max: 0.5, noNaN: true}),
    });
    fc.assert(fc.property(arb, ({lp, d, r, adv, mask, beta, klEstimator, aggregation, ratioLevel, clipLow, clipHigh}) => {
      const inputs = toInputs({lp, old: lp.map((row, b) => row.map((x, t) => x - d[b]![t]!)),
        ref: lp.map((row, b) => row.map((x, t) => x - r[b]![t]!)), adv, mask});
      const got = grpoLoss(inputs, {beta, klEstimator, aggregation, ratioLevel, clipLow, clipHigh});
      const want = tf.tidy(() => {
        const {logProbs, advantages, mask} = inputs; // (named inputs reject keys of other functions, such as refLogProbs)
        const policy = clippedPolicyLoss({logProbs, oldLogProbs: inputs.oldLogProbs!, advantages, mask}, {clipLow, clipHigh, ratioLevel});
        const kl = klPenalty(inputs.logProbs, inputs.refLogProbs!, {estimator: klEstimator});
        return aggregateLoss(tf.add(policy, tf.mul(beta, kl)), inputs.mask, aggregation);
      });
      expect(got.dataSync()[0]).toBeCloseTo(want.dataSync()[0]!, 5);
      tf.dispose([got, want]);
      disposeInputs(inputs);
    }), {numRuns: 40});
  });

  it('property: masked tokens never change the loss and get exactly 0 gradient (NaN/Inf in every input)', () => {
    const junk = fc.constantFrom(NaN, Infinity, -Infinity, 1e30);
    const arb = fc.record({
      mask: fc.array(fc.array(fc.constantFrom(0, 1), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      j: fc.array(junk, {minLength: 4, maxLength: 4}),
      aggregation: fc.constantFrom(...LOSS_AGGREGATIONS),
      ratioLevel: fc.constantFrom('token' as const, 'sequence' as const),
    });
    const adv2d = [[1.2, -0.8, 0.6, 1], [-0.8, 0.3, 1, -2], [0.6, -1.5, 0.6, -0.4]];
    fc.assert(fc.property(arb, ({mask, j, aggregation, ratioLevel}) => {
      const options: GrpoLossOptions = {aggregation, ratioLevel, beta: 0.05, dualClip: 2};
      const clean = run({lp: LP, old: OLD, ref: REF, adv: adv2d, mask}, options);
      const dirty = (x: number[][], k: number) => x.map((row, b) => row.map((v, t) => (mask[b]![t] ? v : j[k]!)));
      const noisy = run({lp: dirty(LP, 0), old: dirty(OLD, 1), ref: dirty(REF, 2), adv: dirty(adv2d, 3), mask}, options);
      expectSameNumbers(noisy.loss, clean.loss);
      expectSameNumbers(noisy.grad, clean.grad);
      mask.forEach((row, b) => row.forEach((m, t) => { if (!m) expect(noisy.grad[b]![t]).toBe(0); }));
    }), {numRuns: 25});
  });

  it('property: micro-batches with normalizer sum to the full-batch loss and gradient', () => {
    const arb = fc.record({
      mask: fc.array(fc.array(fc.constantFrom(0, 1), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      cut: fc.constantFrom(1, 2),
      aggregation: fc.constantFrom(...LOSS_AGGREGATIONS),
      ratioLevel: fc.constantFrom('token' as const, 'sequence' as const),
    });
    fc.assert(fc.property(arb, ({mask, cut, aggregation, ratioLevel}) => {
      const tokens = mask.flat().reduce((u: number, v) => u + v, 0);
      const seqs = mask.filter((r) => r.includes(1)).length;
      const normalizer = Math.max(1, aggregation === 'token-mean' ? tokens : seqs);
      const options: GrpoLossOptions = {aggregation, ratioLevel, beta: 0.1};
      const full = run({lp: LP, old: OLD, ref: REF, adv: ADV, mask}, options);
      const part = (lo: number, hi: number) => run({lp: LP.slice(lo, hi), old: OLD.slice(lo, hi), ref: REF.slice(lo, hi),
        adv: ADV.slice(lo, hi), mask: mask.slice(lo, hi)}, {...options, normalizer});
      const [a, b] = [part(0, cut), part(cut, 3)];
      expect(a.loss + b.loss).toBeCloseTo(full.loss, 5);
      [...a.grad, ...b.grad].forEach((row, i) => row.forEach((g, t) => expect(g).toBeCloseTo(full.grad[i]![t]!, 6)));
    }), {numRuns: 20});
  });

  it('grpoLossWithStats: hand-computed clip fractions, ratio range and KL; the loss equals grpoLoss', () => {
    // Tokens (row-major, unmasked): r = [1.5, 0.5, 4, 1.1], A = [1, -1, -1, 1], eps 0.2, dualClip 3.
    //   1.5, A>0: high clip; 0.5, A<0: low clip; 4, A<0: dual bound (4 > 3); 1.1: none.
    //   clipFracLow = clipFracHigh = clipFracDual = 1/4. ratio mean (1.5+0.5+4+1.1)/4 = 1.775, min 0.5, max 4.
    //   Masked tokens (log-ratio 10) are ignored.
    // KL: d = lp - ref = [ln 2, 0, 0, 0] -> k3 = [0.193147, 0, 0, 0], mean 0.04828675.
    // Loss: per-token [-1.2, 0.8, 3, -1.1] sum 1.5, token-mean 0.375; + 0.1 * 0.04828675 = 0.37982868.
    //   (Every log-prob shifted by -5: the ratios are unchanged.)
    const lp = [[ln(1.5) - 5, ln(0.5) - 5, 10], [ln(4) - 5, ln(1.1) - 5, 10]];
    const d: Data = {lp, old: [[-5, -5, 0], [-5, -5, 0]], ref: [[ln(1.5) - ln(2) - 5, ln(0.5) - 5, 0], [ln(4) - 5, ln(1.1) - 5, 0]],
      adv: [[1, -1, 5], [-1, 1, 5]], mask: [[1, 1, 0], [1, 1, 0]]};
    const inputs = toInputs(d);
    const before = tf.memory().numTensors;
    const {loss, stats} = grpoLossWithStats(inputs, {beta: 0.1, dualClip: 3});
    expect(tf.memory().numTensors).toBe(before + 8);
    const v = (t: tf.Tensor | undefined) => t!.dataSync()[0]!;
    expect(v(loss)).toBeCloseTo(0.37982868, 5);
    expect(v(stats.clipFracLow)).toBeCloseTo(0.25, 6);
    expect(v(stats.clipFracHigh)).toBeCloseTo(0.25, 6);
    expect(v(stats.clipFracDual)).toBeCloseTo(0.25, 6);
    expect(v(stats.ratioMean)).toBeCloseTo(1.775, 5);
    expect(v(stats.ratioMin)).toBeCloseTo(0.5, 6);
    expect(v(stats.ratioMax)).toBeCloseTo(4, 5);
    expect(v(stats.kl)).toBeCloseTo(0.04828675, 6);
    const plain = grpoLoss(inputs, {beta: 0.1, dualClip: 3});
    // Same graph; the wasm backend's SIMD reductions may round the last bit differently between runs.
    expect(plain.dataSync()[0]).toBeCloseTo(v(loss), 6);
    tf.dispose([loss, plain, ...Object.values(stats)]);
    expect(tf.memory().numTensors).toBe(before);
    disposeInputs(inputs);
  });

  it('grpoLossWithStats: no refLogProbs -> no kl; no mask tokens -> fractions 0, ratios 1, loss 0', () => {
    const inputs = toInputs({lp: [[NaN, -1]], adv: [1], mask: [[0, 0]]});
    const {loss, stats} = grpoLossWithStats(inputs);
    expect(stats.kl).toBeUndefined();
    expect(loss.dataSync()[0]).toBe(0);
    for (const k of ['clipFracLow', 'clipFracHigh', 'clipFracDual'] as const) expect(stats[k].dataSync()[0]).toBe(0);
    for (const k of ['ratioMean', 'ratioMin', 'ratioMax'] as const) expect(stats[k].dataSync()[0]).toBe(1);
    tf.dispose([loss, ...Object.values(stats)]);
    disposeInputs(inputs);
  });

  it('sequence-level stats report the sequence ratio on every token', () => {
    // Row log-ratios [0.2, -0.1] -> s = e^0.05 = 1.051271 on both tokens: mean = min = max = s.
    const inputs = toInputs({lp: [[-0.8, -1.1]], old: [[-1, -1]], adv: [1], mask: [[1, 1]]});
    const {loss, stats} = grpoLossWithStats(inputs, {ratioLevel: 'sequence'});
    for (const k of ['ratioMean', 'ratioMin', 'ratioMax'] as const) expect(stats[k].dataSync()[0]).toBeCloseTo(Math.exp(0.05), 5);
    tf.dispose([loss, ...Object.values(stats)]);
    disposeInputs(inputs);
  });

  it('does not leak: grpoLoss, inside tf.grad, and with every option', () => {
    const inputs = toInputs({lp: LP, old: OLD, ref: REF, adv: ADV, mask: MASK});
    const before = tf.memory().numTensors;
    for (const aggregation of LOSS_AGGREGATIONS) {
      const out = grpoLoss(inputs, {aggregation, beta: 0.1, ratioLevel: 'sequence', dualClip: 2, normalizer: 3});
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
    }
    const g = tf.grad((x: tf.Tensor) => grpoLossWithStats({...inputs, logProbs: x}, {beta: 0.1}).loss)(inputs.logProbs);
    expect(tf.memory().numTensors).toBe(before + 1);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(inputs.logProbs.arraySync()).toEqual(tf.tensor2d(LP).arraySync());
    disposeInputs(inputs);
  });

  it('resolveGrpoLossOptions: documented defaults; grpoLossComposed is the same computation', () => {
    expect(resolveGrpoLossOptions(undefined)).toEqual({
      beta: 0, klEstimator: 'k3', clipLow: 0.2, clipHigh: 0.2, dualClip: undefined, ratioLevel: 'token',
      aggregation: 'token-mean', maxLength: undefined, normalizer: undefined,
    });
    expect(resolveGrpoLossOptions({clipLow: 0.1}).clipHigh).toBe(0.1);
    const inputs = toInputs({lp: LP, old: OLD, ref: REF, adv: ADV, mask: MASK});
    const options: GrpoLossOptions = {beta: 0.1, aggregation: 'seq-mean-token-sum-norm', maxLength: 6, ratioLevel: 'sequence'};
    const [a, b] = [grpoLoss(inputs, options), grpoLossComposed(inputs, resolveGrpoLossOptions(options))];
    expectSameNumbers(a.dataSync()[0]!, b.dataSync()[0]!);
    tf.dispose([a, b]);
    disposeInputs(inputs);
  });

  it('rejects bad inputs and options, naming the function, argument, expected and given', () => {
    const inputs = toInputs({lp: LP, old: OLD, ref: REF, adv: ADV, mask: MASK});
    const t = {
      b1: tf.zeros([3, 1]), r1: tf.zeros([3]), wrong: tf.zeros([3, 5]), half: tf.fill([3, 4], 0.5), ints: tf.zeros([3, 4], 'int32'),
    };
    const f = (override: Partial<GrpoLossInputs>, options?: GrpoLossOptions) => () => grpoLoss({...inputs, ...override}, options);
    expect(f({logProbs: t.r1})).toThrow("grpoLoss: 'logProbs' expected shape [batch, time] (rank 2), got [3]");
    expect(f({logProbs: t.ints})).toThrow("grpoLoss: 'logProbs' expected dtype float32, got int32");
    expect(f({oldLogProbs: t.wrong})).toThrow("grpoLoss: 'oldLogProbs' expected the shape of 'logProbs' [3,4], got [3,5]");
    expect(f({refLogProbs: t.wrong})).toThrow("grpoLoss: 'refLogProbs' expected the shape of 'logProbs' [3,4], got [3,5]");
    expect(f({refLogProbs: t.ints})).toThrow("grpoLoss: 'refLogProbs' expected dtype float32, got int32");
    expect(f({advantages: t.b1})).toThrow("grpoLoss: 'advantages' expected shape [batch]=[3] or [batch, time]=[3,4], got [3,1]");
    expect(f({mask: t.wrong})).toThrow("grpoLoss: 'mask' expected the shape of 'logProbs' [3,4], got [3,5]");
    expect(f({mask: t.half})).toThrow("grpoLoss: 'mask' expected values in {0, 1}, got 0.5");
    expect(f({refLogProbs: undefined}, {beta: 0.04}))
        .toThrow("grpoLoss: 'refLogProbs' is required when beta > 0 (beta = 0.04); pass the reference policy's log-probs or set beta: 0");
    expect(f({refLogProbs: undefined}, {beta: 0})).not.toThrow();
    expect(f({}, {beta: -1})).toThrow("grpoLoss: 'beta' expected >= 0, got -1");
    expect(f({}, {klEstimator: 'kl' as 'k1'})).toThrow(`grpoLoss: 'klEstimator' expected one of 'k1', 'k2', 'k3', 'abs', got "kl"`);
    expect(f({}, {aggregation: 'dapo' as LossAggregation}))
        .toThrow(`grpoLoss: 'aggregation' expected one of 'token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm', got "dapo"`);
    expect(f({}, {ratioLevel: 'seq' as RatioLevel})).toThrow(`grpoLoss: 'ratioLevel' expected one of 'token', 'sequence', got "seq"`);
    expect(f({}, {clipLow: -0.2})).toThrow("grpoLoss: 'clipLow' expected >= 0, got -0.2");
    expect(f({}, {clipHigh: -0.1})).toThrow("grpoLoss: 'clipHigh' expected >= 0, got -0.1");
    expect(f({}, {dualClip: 1})).toThrow("grpoLoss: 'dualClip' expected > 1, got 1");
    expect(f({}, {maxLength: 8})).toThrow("grpoLoss: 'maxLength' applies only to aggregation 'seq-mean-token-sum-norm', got it with 'token-mean'");
    expect(f({}, {normalizer: 0})).toThrow("grpoLoss: 'normalizer' expected > 0, got 0");
    expect(f({}, {epsilon: 0.2} as GrpoLossOptions)).toThrow("grpoLoss: unknown option 'epsilon'; expected one of 'beta'");
    expect(f({}, {loss_type: 'dapo'} as GrpoLossOptions)).toThrow("grpoLoss: unknown option 'loss_type'");
    expect(() => grpoLossWithStats({...inputs, advantages: t.b1})).toThrow("grpoLossWithStats: 'advantages' expected shape [batch]=[3]");
    tf.dispose(Object.values(t));
    disposeInputs(inputs);
  });
});

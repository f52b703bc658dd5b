import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {expectSameNumbers} from '../helpers/expect_same_numbers.js';
import {type ClippedPolicyLossOptions, clippedPolicyLoss} from '../../src/math/clipped_policy_loss.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';


interface Case {lp: number[][]; old: number[][]; adv: number[] | number[][]; mask: number[][]}

/**
 * The cases write log-probs as ln(r) with old = 0 (ratio r); both are shifted by -5 here, which keeps
 * every ratio and gradient and every log-prob below 0 (larger ones are rejected as probabilities).
 */
const SHIFT = -5;
const shifted = (x: number[][]) => x.map((row) => row.map((v) => v + SHIFT));

function tensors(c: Case) {
  return {
    logProbs: tf.tensor2d(shifted(c.lp)),
    oldLogProbs: tf.tensor2d(shifted(c.old)),
    advantages: Array.isArray(c.adv[0]) ? tf.tensor2d(c.adv as number[][]) : tf.tensor1d(c.adv as number[]),
    mask: tf.tensor2d(c.mask),
  };
}

/** Per-token loss and d(sum of it)/d logProbs. */
function lossAndGrad(c: Case, options: ClippedPolicyLossOptions = {}): {loss: number[][]; grad: number[][]} {
  const t = tensors(c);
  const out = clippedPolicyLoss(t, options);
  const g = tf.grad((x: tf.Tensor) => tf.sum(clippedPolicyLoss({...t, logProbs: x}, options)))(t.logProbs);
  // `+ 0` turns -0 into 0: "exactly 0" comparisons below use toBe/toEqual, which tell -0 from 0.
  const plain = (x: tf.Tensor) => (x.arraySync() as number[][]).map((r) => r.map((v) => v + 0));
  const res = {loss: plain(out), grad: plain(g)};
  tf.dispose([out, g, t.logProbs, t.oldLogProbs, t.advantages, t.mask]);
  return res;
}

const ln = Math.log;

describe('clippedPolicyLoss', () => {
  it('hand-computed token-level values: inside, clipped on each side, inactive sides, padding', () => {
    // eps 0.2 (range [0.8, 1.2]); old = 0 so r = exp(lp).
    // r=1.5, A=+2: high clip active -> -min(3, 2.4) = -2.4
    // r=0.5, A=-1: low clip active  -> -min(-0.5, -0.8) = 0.8
    // r=1.1, A=+1: inside           -> -1.1
    // r=0.7, A=+2: A > 0, r < 0.8 is not clipped -> -min(1.4, 1.6) = -1.4
    // r=1.5, A=-1: A < 0, r > 1.2 is not clipped -> -min(-1.5, -1.2) = 1.5
    // padding (mask 0, log-prob NaN): 0
    const c: Case = {
      lp: [[ln(1.5), ln(0.5), ln(1.1)], [ln(0.7), ln(1.5), NaN]],
      old: [[0, 0, 0], [0, 0, 0]],
      adv: [[2, -1, 1], [2, -1, 7]],
      mask: [[1, 1, 1], [1, 1, 0]],
    };
    const {loss, grad} = lossAndGrad(c);
    const want = [[-2.4, 0.8, -1.1], [-1.4, 1.5, 0]];
    loss.forEach((row, b) => row.forEach((x, t) => expect(x).toBeCloseTo(want[b]![t]!, 5)));
    // Gradient d(-r A)/d lp = -r A where unclipped, 0 where clipped or masked:
    // [[0, 0, -1.1], [-1.4, 1.5, 0]]
    const wantGrad = [[0, 0, -1.1], [-1.4, 1.5, 0]];
    grad.forEach((row, b) => row.forEach((x, t) => expect(x).toBeCloseTo(wantGrad[b]![t]!, 5)));
    expect(grad[0]![0]).toBe(0);
    expect(grad[0]![1]).toBe(0);
    expect(grad[1]![2]).toBe(0);
  });

  it('DAPO clip-higher: asymmetric range [1 - 0.2, 1 + 0.28]', () => {
    // r=1.25, A=1: inside the higher range -> -1.25 (would be -1.2 with eps 0.2); r=1.5, A=2 -> -1.28*2 = -2.56
    // r=0.75, A=-1: low clip 0.8 -> 0.8
    const c: Case = {lp: [[ln(1.25), ln(1.5), ln(0.75)]], old: [[0, 0, 0]], adv: [1, 2, -1].map((a) => a) as number[], mask: [[1, 1, 1]]};
    // advantages per token here, [1, 3]
    const cc: Case = {...c, adv: [[1, 2, -1]]};
    const sym = lossAndGrad(cc).loss[0]!;
    const asym = lossAndGrad(cc, {clipLow: 0.2, clipHigh: 0.28}).loss[0]!;
    [-1.2, -2.4, 0.8].forEach((v, i) => expect(sym[i]).toBeCloseTo(v, 5));
    [-1.25, -2.56, 0.8].forEach((v, i) => expect(asym[i]).toBeCloseTo(v, 5));
  });

  it('zero-width clip range (clipLow = clipHigh = 0) on every backend', () => {
    // r = 1.5, A = 1: -min(1.5, 1) = -1 (clipped, gradient 0); r = 0.5, A = 1: -min(0.5, 1) = -0.5 (gradient -0.5);
    // r = 0.5, A = -1: -min(-0.5, -1) = 1 (clipped); r = 1.5, A = -1: -min(-1.5, -1) = 1.5 (gradient 1.5).
    const c: Case = {lp: [[ln(1.5), ln(0.5), ln(0.5), ln(1.5)]], old: [[0, 0, 0, 0]], adv: [[1, 1, -1, -1]], mask: [[1, 1, 1, 1]]};
    const {loss, grad} = lossAndGrad(c, {clipLow: 0, clipHigh: 0});
    [-1, -0.5, 1, 1.5].forEach((v, i) => expect(loss[0]![i]).toBeCloseTo(v, 5));
    [0, -0.5, 0, 1.5].forEach((v, i) => expect(grad[0]![i]).toBeCloseTo(v, 5));
  });

  it('dual-clip: for A < 0 the loss is capped at -c A with zero gradient; A > 0 unaffected', () => {
    // c = 3. r=4, A=-1: PPO loss 4 -> min(4, 3) = 3. r=2, A=-1: 2 < 3 unchanged. r=4, A=+1: -1.2 (high clip).
    const c: Case = {lp: [[ln(4), ln(2), ln(4)]], old: [[0, 0, 0]], adv: [[-1, -1, 1]], mask: [[1, 1, 1]]};
    const plain = lossAndGrad(c);
    const dual = lossAndGrad(c, {dualClip: 3});
    [4, 2, -1.2].forEach((v, i) => expect(plain.loss[0]![i]).toBeCloseTo(v, 5));
    [3, 2, -1.2].forEach((v, i) => expect(dual.loss[0]![i]).toBeCloseTo(v, 5));
    // gradients: plain [-r A = 4, 2, 0]; dual [0 (capped), 2, 0]
    [4, 2, 0].forEach((v, i) => expect(plain.grad[0]![i]).toBeCloseTo(v, 5));
    expect(dual.grad[0]![0]).toBe(0);
    expect(dual.grad[0]![1]).toBeCloseTo(2, 5);
  });

  it('[batch] advantages broadcast over time exactly like the equivalent [batch, time] tensor', () => {
    const base = {lp: [[-0.9, -1.4, -0.2], [-2.0, -0.1, -0.7]], old: [[-1, -1, -0.5], [-1.8, -0.4, -0.6]],
      mask: [[1, 1, 0], [1, 1, 1]]};
    const a = lossAndGrad({...base, adv: [0.7, -1.3]});
    const b = lossAndGrad({...base, adv: [[0.7, 0.7, 0.7], [-1.3, -1.3, -1.3]]});
    expect(a).toEqual(b);
  });

  it('GSPO sequence ratio: hand-computed values and GSPO-token gradients', () => {
    // Row 0: log-ratios [0.2, -0.1] (third token padding with garbage) -> mean 0.05, s = e^0.05 = 1.051271.
    //   A = 1, inside [0.8, 1.2]: L = -1.051271 on both tokens; d L_t / d lp_t = -s A = -1.051271 (own token only).
    // Row 1: log-ratios [0.5, 0.5, 0.5] -> s = e^0.5 = 1.648721 > 1.2, A = 1: L = -1.2, gradient 0.
    const c: Case = {lp: [[0.2, -0.1, 123], [0.5, 0.5, 0.5]], old: [[0, 0, -Infinity], [0, 0, 0]], adv: [1, 1],
      mask: [[1, 1, 0], [1, 1, 1]]};
    const {loss, grad} = lossAndGrad(c, {ratioLevel: 'sequence'});
    const s = Math.exp(0.05);
    [[-s, -s, 0], [-1.2, -1.2, -1.2]].forEach((row, b) => row.forEach((v, t) => expect(loss[b]![t]).toBeCloseTo(v, 5)));
    [[-s, -s, 0], [0, 0, 0]].forEach((row, b) => row.forEach((v, t) => expect(grad[b]![t]).toBeCloseTo(v, 5)));
    expect(grad[1]).toEqual([0, 0, 0]);
    expect(grad[0]![2]).toBe(0);
  });

  it('GSPO-token with per-token advantages: the gradient of each token uses its own advantage', () => {
    // Log-ratios [0.2, -0.1]: s = e^0.05 = 1.051271 on both tokens, A = [1, 3] per token.
    // L = [-s, -3s]. GSPO-token: d(sum L)/d lp_t = -s A_t = [-1.051271, -3.153813]. (Differentiating
    // through the sequence mean instead would give -s * mean(A) = [-2.102542, -2.102542].)
    const c: Case = {lp: [[0.2, -0.1]], old: [[0, 0]], adv: [[1, 3]], mask: [[1, 1]]};
    const {loss, grad} = lossAndGrad(c, {ratioLevel: 'sequence', clipLow: 0.5, clipHigh: 0.5});
    const s = Math.exp(0.05);
    [-s, -3 * s].forEach((v, t) => expect(loss[0]![t]).toBeCloseTo(v, 5));
    [-s, -3 * s].forEach((v, t) => expect(grad[0]![t]).toBeCloseTo(v, 5));
  });

  it('property: inside the clip range the loss is the plain surrogate -r A (token and sequence level)', () => {
    const arb = fc.record({
      d: fc.array(fc.array(fc.double({min: -0.2, max: 0.17, noNaN: true}), {minLength: 3, maxLength: 3}), {minLength: 2, maxLength: 2}),
      adv: fc.array(fc.double({min: -3, max: 3, noNaN: true}), {minLength: 2, maxLength: 2}),
    });
    fc.assert(fc.property(arb, ({d, adv}) => {
      // ln(0.8) = -0.223, ln(1.2) = 0.182: every ratio (and every mean of log-ratios) is strictly inside.
      const c: Case = {lp: d.map((r) => r.map((x) => x - 1)), old: d.map((r) => r.map(() => -1)), adv, mask: [[1, 1, 1], [1, 1, 1]]};
      const tok = lossAndGrad(c).loss;
      tok.forEach((row, b) => row.forEach((x, t) => expect(x).toBeCloseTo(-Math.exp(d[b]![t]!) * adv[b]!, 5)));
      const seq = lossAndGrad(c, {ratioLevel: 'sequence'}).loss;
      seq.forEach((row, b) => {
        const s = Math.exp(d[b]!.reduce((u, v) => u + v, 0) / 3);
        row.forEach((x) => expect(x).toBeCloseTo(-s * adv[b]!, 5));
      });
    }), {numRuns: 30});
  });

  it('property: tokens clipped on the active side get exactly 0 gradient; others -r A', () => {
    const arb = fc.record({
      d: fc.array(fc.double({min: -1.5, max: 1.5, noNaN: true}), {minLength: 6, maxLength: 6}),
      adv: fc.array(fc.double({min: -2, max: 2, noNaN: true}), {minLength: 6, maxLength: 6}),
      clipLow: fc.double({min: 0.05, max: 0.5, noNaN: true}),
      clipHigh: fc.double({min: 0.05, max: 0.5, noNaN: true}),
    });
    fc.assert(fc.property(arb, ({d, adv, clipLow, clipHigh}) => {
      const c: Case = {lp: [d], old: [d.map(() => 0)], adv: [adv], mask: [d.map(() => 1)]};
      const {grad} = lossAndGrad(c, {clipLow, clipHigh});
      d.forEach((x, t) => {
        const r = Math.exp(x);
        const a = adv[t]!;
        const active = (a > 0 && r > 1 + clipHigh + 1e-5) || (a < 0 && r < 1 - clipLow - 1e-5);
        const inactive = (a > 0 && r < 1 + clipHigh - 1e-5) || (a < 0 && r > 1 - clipLow + 1e-5);
        if (active) expect(grad[0]![t]).toBe(0);
        if (inactive) expect(grad[0]![t]).toBeCloseTo(-r * a, 4);
      });
    }), {numRuns: 40});
  });

  it('property: masked tokens never change the loss and get exactly 0 gradient, even NaN/Inf there', () => {
    const garbage = fc.constantFrom(NaN, Infinity, -Infinity, 1e30, -50, 0);
    const arb = fc.record({
      lp: fc.array(fc.array(fc.double({min: -3, max: 0, noNaN: true}), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      old: fc.array(fc.array(fc.double({min: -3, max: 0, noNaN: true}), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      adv: fc.array(fc.array(fc.double({min: -2, max: 2, noNaN: true}), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      mask: fc.array(fc.array(fc.constantFrom(0, 1), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      g: fc.array(garbage, {minLength: 3, maxLength: 3}),
      ratioLevel: fc.constantFrom('token' as const, 'sequence' as const),
      dualClip: fc.constantFrom(undefined, 2.5),
    });
    fc.assert(fc.property(arb, ({lp, old, adv, mask, g, ratioLevel, dualClip}) => {
      const options = {ratioLevel, ...(dualClip === undefined ? {} : {dualClip})};
      const clean = lossAndGrad({lp, old, adv, mask}, options);
      const dirty = (x: number[][], k: number) => x.map((row, b) => row.map((v, t) => (mask[b]![t] ? v : g[k]!)));
      const noisy = lossAndGrad({lp: dirty(lp, 0), old: dirty(old, 1), adv: dirty(adv, 2), mask}, options);
      expectSameNumbers(noisy.loss, clean.loss);
      expectSameNumbers(noisy.grad, clean.grad);
      mask.forEach((row, b) => row.forEach((m, t) => {
        if (!m) {
          expect(noisy.loss[b]![t]).toBe(0);
          expect(noisy.grad[b]![t]).toBe(0);
        }
      }));
    }), {numRuns: 30});
  });

  it('extreme log-ratios (±1000, as from logits ±1000) give finite losses and gradients (clamp at ±20)', () => {
    // log r = +1000 -> clamped to 20, r = e^20 = 4.85165e8. A = +1: high clip, L = -1.2, gradient 0.
    // A = -1 without dual-clip: L = -r A = 4.85165e8, gradient 0 (beyond the clamp).
    // log r = -1000 -> r = e^-20 ~ 2e-9. A = -1: low clip, L = 0.8, gradient 0. A = +1: L = -2.06e-9.
    const c: Case = {lp: [[0, 0, -1000, -1000]], old: [[-1000, -1000, 0, 0]], adv: [[1, -1, -1, 1]], mask: [[1, 1, 1, 1]]};
    for (const ratioLevel of ['token', 'sequence'] as const) {
      const {loss, grad} = lossAndGrad(c, {ratioLevel});
      expect(loss.flat().every(Number.isFinite), ratioLevel).toBe(true);
      expect(grad.flat().every(Number.isFinite), ratioLevel).toBe(true);
    }
    const {loss, grad} = lossAndGrad(c);
    expect(loss[0]![0]).toBeCloseTo(-1.2, 5);
    expect(loss[0]![1]! / Math.exp(20)).toBeCloseTo(1, 5);
    expect(loss[0]![2]).toBeCloseTo(0.8, 5);
    expect(Math.abs(loss[0]![3]!)).toBeLessThan(1e-8);
    expect(grad).toEqual([[0, 0, 0, 0]]);
  });

  it('a fully masked batch gives all zeros and zero gradients', () => {
    const c: Case = {lp: [[NaN, 1]], old: [[0, Infinity]], adv: [3], mask: [[0, 0]]};
    for (const ratioLevel of ['token', 'sequence'] as const) {
      const {loss, grad} = lossAndGrad(c, {ratioLevel});
      expect(loss).toEqual([[0, 0]]);
      expect(grad).toEqual([[0, 0]]);
    }
  });

  it('gradients match central finite differences (h = 1e-3), token level with clipping and dual-clip', () => {
    // Log-ratios chosen away from the kinks at ln 0.8, ln 1.2 and ln 3.
    const c: Case = {
      lp: [[0.05, 0.5, -0.6, 1.3], [-0.1, 0.12, 0.0, -0.05]],
      old: [[0, 0, 0, 0], [0, 0, 0, 0]],
      adv: [[1.5, -0.7, -1.1, -0.4], [0.3, 0.9, -2, 1]],
      mask: [[1, 1, 1, 1], [1, 1, 0, 1]],
    };
    const h = 1e-3;
    const total = (lp: number[][], o: ClippedPolicyLossOptions) =>
      lossAndGrad({...c, lp}, o).loss.flat().reduce((u, v) => u + v, 0);
    for (const options of [{}, {dualClip: 3}, {clipLow: 0.1, clipHigh: 0.3}] as ClippedPolicyLossOptions[]) {
      const {grad} = lossAndGrad(c, options);
      const fd = gridCentralDifferences((lp) => total(lp, options), c.lp, h);
      expectGradientClose(grad, fd, {rtol: 1e-2, atol: 2e-3}, JSON.stringify(options));
    }
  });

  it('does not leak and does not dispose or mutate its inputs', () => {
    const t = tensors({lp: [[-1, -2]], old: [[-1.2, -1.9]], adv: [0.5], mask: [[1, 0]]});
    const before = tf.memory().numTensors;
    for (const ratioLevel of ['token', 'sequence'] as const) {
      const out = clippedPolicyLoss(t, {ratioLevel, dualClip: 3});
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(t.logProbs.arraySync()).toEqual([[-1 + SHIFT, -2 + SHIFT]]);
    expect(t.mask.isDisposed).toBe(false);
    tf.dispose(Object.values(t));
  });

  it('accepts int32 and bool masks', () => {
    const t = tensors({lp: [[-1, -2]], old: [[-1.2, -1.9]], adv: [0.5], mask: [[1, 0]]});
    const ref = clippedPolicyLoss(t);
    for (const dtype of ['int32', 'bool'] as const) {
      const m = tf.cast(t.mask, dtype);
      const out = clippedPolicyLoss({...t, mask: m});
      expect(out.arraySync()).toEqual(ref.arraySync());
      tf.dispose([m, out]);
    }
    tf.dispose([ref, ...Object.values(t)]);
  });

  it('rejects bad inputs naming the argument, the expected and the given shape or value', () => {
    const t = tensors({lp: [[-1, -2, -3], [-1, -1, -1]], old: [[-1, -2, -3], [-1, -1, -1]], adv: [1, -1],
      mask: [[1, 1, 0], [1, 1, 1]]});
    const bad = {
      rank1: tf.tensor1d([1, 2]), b1: tf.zeros([2, 1]), b3: tf.zeros([3]), wrongT: tf.zeros([2, 2]),
      half: tf.tensor2d([[1, 0.5, 0], [1, 1, 1]]), nanAdv: tf.tensor1d([NaN, 1]), ints: tf.zeros([2, 3], 'int32'),
    };
    const f = (override: Record<string, unknown>, options: ClippedPolicyLossOptions = {}) =>
      () => clippedPolicyLoss({...t, ...override} as typeof t, options);
    expect(f({logProbs: bad.rank1})).toThrow("clippedPolicyLoss: 'logProbs' expected shape [batch, time] (rank 2), got [2]");
    expect(f({logProbs: bad.ints})).toThrow("clippedPolicyLoss: 'logProbs' expected dtype float32, got int32");
    expect(f({oldLogProbs: bad.wrongT}))
        .toThrow("clippedPolicyLoss: 'oldLogProbs' expected the shape of 'logProbs' [2,3], got [2,2]");
    expect(f({oldLogProbs: undefined})).toThrow("clippedPolicyLoss: 'oldLogProbs' expected a tf.Tensor, got undefined");
    expect(f({advantages: bad.b1}))
        .toThrow("clippedPolicyLoss: 'advantages' expected shape [batch]=[2] or [batch, time]=[2,3], got [2,1]");
    expect(f({advantages: bad.b3})).toThrow("'advantages' expected shape [batch]=[2] or [batch, time]=[2,3], got [3]");
    expect(f({advantages: bad.nanAdv})).toThrow("clippedPolicyLoss: 'advantages' expected finite values, got NaN at flat index 0");
    expect(f({mask: bad.wrongT})).toThrow("clippedPolicyLoss: 'mask' expected the shape of 'logProbs' [2,3], got [2,2]");
    expect(f({mask: bad.half})).toThrow("clippedPolicyLoss: 'mask' expected values in {0, 1}, got 0.5");
    expect(f({}, {clipLow: -0.1})).toThrow("clippedPolicyLoss: 'clipLow' expected >= 0, got -0.1");
    expect(f({}, {clipHigh: -0.2})).toThrow("clippedPolicyLoss: 'clipHigh' expected >= 0, got -0.2");
    expect(f({}, {dualClip: 1})).toThrow("clippedPolicyLoss: 'dualClip' expected > 1, got 1");
    expect(f({}, {dualClip: 0.5})).toThrow("clippedPolicyLoss: 'dualClip' expected > 1, got 0.5");
    expect(f({}, {ratioLevel: 'seq' as 'sequence'}))
        .toThrow(`clippedPolicyLoss: 'ratioLevel' expected one of 'token', 'sequence', got "seq"`);
    expect(f({}, {epsilon: 0.2} as ClippedPolicyLossOptions)).toThrow("clippedPolicyLoss: unknown option 'epsilon'");
    expect(() => clippedPolicyLoss(undefined as unknown as typeof t)).toThrow("clippedPolicyLoss: 'inputs' expected an object");
    const before = tf.memory().numTensors;
    expect(f({advantages: bad.nanAdv})).toThrow();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...Object.values(t), ...Object.values(bad)]);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {type KlEstimator, klPenalty} from '../../src/math/kl_penalty.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const ESTIMATORS: KlEstimator[] = ['k1', 'k2', 'k3', 'abs'];
const LN2 = Math.log(2);

function kl(lp: number[][], ref: number[][], options: Parameters<typeof klPenalty>[2]): number[][] {
  const [a, b] = [tf.tensor2d(lp), tf.tensor2d(ref)];
  const out = klPenalty(a, b, options);
  const v = out.arraySync() as number[][];
  tf.dispose([a, b, out]);
  return v;
}

/** d(sum klPenalty)/d logProbs (each element depends on its own log-prob only). */
function klGrad(lp: number[][], ref: number[][], options: Parameters<typeof klPenalty>[2]): number[][] {
  const [a, b] = [tf.tensor2d(lp), tf.tensor2d(ref)];
  const g = tf.grad((x: tf.Tensor) => tf.sum(klPenalty(x, b, options)))(a);
  const v = g.arraySync() as number[][];
  tf.dispose([a, b, g]);
  return v;
}

describe('klPenalty', () => {
  it('hand-computed values of every estimator, both signs of the log-ratio', () => {
    // d = lp - ref. Column 0: d = ln 0.5 - ln 0.25 = ln 2; column 1: d = -ln 2; column 2: d = 0.
    // k1 = d                  -> [ 0.693147, -0.693147, 0]
    // k2 = d^2 / 2            -> [ 0.240227,  0.240227, 0]
    // k3 = exp(-d) + d - 1    -> [0.5 + 0.693147 - 1 = 0.193147, 2 - 0.693147 - 1 = 0.306853, 0]
    // abs = |d|               -> [ 0.693147,  0.693147, 0]
    const lp = [[Math.log(0.5), Math.log(0.25), -1.3]];
    const ref = [[Math.log(0.25), Math.log(0.5), -1.3]];
    const expected: Record<KlEstimator, number[]> = {
      k1: [LN2, -LN2, 0], k2: [LN2 * LN2 / 2, LN2 * LN2 / 2, 0], k3: [0.5 + LN2 - 1, 2 - LN2 - 1, 0], abs: [LN2, LN2, 0],
    };
    for (const estimator of ESTIMATORS) {
      const got = kl(lp, ref, {estimator})[0]!;
      got.forEach((x, i) => expect(x, `${estimator}[${i}]`).toBeCloseTo(expected[estimator][i]!, 6));
    }
  });

  it('direction: k1 and k3 are unbiased for KL(pi || pi_ref) (expectation over y ~ pi), k2 is not', () => {
    // pi = [0.5, 0.3, 0.2], ref = [0.2, 0.3, 0.5]. KL(pi||ref) = 0.5 ln 2.5 + 0 + 0.2 ln 0.4 = 0.274887.
    // E_pi[k1] = KL exactly; E_pi[k3] = sum pi (ref/pi - 1 + ln(pi/ref)) = sum ref - 1 + KL = KL.
    // KL(ref||pi) = 0.2 ln 0.4 + 0.5 ln 2.5 = the same here by symmetry, so use an asymmetric pair too:
    // pi = [0.7, 0.2, 0.1], ref = [0.4, 0.4, 0.2]: KL(pi||ref) = 0.7 ln 1.75 + 0.2 ln 0.5 + 0.1 ln 0.5 = 0.183787,
    // KL(ref||pi) = 0.4 ln(4/7) + 0.4 ln 2 + 0.2 ln 2 = 0.192038.
    for (const [pi, ref, want] of [[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], 0.274887], [[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], 0.183787]] as const) {
      const expect1 = (estimator: KlEstimator) => {
        const v = kl([pi.map(Math.log)], [ref.map(Math.log)], {estimator})[0]!;
        return v.reduce((s, k, i) => s + pi[i]! * k, 0);
      };
      expect(expect1('k1')).toBeCloseTo(want, 5);
      expect(expect1('k3')).toBeCloseTo(want, 5);
      expect(Math.abs(expect1('k2') - want)).toBeGreaterThan(1e-3);
    }
  });

  it('k3 is accurate for tiny log-ratios (~d^2/2, no cancellation)', () => {
    // d = 1e-3: k3 = exp(-d) + d - 1 = d^2/2 - d^3/6 + ... = 4.998334e-7
    const got = kl([[1e-3]], [[0]], {estimator: 'k3'})[0]![0]!;
    expect(got).toBeGreaterThan(0);
    expect(Math.abs(got - 4.998334e-7) / 4.998334e-7).toBeLessThan(1e-3);
  });

  it('hand-computed log-ratio and value clamps (verl low_var_kl: 20 / 10)', () => {
    // logRatioClamp 1, d = 3 -> d' = 1: k1 = 1, k3 = exp(-1) + 1 - 1 = 0.367879; d = -3 -> d' = -1: k3 = e - 2 = 0.718282
    expect(kl([[3, -3]], [[0, 0]], {estimator: 'k1', logRatioClamp: 1})[0]).toEqual([1, -1]);
    const k3 = kl([[3, -3]], [[0, 0]], {estimator: 'k3', logRatioClamp: 1})[0]!;
    expect(k3[0]).toBeCloseTo(Math.exp(-1), 6);
    expect(k3[1]).toBeCloseTo(Math.E - 2, 5);
    // valueClamp 10, d = -3: k3 = e^3 - 3 - 1 = 16.0855 -> 10; d = 1: 0.367879 unchanged
    const v = kl([[-3, 1]], [[0, 0]], {estimator: 'k3', valueClamp: 10})[0]!;
    expect(v[0]).toBe(10);
    expect(v[1]).toBeCloseTo(Math.exp(-1), 6);
    // verl: ref - lp = 30 clamps to 20, exp(20) - 20 - 1 = 4.85e8 clamps to 10; k1 with valueClamp 0.5: -0.5
    expect(kl([[-30]], [[0]], {estimator: 'k3', logRatioClamp: 20, valueClamp: 10})[0]).toEqual([10]);
    expect(kl([[-2]], [[0]], {estimator: 'k1', valueClamp: 0.5})[0]).toEqual([-0.5]);
  });

  it('hand-computed gradients w.r.t. logProbs; exactly 0 where a clamp is active', () => {
    // d/dlp: k1 = 1; k2 = d; k3 = 1 - exp(-d); abs = sign(d). At d = ln 2: [1, 0.693147, 0.5, 1]
    const lp = [[Math.log(0.5)]];
    const ref = [[Math.log(0.25)]];
    const want: Record<KlEstimator, number> = {k1: 1, k2: LN2, k3: 0.5, abs: 1};
    for (const estimator of ESTIMATORS) expect(klGrad(lp, ref, {estimator})[0]![0]).toBeCloseTo(want[estimator], 5);
    // d = 3 with logRatioClamp 1: clamped, gradient 0 exactly. d = -3, k3 = 16.09 with valueClamp 10: 0 exactly.
    expect(klGrad([[3]], [[0]], {estimator: 'k3', logRatioClamp: 1})).toEqual([[0]]);
    expect(klGrad([[-3]], [[0]], {estimator: 'k3', valueClamp: 10})).toEqual([[0]]);
  });

  it('gradients match central finite differences (h = 1e-3) for every estimator', () => {
    const lp = [[-0.3, -1.7, -2.2], [-0.05, -3.1, -0.9]];
    const ref = [[-0.9, -1.2, -2.6], [-0.55, -2.5, -0.4]];
    const h = 1e-3;
    for (const estimator of ESTIMATORS) {
      // the derivative of each entry of kl with respect to the log-prob at that entry
      const fd = gridCentralDifferences((x, b, t) => kl(x, ref, {estimator})[b]![t]!, lp, h);
      expectGradientClose(klGrad(lp, ref, {estimator}), fd, {rtol: 1e-2, atol: 1e-3}, estimator);
    }
  });

  it('property: all estimators are 0 when the policies are equal; k2, k3, abs are >= 0', () => {
    const row = fc.array(fc.double({min: -20, max: 0, noNaN: true}), {minLength: 1, maxLength: 8});
    fc.assert(fc.property(row, row, (a, b) => {
      const n = Math.min(a.length, b.length);
      const [lp, ref] = [[a.slice(0, n)], [b.slice(0, n)]];
      for (const estimator of ESTIMATORS) {
        expect(kl(lp, lp, {estimator})[0]!.every((x) => x === 0)).toBe(true);
        if (estimator !== 'k1') expect(kl(lp, ref, {estimator})[0]!.every((x) => x >= 0)).toBe(true);
      }
    }), {numRuns: 30});
  });

  it('property: k1 is antisymmetric, k2 and abs symmetric in the swap of policies', () => {
    const row = fc.array(fc.double({min: -10, max: 0, noNaN: true}), {minLength: 4, maxLength: 4});
    fc.assert(fc.property(row, row, (a, b) => {
      const [x, y] = [kl([a], [b], {estimator: 'k1'})[0]!, kl([b], [a], {estimator: 'k1'})[0]!];
      x.forEach((v, i) => expect(v).toBeCloseTo(-y[i]!, 5));
      for (const estimator of ['k2', 'abs'] as const) {
        const [p, q] = [kl([a], [b], {estimator})[0]!, kl([b], [a], {estimator})[0]!];
        p.forEach((v, i) => expect(v).toBeCloseTo(q[i]!, 5));
      }
    }), {numRuns: 20});
  });

  it('accepts any shape (rank 1 and 3) and returns the input shape', () => {
    const a = tf.tensor1d([0, -1]);
    const b = tf.tensor3d([[[0], [-1]]]);
    const [o1, o3] = [klPenalty(a, a, {estimator: 'k3'}), klPenalty(b, b, {estimator: 'k2'})];
    expect(o1.shape).toEqual([2]);
    expect(o3.shape).toEqual([1, 2, 1]);
    tf.dispose([a, b, o1, o3]);
  });

  it('does not leak and does not dispose or change its inputs', () => {
    const [lp, ref] = [tf.tensor2d([[-1, -2]]), tf.tensor2d([[-1.5, -0.5]])];
    const before = tf.memory().numTensors;
    for (const estimator of ESTIMATORS) {
      const out = klPenalty(lp, ref, {estimator, logRatioClamp: 20, valueClamp: 10});
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(lp.isDisposed || ref.isDisposed).toBe(false);
    expect(lp.arraySync()).toEqual([[-1, -2]]);
    tf.dispose([lp, ref]);
  });

  it('rejects bad inputs with the argument name, expected and given', () => {
    const lp = tf.tensor2d([[-1, -2]]);
    const wrong = tf.tensor2d([[-1], [-2]]);
    const ints = tf.tensor2d([[1, 2]], undefined, 'int32');
    expect(() => klPenalty(lp, wrong, {estimator: 'k3'}))
        .toThrow("klPenalty: 'refLogProbs' expected the shape of 'logProbs' [1,2], got [2,1]");
    expect(() => klPenalty(ints, ints, {estimator: 'k3'})).toThrow("klPenalty: 'logProbs' expected dtype float32, got int32");
    expect(() => klPenalty(lp, ints, {estimator: 'k3'})).toThrow("klPenalty: 'refLogProbs' expected dtype float32, got int32");
    expect(() => klPenalty([[1]] as unknown as tf.Tensor, lp, {estimator: 'k3'}))
        .toThrow("klPenalty: 'logProbs' expected a tf.Tensor, got an array");
    expect(() => klPenalty(lp, lp, {estimator: 'k4' as KlEstimator}))
        .toThrow(`klPenalty: 'estimator' expected one of 'k1', 'k2', 'k3', 'abs', got "k4"`);
    expect(() => klPenalty(lp, lp, undefined as unknown as {estimator: 'k3'})).toThrow("klPenalty: 'options' expected an object");
    expect(() => klPenalty(lp, lp, {estimator: 'k3', clamp: 1} as unknown as {estimator: 'k3'}))
        .toThrow("klPenalty: unknown option 'clamp'");
    expect(() => klPenalty(lp, lp, {estimator: 'k3', logRatioClamp: 0})).toThrow("klPenalty: 'logRatioClamp' expected > 0, got 0");
    expect(() => klPenalty(lp, lp, {estimator: 'k3', valueClamp: -1})).toThrow("klPenalty: 'valueClamp' expected > 0, got -1");
    tf.dispose([lp, wrong, ints]);
  });

  it('rejects NaN / +-Infinity in either input (every element: no mask), unless value checks are off', () => {
    const lp = tf.tensor2d([[-1, -2]]);
    const nan = tf.tensor2d([[NaN, -1]]);
    const inf = tf.tensor2d([[-1, -Infinity]]);
    const before = tf.memory().numTensors;
    expect(() => klPenalty(nan, lp, {estimator: 'k3'}))
        .toThrow("klPenalty: 'logProbs' expected finite values, got NaN at flat index 0 (shape [1,2])");
    expect(() => klPenalty(lp, inf, {estimator: 'k3', logRatioClamp: 20}))
        .toThrow("klPenalty: 'refLogProbs' expected finite values, got -Infinity at flat index 1 (shape [1,2])");
    expect(() => tf.grad((x: tf.Tensor) => tf.sum(klPenalty(x, inf, {estimator: 'k1'})))(lp))
        .toThrow("klPenalty: 'refLogProbs' expected finite values, got -Infinity at flat index 1 (shape [1,2])");
    expect(tf.memory().numTensors).toBe(before);
    const previous = configureValidation({valueChecks: false});
    try {
      const out = klPenalty(nan, lp, {estimator: 'k1'});
      expect(Number.isNaN(out.dataSync()[0]!)).toBe(true);
      out.dispose();
    } finally {
      configureValidation(previous);
    }
    tf.dispose([lp, nan, inf]);
  });
});

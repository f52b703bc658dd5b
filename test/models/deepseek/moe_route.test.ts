import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../../src/math/assert.js';
import {moeRoute, moeRouteInModel, type MoeRouting} from '../../../src/models/moe_route.js';
import {gridCentralDifferences} from '../../helpers/central_differences.js';
import {expectGradientClose} from '../../helpers/expect_gradient_close.js';

const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const free = (r: MoeRouting): void => tf.dispose([r.indices, r.weights, r.combine, r.selected, r.affinities]);

/** Plain-JS transcription of transformers' route_tokens_to_experts for one token. */
function referenceRoute(logits: number[], bias: number[], o: {topK: number; nGroup: number; topkGroup: number; norm: boolean; scale: number}) {
  const E = logits.length, per = E / o.nGroup;
  const s = logits.map(sig);
  const c = s.map((v, i) => v + bias[i]!);
  const groupScore = Array.from({length: o.nGroup}, (_, g) => {
    const vals = c.slice(g * per, (g + 1) * per).sort((a, b) => b - a);
    return vals[0]! + vals[1]!;
  });
  const keptGroups = new Set(groupScore.map((v, g) => [v, g] as const).sort((a, b) => b[0] - a[0]).slice(0, o.topkGroup).map((p) => p[1]));
  const masked = c.map((v, i) => (o.nGroup === 1 || keptGroups.has(Math.floor(i / per)) ? v : 0));
  const idx = masked.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, o.topK).map((p) => p[1]);
  let g = idx.map((i) => s[i]!);
  if (o.norm) { const z = g.reduce((a, b) => a + b, 0) + 1e-20; g = g.map((v) => v / z); }
  return {idx, gates: g.map((v) => v * o.scale)};
}

describe('moeRoute', () => {
  it('hand-computed: top-2 of 4, normalised sigmoid gates', () => {
    const r = moeRoute(tf.tensor2d([[2, 0, -1, 1]]), tf.zeros([4]) as tf.Tensor1D, {topK: 2});
    expect(r.indices.arraySync()).toEqual([[0, 3]]);
    // sigmoid(2)=0.880797, sigmoid(1)=0.731059; sum 1.611856 -> 0.546449, 0.453551
    const w = r.weights.arraySync()[0]!;
    expect(w[0]).toBeCloseTo(0.546449, 5);
    expect(w[1]).toBeCloseTo(0.453551, 5);
    expect(r.combine.arraySync()[0]![1]).toBe(0);
    expect(r.selected.arraySync()).toEqual([[1, 0, 0, 1]]);
    free(r);
  });

  it('the bias changes the selection but never the gate values', () => {
    // bias lifts expert 2 above expert 3; its gate is sigmoid(-1), not sigmoid(-1) + 1
    const r = moeRoute(tf.tensor2d([[2, 0, -1, 1]]), tf.tensor1d([0, 0, 1, 0]), {topK: 2, normTopkProb: false, routedScalingFactor: 2.5});
    expect(r.indices.arraySync()).toEqual([[2, 0]]);
    const w = r.weights.arraySync()[0]!;
    expect(w[0]).toBeCloseTo(2.5 * sig(-1), 5);
    expect(w[1]).toBeCloseTo(2.5 * sig(2), 5);
    free(r);
  });

  it('group-limited routing keeps only the topkGroup best groups (sum of top-2 scores)', () => {
    // 3 groups of 2: group sums 0.9+0.1, 0.6+0.6, 0.8+0.5 (in sigmoid space via logits)
    const logit = (p: number): number => Math.log(p / (1 - p));
    const probs = [0.9, 0.1, 0.6, 0.6, 0.8, 0.5];
    const r = moeRoute(tf.tensor2d([probs.map(logit)]), tf.zeros([6]) as tf.Tensor1D, {topK: 2, nGroup: 3, topkGroup: 2});
    // groups 1 (1.2) and 2 (1.3) kept; best experts there: 4 (0.8), then 2 or 3 (0.6) -- not 0 (0.9, group 0)
    const idx = r.indices.arraySync()[0]!;
    expect(idx[0]).toBe(4);
    expect([2, 3]).toContain(idx[1]);
    free(r);
  });

  it('matches the transformers transcription on random inputs (property)', () => {
    fc.assert(fc.property(
        fc.array(fc.float({min: -3, max: 3, noNaN: true}), {minLength: 8, maxLength: 8}),
        fc.array(fc.float({min: -0.5, max: 0.5, noNaN: true}), {minLength: 8, maxLength: 8}),
        fc.constantFrom([1, 1], [2, 1], [4, 2], [4, 3]), fc.integer({min: 1, max: 4}), fc.boolean(),
        (logits, bias, [nGroup, topkGroup], topK, norm) => {
          const per = 8 / nGroup!;
          fc.pre(topK <= topkGroup! * per);
          // Skip inputs whose kept groups are tied with a dropped one (either choice is right).
          const score = logits.map((l, i) => sig(Math.fround(l)) + bias[i]!);
          const groupScores = Array.from({length: nGroup!}, (_, g) => {
            const v = score.slice(g * per, (g + 1) * per).sort((a, b) => b - a);
            return v[0]! + v[1]!;
          }).sort((a, b) => b - a);
          fc.pre(topkGroup === nGroup || groupScores[topkGroup! - 1]! - groupScores[topkGroup!]! > 1e-4);
          const ref = referenceRoute(logits, bias, {topK, nGroup: nGroup!, topkGroup: topkGroup!, norm, scale: 1.5});
          const r = moeRoute(tf.tensor2d([logits]), tf.tensor1d(bias), {topK, nGroup, topkGroup, normTopkProb: norm, routedScalingFactor: 1.5});
          const idx = r.indices.arraySync()[0]!, w = r.weights.arraySync()[0]!;
          free(r);
          // The selection scores of the chosen experts agree (ties in float32 may pick another expert
          // of the same score); where the experts agree, so do the gates.
          const sorted = (ids: number[]) => ids.map((e) => score[e]!).sort((a, b) => b - a);
          sorted(idx).forEach((v, k) => expect(Math.abs(v - sorted(ref.idx)[k]!)).toBeLessThan(1e-5));
          const got = new Map(idx.map((e, k) => [e, w[k]!]));
          if (!ref.idx.every((e) => got.has(e))) return true; // a tie picked another expert: gates renormalise
          ref.idx.forEach((e, k) => expect(got.get(e)).toBeCloseTo(ref.gates[k]!, 4));
          return true;
        }), {numRuns: 100});
  });

  it('gates never include the bias: they equal the (normalised) affinities at the selected experts (property)', () => {
    fc.assert(fc.property(
        fc.array(fc.float({min: -4, max: 4, noNaN: true}), {minLength: 6, maxLength: 6}),
        fc.array(fc.float({min: -2, max: 2, noNaN: true}), {minLength: 6, maxLength: 6}),
        (logits, bias) => {
          const r = moeRoute(tf.tensor2d([logits]), tf.tensor1d(bias), {topK: 3, normTopkProb: false});
          const idx = r.indices.arraySync()[0]!, w = r.weights.arraySync()[0]!;
          free(r);
          idx.forEach((e, k) => expect(w[k]).toBeCloseTo(sig(Math.fround(logits[e]!)), 5));
        }), {numRuns: 60});
  });

  it('gradient of the gates with respect to the router logits matches finite differences', () => {
    const x0 = tf.tensor2d([[0.3, -0.2, 0.8, 0.1], [-0.5, 0.4, 0.2, 0.9]]);
    const cot = tf.tensor2d([[1, -2], [0.5, 3]]);
    const bias = tf.tensor1d([0, 0.05, 0, 0]);
    const f = (x: tf.Tensor2D): tf.Scalar => tf.tidy(() => {
      const r = moeRoute(x, bias, {topK: 2, routedScalingFactor: 2});
      return tf.sum(tf.mul(r.weights, cot)) as tf.Scalar;
    });
    const g = tf.grad(f as (x: tf.Tensor) => tf.Tensor)(x0).arraySync() as number[][];
    const base = x0.arraySync();
    const fd = gridCentralDifferences((b) => tf.tidy(() => f(tf.tensor2d(b)).dataSync()[0]!), base, 1e-3);
    expectGradientClose(g, fd, {digits: 2});
    tf.dispose([x0, cot, bias]);
  });

  it('leaks no tensors and rejects bad input naming the argument', () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]), b = tf.zeros([4]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    free(moeRoute(x, b, {topK: 2}));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => moeRoute(x, tf.zeros([3]) as tf.Tensor1D, {topK: 2})).toThrow(/moeRoute: 'bias' expected shape \[experts\]=\[4\], got \[3\]/);
    expect(() => moeRoute(x, b, {topK: 5})).toThrow(/'topK' expected <= 4/);
    expect(() => moeRoute(x, b, {topK: 2, nGroup: 3})).toThrow(/multiple of nGroup=3/);
    expect(() => moeRoute(x, b, {topK: 3, nGroup: 2, topkGroup: 1})).toThrow(/'topK' expected <= topkGroup/);
    expect(() => moeRoute(x, b, {topK: 2, topk: 1} as never)).toThrow(/unknown option 'topk'/);
    tf.dispose([x, b]);
  });

  it('checks dtypes and finite values (value checks skipped with valueChecks off and in moeRouteInModel)', () => {
    const x = tf.tensor2d([[2, 0, -1, 1]]), b = tf.zeros([4]) as tf.Tensor1D;
    const nanBias = tf.tensor1d([NaN, 0, 0, 0]), intBias = tf.zeros([4], 'int32') as tf.Tensor1D;
    const nanX = tf.tensor2d([[2, NaN, -1, 1]]), intX = tf.zeros([1, 4], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => moeRoute(x, intBias, {topK: 2})).toThrow("moeRoute: 'bias' expected dtype float32, got int32");
    expect(() => moeRoute(intX, b, {topK: 2})).toThrow("moeRoute: 'routerLogits' expected dtype float32, got int32");
    expect(() => moeRouteInModel(x, intBias, {topK: 2})).toThrow("moeRoute: 'bias' expected dtype float32, got int32");
    expect(() => moeRoute(x, nanBias, {topK: 2})).toThrow("moeRoute: 'bias' expected finite values, got NaN at flat index 0 (shape [4])");
    expect(() => moeRoute(nanX, b, {topK: 2})).toThrow(
        "moeRoute: 'routerLogits' expected finite values, got NaN at flat index 1 (shape [1,4])");
    expect(tf.memory().numTensors).toBe(before);
    free(moeRouteInModel(x, nanBias, {topK: 2}));
    const previous = configureValidation({valueChecks: false});
    try {
      free(moeRoute(x, nanBias, {topK: 2}));
      free(moeRoute(nanX, b, {topK: 2}));
    } finally {
      configureValidation(previous);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, b, nanBias, intBias, nanX, intX]);
  });
});

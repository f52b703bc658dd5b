// Truncated importance sampling in grpoLoss: w_t = min(exp(old_t - rollout_t), tisCap), a constant
// weight of the policy-gradient term, on the composed ops and the fused kernels (SIMD and JS loop).
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {afterEach, describe, expect, it} from 'vitest';
import {type GrpoLossInputs, type GrpoLossOptions, grpoLoss, grpoLossWithStats} from '../../src/math/grpo_loss.js';
import {setGrpoLossSimdEnabled} from '../../src/math/fused/grpo_loss_simd.js';
import {mulberry32} from '../../src/models/mulberry32.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

afterEach(() => setGrpoLossSimdEnabled(true));

type Path = readonly ['simd' | 'js' | 'composed', 'fused' | 'composed'];
const PATHS: Path[] = [['simd', 'fused'], ['js', 'fused'], ['composed', 'composed']];

function onPath<T>(path: Path, f: (implementation: 'fused' | 'composed') => T): T {
  setGrpoLossSimdEnabled(path[0] !== 'js');
  try {
    return f(path[1]);
  } finally {
    setGrpoLossSimdEnabled(true);
  }
}

/** Loss and d loss / d (logProbs, oldLogProbs, advantages, rolloutLogProbs). */
function lossAndGrads(inputs: GrpoLossInputs, options: GrpoLossOptions): {loss: number; grads: number[][]} {
  const f = tf.valueAndGrads((lp: tf.Tensor, old: tf.Tensor, adv: tf.Tensor, roll: tf.Tensor) =>
    grpoLoss({...inputs, logProbs: lp, oldLogProbs: old, advantages: adv, rolloutLogProbs: roll}, options));
  const {value, grads} = f([inputs.logProbs, inputs.oldLogProbs!, inputs.advantages, inputs.rolloutLogProbs!]);
  const out = {loss: value.dataSync()[0]!, grads: grads.map((g) => Array.from(g.dataSync(), (v) => v + 0))};
  tf.dispose([value, ...grads]);
  return out;
}

const ln = Math.log;

function handInputs(): GrpoLossInputs {
  // Token 0: r = e^0.2 = 1.2214 > 1.2 with A = 1: clipped, pg = -1.2; w = min(e^(ln 3), 2) = 2 (capped).
  // Token 1: r = 1, pg = -1; w = e^(-ln 2) = 0.5. Token 2 padding.
  return {
    logProbs: tf.tensor2d([[-1, -2, NaN]]), oldLogProbs: tf.tensor2d([[-1.2, -2, -1]]),
    rolloutLogProbs: tf.tensor2d([[-1.2 - ln(3), -2 + ln(2), 7]]), refLogProbs: tf.tensor2d([[-1.5, -2.5, 0]]),
    advantages: tf.tensor1d([1]), mask: tf.tensor2d([[1, 1, 0]]),
  };
}

describe('grpoLoss truncated importance sampling (rolloutLogProbs, tisCap)', () => {
  it.each(PATHS)('hand-computed values and gradients (%s)', (...path) => {
    const inputs = handInputs();
    onPath(path, (implementation) => {
      // token-mean: (2 * -1.2 + 0.5 * -1) / 2 = -1.45. d/dlp: token 0 clipped -> 0; token 1: -r A w / 2 = -0.25.
      // d/dA: (2 * -1.2 + 0.5 * -1) / 2 = -1.45; d/dold: token 1 +0.25; d/drollout: 0 (w is a constant).
      const plain = lossAndGrads(inputs, {implementation, tisCap: 2});
      expect(plain.loss).toBeCloseTo(-1.45, 5);
      [0, -0.25, 0].forEach((v, k) => expect(plain.grads[0]![k]).toBeCloseTo(v, 6));
      expect(plain.grads[2]![0]).toBeCloseTo(-1.45, 5);
      [0, 0.25, 0].forEach((v, k) => expect(plain.grads[1]![k]).toBeCloseTo(v, 6));
      expect(plain.grads[3]).toEqual([0, 0, 0]);
      // The KL term is not weighted: k1 with beta 0.1, d = lp - ref = 0.5 on both tokens: + 0.05 each
      // -> (-2.9 + 0.1) / 2 = -1.4; d/dlp + 0.1 / 2 per token.
      const kl = lossAndGrads(inputs, {implementation, tisCap: 2, beta: 0.1, klEstimator: 'k1'});
      expect(kl.loss).toBeCloseTo(-1.4, 5);
      [0.05, -0.2, 0].forEach((v, k) => expect(kl.grads[0]![k]).toBeCloseTo(v, 6));
      // Default cap 2 when rolloutLogProbs is given; a cap of 10 lets token 0 keep w = 3:
      // (3 * -1.2 - 0.5) / 2 = -2.05. Rollout as an option gives the same.
      const {rolloutLogProbs, ...rest} = inputs;
      const asOption = grpoLoss(rest, {implementation, rolloutLogProbs});
      expect(asOption.dataSync()[0]).toBeCloseTo(-1.45, 5);
      const wide = grpoLoss(inputs, {implementation, tisCap: 10});
      expect(wide.dataSync()[0]).toBeCloseTo(-2.05, 5);
      tf.dispose([asOption, wide]);
    });
    tf.dispose(Object.values(inputs) as tf.Tensor[]);
  });

  it('property: tisCap Infinity with rollout = old is plain GRPO (every path, loss and gradients)', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 30}), fc.integer({min: 1, max: 3}), fc.integer({min: 1, max: 10}),
        fc.constantFrom<GrpoLossOptions>({}, {beta: 0.04}, {dualClip: 2, clipHigh: 0.28}, {ratioLevel: 'sequence'},
            {aggregation: 'seq-mean-token-mean'}), (seed, batch, time, options) => {
          const inputs = randomInputs(seed, batch, time, 0);
          const same = {...inputs, rolloutLogProbs: inputs.oldLogProbs!.clone()};
          for (const path of PATHS) {
            onPath(path, (implementation) => {
              const tis = lossAndGrads(same, {...options, implementation, tisCap: Infinity});
              const plain = lossAndGrads(same, {...options, implementation});
              // plain: the rollout tensor is in the inputs, so default cap 2 applies: w = 1 < 2 anyway
              expect(Math.abs(tis.loss - plain.loss)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(plain.loss)));
              const noTis = grpoLoss(inputs, {...options, implementation});
              expect(Math.abs(noTis.dataSync()[0]! - tis.loss)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(tis.loss)));
              noTis.dispose();
              tis.grads.slice(0, 3).forEach((g, i) => g.forEach((v, k) =>
                expect(Math.abs(v - plain.grads[i]![k]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v)))));
            });
          }
          tf.dispose([same.rolloutLogProbs, ...Object.values(inputs) as tf.Tensor[]]);
        }), {numRuns: 25});
  });

  it('property: fused (SIMD, JS loop) = composed with capped and uncapped weights (loss, every gradient)', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 30}), fc.integer({min: 1, max: 3}), fc.integer({min: 1, max: 10}),
        fc.constantFrom(0.5, 1.5, 2, 5), fc.constantFrom<GrpoLossOptions>({}, {beta: 0.1}, {dualClip: 2},
            {ratioLevel: 'sequence', aggregation: 'seq-mean-token-sum'}), (seed, batch, time, tisCap, options) => {
          const inputs = randomInputs(seed, batch, time, 1.5);
          const [simd, js, composed] = PATHS.map((path) =>
            onPath(path, (implementation) => lossAndGrads(inputs, {...options, implementation, tisCap})));
          for (const got of [simd!, js!]) {
            expect(Math.abs(got.loss - composed!.loss)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(composed!.loss)));
            got.grads.forEach((g, i) => g.forEach((v, k) =>
              expect(Math.abs(v - composed!.grads[i]![k]!), `grad ${i}[${k}]`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v)))));
          }
          tf.dispose(Object.values(inputs) as tf.Tensor[]);
        }), {numRuns: 30});
  });

  it.each(PATHS)('d loss / d logProbs matches central finite differences (h = 1e-3) (%s)', (...path) => {
    const inputs = randomInputs(11, 2, 5, 1.5);
    onPath(path, (implementation) => {
      const options: GrpoLossOptions = {implementation, tisCap: 1.3, beta: 0.1, aggregation: 'seq-mean-token-mean'};
      const {grads} = lossAndGrads(inputs, options);
      const lp = inputs.logProbs.arraySync() as number[][];
      const fd = gridCentralDifferences((x) => tf.tidy(() => grpoLoss({...inputs, logProbs: tf.tensor2d(x)}, options).dataSync()[0]!), lp, 1e-3);
      expectGradientClose(grads[0]!, fd, {rtol: 1e-2, atol: 1e-3});
    });
    tf.dispose(Object.values(inputs) as tf.Tensor[]);
  });

  it('rejects rollout log-probs given twice, tisCap without them, bad caps and shapes; no leaks', () => {
    const inputs = handInputs();
    const before = tf.memory().numTensors;
    const {rolloutLogProbs, ...rest} = inputs;
    expect(() => grpoLoss(inputs, {rolloutLogProbs})).toThrow(
        "grpoLoss: 'rolloutLogProbs' given both in the inputs and in the options; pass it once");
    expect(() => grpoLoss(rest, {tisCap: 2})).toThrow("grpoLoss: 'tisCap' (2) needs 'rolloutLogProbs'");
    for (const cap of [0, -1, NaN]) {
      expect(() => grpoLoss(inputs, {tisCap: cap})).toThrow(`grpoLoss: 'tisCap' expected a number > 0 (Infinity allowed), got ${cap}`);
    }
    const wrong = tf.zeros([1, 2]);
    expect(() => grpoLossWithStats({...rest, rolloutLogProbs: wrong}))
        .toThrow("grpoLossWithStats: 'rolloutLogProbs' expected the shape of 'logProbs' [1,3], got [1,2]");
    wrong.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(inputs) as tf.Tensor[]);
  });
});

/** Random inputs; rollout log-probs within `spread` of old ones (weights e^-spread .. e^spread). */
function randomInputs(seed: number, batch: number, time: number, spread: number): GrpoLossInputs {
  const r = mulberry32(seed);
  const n = batch * time;
  const lp = Array.from({length: n}, () => -3 * r() - 2);
  const old = lp.map((v) => v + (r() - 0.5));
  const shape: [number, number] = [batch, time];
  return {
    logProbs: tf.tensor2d(lp, shape), oldLogProbs: tf.tensor2d(old, shape),
    refLogProbs: tf.tensor2d(lp.map((v) => v + (r() - 0.5)), shape),
    rolloutLogProbs: tf.tensor2d(old.map((v) => v + 2 * spread * (r() - 0.5)), shape),
    advantages: tf.tensor1d(Array.from({length: batch}, () => 4 * (r() - 0.5))),
    mask: tf.tensor2d(Array.from({length: n}, () => (r() < 0.8 ? 1 : 0)), shape),
  };
}

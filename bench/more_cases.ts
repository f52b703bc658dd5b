// Benchmark cases of the PPO pieces, the reductions and statistics, RLOO and the entropy: each with
// its PyTorch twin in bench/torch_reference.py (same math, same shapes, same input distributions).
import * as tf from '@tensorflow/tfjs-core';
import {
  aggregateLoss, entropyFromLogits, explainedVariance, klShapedRewards, maskedMean, maskedSum, maskedVariance,
  ppoLoss, rlooAdvantages, valueLoss, whiten,
} from '../src/index.js';
import {type BenchCase, F32, type LogProbShape, lossInputs, type Shape2} from './inputs.js';

/** lossInputs plus values, old values and returns (values ~ N(0, 1), returns within 0.5 of them). */
function ppoInputs(s: Shape2) {
  const x = lossInputs(s);
  return tf.tidy(() => {
    const values = tf.randomNormal([s.B, s.T], 0, 1, 'float32', 21) as tf.Tensor2D;
    return {
      ...x,
      values,
      oldValues: tf.add(values, tf.randomUniform([s.B, s.T], -0.1, 0.1, 'float32', 22)) as tf.Tensor2D,
      returns: tf.add(values, tf.randomUniform([s.B, s.T], -0.5, 0.5, 'float32', 23)) as tf.Tensor2D,
      advantages2d: tf.randomNormal([s.B, s.T], 0, 1, 'float32', 24) as tf.Tensor2D,
    };
  });
}

/** One case whose step is `step(inputs)`; scalar results are read back. */
function simple<T extends Record<string, tf.Tensor>>(name: string, ref: string, shape: Record<string, number>, tokens: number,
    bytes: number, make: () => T, step: (x: T) => tf.Tensor[], readScalar: boolean): BenchCase {
  return {
    name, ref, shape, tokens, bytes,
    setup: () => {
      const x = make();
      return {step: () => step(x), readScalar, dispose: () => tf.dispose(Object.values(x))};
    },
  };
}

/** PPO pieces, reductions and statistics at `[B, T]`. */
export function elementwiseExtraCases(s: Shape2): BenchCase[] {
  const shape = {B: s.B, T: s.T};
  const n = s.B * s.T;
  const ppo = () => ppoInputs(s);
  return [
    {
      name: 'ppoLoss fwd+bwd', ref: 'ppo_loss_fwd_bwd', shape, tokens: n, bytes: 7 * n * F32,
      setup: () => {
        const x = ppo();
        // d loss / d (logProbs, values): the policy and the critic, as a PPO update with a shared optimizer
        const f = tf.valueAndGrads((lp: tf.Tensor, v: tf.Tensor) => ppoLoss({
          logProbs: lp as tf.Tensor2D, oldLogProbs: x.oldLogProbs, advantages: x.advantages2d, values: v as tf.Tensor2D,
          oldValues: x.oldValues, returns: x.returns, mask: x.mask,
        }, {clipLow: 0.2, valueClip: 0.2}).loss);
        return {
          step: () => {
            const {value, grads} = f([x.logProbs, x.values]);
            return [value, ...grads];
          },
          readScalar: true, dispose: () => tf.dispose(Object.values(x)),
        };
      },
    },
    {
      name: 'valueLoss fwd+bwd', ref: 'value_loss_fwd_bwd', shape, tokens: n, bytes: 5 * n * F32,
      setup: () => {
        const x = ppo();
        const f = tf.valueAndGrad((v: tf.Tensor) =>
          valueLoss({values: v as tf.Tensor2D, oldValues: x.oldValues, returns: x.returns, mask: x.mask}, {clip: 0.2}));
        return {
          step: () => {
            const {value, grad} = f(x.values);
            return [value, grad];
          },
          readScalar: true, dispose: () => tf.dispose(Object.values(x)),
        };
      },
    },
    simple('klShapedRewards', 'kl_shaped_rewards', shape, n, 3 * n * F32, () => {
      const x = lossInputs(s);
      return {...x, kl: tf.sub(x.logProbs, x.refLogProbs), scores: tf.randomUniform([s.B], 0, 1, 'float32', 25)};
    }, (x) => [klShapedRewards({scores: x.scores as tf.Tensor1D, kl: x.kl as tf.Tensor2D, mask: x.mask}, {klCoef: 0.05})], false),
    simple('explainedVariance', 'explained_variance', shape, n, 3 * n * F32, ppo,
        (x) => [explainedVariance(x.values, x.returns, x.mask)], true),
    simple('aggregateLoss token-mean', 'aggregate_loss', shape, n, 2 * n * F32, () => lossInputs(s),
        (x) => [aggregateLoss(x.logProbs, x.mask, 'token-mean')], true),
    simple('maskedSum', 'masked_sum', shape, n, 2 * n * F32, () => lossInputs(s), (x) => [maskedSum(x.logProbs, x.mask)], true),
    simple('maskedMean', 'masked_mean', shape, n, 2 * n * F32, () => lossInputs(s), (x) => [maskedMean(x.logProbs, x.mask)], true),
    simple('maskedVariance', 'masked_variance', shape, n, 2 * n * F32, () => lossInputs(s),
        (x) => [maskedVariance(x.logProbs, x.mask)], true),
    simple('whiten', 'whiten', shape, n, 3 * n * F32, () => lossInputs(s), (x) => [whiten(x.logProbs, x.mask)], false),
  ];
}

/** RLOO advantages at B completions in groups of 16. */
export function advantageExtraCases(batch: number): BenchCase[] {
  return [simple('rlooAdvantages', 'rloo_advantages', {B: batch, G: 16}, batch, 2 * batch * F32,
      () => ({r: tf.randomUniform([batch], 0, 1, 'float32', 9)}),
      (x) => [rlooAdvantages(x.r as tf.Tensor1D, {groupSize: 16})], false)];
}

/** entropyFromLogits (forward) at the log-prob shapes. */
export function entropyCases({B, T, V}: LogProbShape): BenchCase[] {
  return [simple('entropyFromLogits', 'entropy_from_logits', {B, T, V}, B * T, B * T * V * F32,
      () => ({logits: tf.randomNormal([B, T, V], 0, 2, 'float32', 6)}),
      (x) => [entropyFromLogits(x.logits as tf.Tensor3D)], false)];
}

// Benchmark cases of the R1 pipeline's losses (fwd+bwd, loss read back): sftLoss and distillationLoss at
// the log-prob shapes, pairwiseRewardLoss at the advantage batch; their PyTorch twins are in
// bench/torch_reference_pipeline.py (same math, shapes and input distributions).
import * as tf from '@tensorflow/tfjs-core';
import {distillationLoss, pairwiseRewardLoss, sftLoss} from '../src/index.js';
import {type BenchCase, F32, type LogProbShape} from './inputs.js';

/** A fwd+bwd case: `grads(x)` returns the loss and its gradients; the loss is read back. */
function gradCase<T extends Record<string, tf.Tensor>>(name: string, ref: string, shape: Record<string, number>, tokens: number,
    bytes: number, make: () => T, grads: (x: T) => tf.Tensor[]): BenchCase {
  return {
    name, ref, shape, tokens, bytes,
    setup: () => {
      const x = make();
      return {step: () => grads(x), readScalar: true, dispose: () => tf.dispose(Object.values(x))};
    },
  };
}

/** 90 % of the tokens scored, as the other bench inputs. */
const tokenMask = (B: number, T: number, seed: number) =>
  tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, T], 0, 1, 'float32', seed), 0.1), 'float32') as tf.Tensor2D);

/** sftLoss and distillationLoss (JSD, beta 0.5) fwd+bwd w.r.t. the logits at `[B, T, V]`. */
export function pipelineLossCases({B, T, V}: LogProbShape): BenchCase[] {
  const shape = {B, T, V};
  const logits = (seed: number) => tf.randomNormal([B, T, V], 0, 2, 'float32', seed) as tf.Tensor3D;
  return [
    gradCase('sftLoss fwd+bwd', 'sft_loss_fwd_bwd', shape, B * T, 2 * B * T * V * F32,
        () => ({logits: logits(31), labels: tf.randomUniform([B, T], 0, V, 'int32', 32) as tf.Tensor2D, mask: tokenMask(B, T, 33)}),
        (x) => {
          const {value, grad} = tf.valueAndGrad((l: tf.Tensor) => sftLoss({logits: l as tf.Tensor3D, labels: x.labels, mask: x.mask}))(x.logits);
          return [value, grad];
        }),
    gradCase('distillationLoss jsd fwd+bwd', 'distillation_jsd_fwd_bwd', shape, B * T, 3 * B * T * V * F32,
        () => ({student: logits(34), teacher: logits(35), mask: tokenMask(B, T, 36)}),
        (x) => {
          const f = tf.valueAndGrad((s: tf.Tensor) => distillationLoss({studentLogits: s as tf.Tensor3D, teacherLogits: x.teacher, mask: x.mask}));
          const {value, grad} = f(x.student);
          return [value, grad];
        }),
  ];
}

/** pairwiseRewardLoss fwd+bwd w.r.t. both reward vectors at `pairs` pairs. */
export function rewardModelLossCases(pairs: number): BenchCase[] {
  return [gradCase('pairwiseRewardLoss fwd+bwd', 'pairwise_reward_loss_fwd_bwd', {B: pairs}, pairs, 4 * pairs * F32,
      () => ({chosen: tf.randomNormal([pairs], 0.5, 1, 'float32', 37) as tf.Tensor1D, rejected: tf.randomNormal([pairs], 0, 1, 'float32', 38) as tf.Tensor1D}),
      (x) => {
        const {value, grads} = tf.valueAndGrads((c: tf.Tensor, r: tf.Tensor) =>
          pairwiseRewardLoss({chosenRewards: c as tf.Tensor1D, rejectedRewards: r as tf.Tensor1D}))([x.chosen, x.rejected]);
        return [value, ...grads];
      })];
}

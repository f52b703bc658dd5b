/**
 * Gradient computation with per-group global-norm clipping.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {check} from '../math/assert.js';

/** Result of {@link applyClippedGradients}; the caller disposes the tensors. */
export interface AppliedGradients {
  /** The loss value (before the update). */
  loss: tf.Scalar;
  /** The global gradient norm of each variable group, before clipping. */
  gradNorms: tf.Scalar[];
}

/**
 * Computes the gradients of `lossFn` with respect to every variable of `groups`, scales each group's
 * gradients so that their global L2 norm is at most `maxNorm` (as `torch.nn.utils.clip_grad_norm_`,
 * per group so that a critic's large early gradients do not shrink the policy's), and applies them
 * with `optimizer`. Variables that the loss does not reach get no update. Tensors that `lossFn` wants to keep must be wrapped in `tf.keep`.
 *
 * @param optimizer a tfjs optimizer (e.g. `tf.train.adam`).
 * @param lossFn returns the scalar loss; runs inside the gradient tape.
 * @param groups variable groups (e.g. `[policyVars, criticVars]`), all trainable.
 * @param maxNorm clip threshold > 0; `Infinity` disables clipping.
 * @returns `{loss, gradNorms}`.
 * @throws when a group is empty or holds a non-trainable variable.
 * @example
 * const w = tf.variable(tf.tensor1d([3, 4]));
 * const optimizer = tf.train.sgd(0.1);
 * const {loss, gradNorms} = applyClippedGradients(optimizer, () => tf.sum(tf.square(w)) as tf.Scalar, [[w]], 1);
 * // gradient 2w = [6, 8] has norm 10 (gradNorms[0]); clipped to norm 1: w = [3 - 0.06, 4 - 0.08] = [2.94, 3.92]
 * tf.dispose([loss, ...gradNorms]);
 */
export function applyClippedGradients(
    optimizer: tf.Optimizer, lossFn: () => tf.Scalar, groups: readonly tf.Variable[][], maxNorm: number): AppliedGradients {
  const fn = 'applyClippedGradients';
  check(groups.length > 0 && groups.every((g) => g.length > 0 && g.every((v) => v.trainable)), fn, () =>
    `'groups' expected non-empty groups of trainable variables (is the policy a frozen copy?)`);
  check(typeof maxNorm === 'number' && maxNorm > 0, fn, () => `'maxNorm' expected > 0, got ${maxNorm}`);
  const {value, grads} = tf.variableGrads(lossFn, groups.flat());
  const gradNorms: tf.Scalar[] = [];
  const scaled = tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    for (const group of groups) {
      // Variables the loss does not reach (a model's unused weights) have no gradient: left alone.
      const used = group.filter((v) => grads[v.name] !== undefined && grads[v.name] !== null);
      const gs = used.map((v) => grads[v.name]!);
      // One concat of the per-variable squared sums, not tf.addN: tfjs-webgpu's AddN binds one storage
      // buffer per input, and a model's dozens of variables exceed WebGPU's per-stage limit (8 by default).
      const norm = (gs.length === 0 ? tf.scalar(0)
        : tf.sqrt(tf.sum(tf.concat(gs.map((g) => tf.reshape(tf.sum(tf.square(g)), [1])))))) as tf.Scalar;
      gradNorms.push(tf.keep(norm));
      const factor = Number.isFinite(maxNorm) ? tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
      used.forEach((v, i) => { out[v.name] = tf.mul(gs[i]!, factor); });
    }
    return out;
  });
  optimizer.applyGradients(scaled);
  tf.dispose([...Object.values(grads), ...Object.values(scaled)]);
  return {loss: value, gradNorms};
}

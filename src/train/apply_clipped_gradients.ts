/**
 * Gradient computation with per-group global-norm clipping.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {check, describeNonTensor, fmtShape, syncValueChecksEnabled, valueChecksEnabled} from '../math/assert.js';
import type {AdamGuard} from '../math/fused/adam_webgpu.js';
import {clipFactorsWebGPU} from '../math/fused/sum_squares_webgpu.js';
import {type FusedAdamEntry, fusedAdamUpdate} from './fused_adam_update.js';

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
 * norm_k = sqrt(sum over group k's gradients g of sum(g^2)); g is scaled by min(1, maxNorm / (norm_k + 1e-6)).
 *
 * On webgpu (direct dispatch) the norms are fused kernels (a few dispatches per gradient instead of
 * one-workgroup reductions), and when `optimizer` is exactly tfjs's `AdamOptimizer`
 * (`tf.train.adam(...)`) the update is one fused kernel per variable with the clip factor folded in,
 * on the optimizer's own state (moments, accBeta, iterations), same float32 math as tfjs's; any other
 * optimizer gets the scaled gradients through its `applyGradients`.
 *
 * @param optimizer a tfjs optimizer (e.g. `tf.train.adam`).
 * @param lossFn returns the scalar loss; runs inside the gradient tape.
 * @param groups variable groups (e.g. `[policyVars, criticVars]`), all trainable.
 * @param maxNorm clip threshold > 0; `Infinity` disables clipping.
 * @returns `{loss, gradNorms}`.
 * @throws when a group is empty or holds a non-trainable variable, `lossFn` does not return a scalar,
 *   or (a value check, one read-back of the norms; skipped when value checks are off) the global
 *   gradient norm is NaN or infinite, in which case nothing is applied (variables and optimizer state
 *   unchanged). On webgpu no synchronous read is added: with `tf.train.adam` the fused update reads
 *   the norms on the GPU, leaves the variables and moments unchanged, and the error is thrown by the
 *   next fused call; with another optimizer a NaN shows only in the `gradNorms` the caller reads.
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
  check(typeof lossFn === 'function', fn, () => `'lossFn' expected a function returning the scalar loss, got ${describeNonTensor(lossFn).split(';')[0]}`);
  const variables = groups.flat();
  let badLoss: string | undefined;
  const {value, grads} = tf.variableGrads(() => {
    const loss: unknown = lossFn();
    if (loss instanceof tf.Tensor && loss.rank === 0) return loss as tf.Scalar;
    // Not a scalar: tfjs would say "The f passed in variableGrads(f) must return a scalar". Throwing here
    // would leak the tensors the tape saved, so the backward pass runs on a stand-in scalar and the
    // error is thrown after it (a cost of the error path only).
    badLoss = loss instanceof tf.Tensor ? `shape ${fmtShape(loss.shape)}` : describeNonTensor(loss, 0).split(';')[0];
    return (loss instanceof tf.Tensor ? tf.sum(tf.cast(loss, 'float32')) : tf.sum(tf.mul(variables[0]!, 0))) as tf.Scalar;
  }, variables);
  if (badLoss !== undefined) {
    tf.dispose([value, ...Object.values(grads)]);
    check(false, fn, () => `'lossFn' expected to return a scalar, got ${badLoss}`);
  }
  // Variables the loss does not reach (a model's unused weights) have no gradient: left alone.
  const used = groups.map((group) => group.filter((v) => grads[v.name] !== undefined && grads[v.name] !== null));
  // The update's variables in the order an optimizer sees them: Object.keys of the gradient map (tfjs's
  // AdamOptimizer pairs its moments with variables by that position; integer-like names sort first).
  const byName: Record<string, FusedAdamEntry> = {};
  used.forEach((group, k) => group.forEach((v) => { byName[v.name] = {variable: v, grad: grads[v.name]!, group: k}; }));
  const entries = Object.keys(byName).map((name) => byName[name]!);
  const gradNorms: tf.Scalar[] = [];
  let fused = false;
  let scaled: tf.NamedTensorMap;
  try {
    scaled = tf.tidy(() => {
      const clip = clipFactors(used.map((group) => group.map((v) => grads[v.name]!)), maxNorm);
      assertFiniteNorms(clip.norms, fn);
      for (const norm of clip.norms) gradNorms.push(tf.keep(norm));
      // tf.train.adam on webgpu: one kernel per variable, the clip factor folded in (fused_adam_update.ts).
      fused = fusedAdamUpdate(optimizer, entries, clip.vector, undefined, gpuGuard(clip.norms, fn));
      const out: tf.NamedTensorMap = {};
      if (!fused) for (const e of entries) out[e.variable.name] = tf.mul(e.grad, clip.factor(e.group));
      return out;
    });
  } catch (e) {
    tf.dispose([value, ...Object.values(grads), ...gradNorms]);
    throw e;
  }
  // Outside the tidy: an optimizer may keep tensors it creates there.
  if (!fused) optimizer.applyGradients(scaled);
  tf.dispose([...Object.values(grads), ...Object.values(scaled)]);
  return {loss: value, gradNorms};
}

/**
 * Throws when a group's gradient norm is NaN or infinite (a NaN / infinite loss or gradient), before
 * anything is applied. One read-back of the norms; a value check, skipped when value checks are off
 * and on webgpu (no synchronous read added to the step there: the caller reads `gradNorms`).
 */
/**
 * On webgpu with value checks on, the fused Adam update's guard: it reads the norms on the GPU and,
 * when one is NaN or infinite, changes nothing and raises this error at the next fused call (the
 * synchronous check above cannot read there). Undefined elsewhere.
 */
function gpuGuard(norms: tf.Scalar[], fn: string): (() => AdamGuard) | undefined {
  if (!valueChecksEnabled() || tf.getBackend() !== 'webgpu' || norms.length === 0) return undefined;
  return () => ({norms: tf.concat(norms.map((n) => tf.reshape(n, [1]))) as tf.Tensor1D,
    message: () => `${fn}: the gradients are not finite (a NaN or infinite global norm); ` +
      'the variables and the Adam moments were left unchanged'});
}

function assertFiniteNorms(norms: tf.Scalar[], fn: string): void {
  if (!syncValueChecksEnabled() || tf.getBackend() === 'webgpu' || norms.length === 0) return;
  const values = tf.concat(norms.map((n) => tf.reshape(n, [1]))).dataSync();
  let sumSquares = 0;
  for (const v of values) sumSquares += v * v;
  const global = Math.sqrt(sumSquares);
  if (Number.isFinite(global)) return;
  const perGroup = values.length > 1 ? `; group norms [${Array.from(values).join(', ')}]` : '';
  throw new Error(`${fn}: the gradients are not finite (global norm ${global}${perGroup}); the variables were left unchanged`);
}

/** Elements from which a tensor of rank >= 2 is reduced in two steps (see {@link sumOfSquares}). */
const TWO_STEP_MIN_SIZE = 1 << 16;

/**
 * sum(g^2) as a scalar. A big tensor of rank >= 2 sums its last axis first: a reduction of a whole
 * tensor runs in one workgroup on webgpu (134 ms for a [151936, 896] gradient), one row per
 * workgroup spreads it over the GPU.
 */
function sumOfSquares(g: tf.Tensor): tf.Scalar {
  const sq = tf.square(g);
  return (g.rank >= 2 && g.size >= TWO_STEP_MIN_SIZE ? tf.sum(tf.sum(sq, -1)) : tf.sum(sq)) as tf.Scalar;
}

/** Per-group norms and clip factors (tensors of the surrounding tidy). */
interface ClipFactors {
  norms: tf.Scalar[];
  /** The clip factor of group k (a scalar). */
  factor(k: number): tf.Scalar;
  /** Every group's clip factor, `[groups]`. */
  vector(): tf.Tensor1D;
}

/**
 * norm_k = sqrt(sum over the group's gradients g of sum(g^2)) and factor_k = min(1, maxNorm / (norm_k + 1e-6))
 * (1 when `maxNorm` is Infinity): the fused webgpu kernels where they apply, else the composed ops.
 */
function clipFactors(gradGroups: tf.Tensor[][], maxNorm: number): ClipFactors {
  const fused = clipFactorsWebGPU(gradGroups, maxNorm);
  if (fused !== null) {
    const scalars: tf.Scalar[] = [];
    return {norms: fused.norms, vector: () => fused.factors,
      factor: (k) => (scalars[k] ??= tf.reshape(tf.slice(fused.factors, [k], [1]), []) as tf.Scalar)};
  }
  // One concat of the per-variable squared sums, not tf.addN: tfjs-webgpu's AddN binds one storage
  // buffer per input, and a model's dozens of variables exceed WebGPU's per-stage limit (8 by default).
  const norms = gradGroups.map((gs) => (gs.length === 0 ? tf.scalar(0)
    : tf.sqrt(tf.sum(tf.concat(gs.map((g) => tf.reshape(sumOfSquares(g), [1])))))) as tf.Scalar);
  const factors = norms.map((norm) => (Number.isFinite(maxNorm) ? tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)))
    : tf.scalar(1)) as tf.Scalar);
  return {norms, factor: (k) => factors[k]!, vector: () => tf.concat(factors.map((f) => tf.reshape(f, [1]))) as tf.Tensor1D};
}

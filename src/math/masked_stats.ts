/**
 * Masked reductions over per-token tensors: sum, mean, variance and whitening that only look at the
 * positions where `mask` is 1 (completion tokens), never at padding.
 *
 * Padding values never leak in, even when they are NaN or infinite: masked positions are selected
 * away with `tf.where`, not multiplied by 0 (0 * Inf = NaN), so they also get exactly zero gradient.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertBinaryMask, assertDtype, assertFiniteOnMask, assertKnownOptions, assertNumber, assertSameShape, assertTensor, check,
} from './assert.js';
import {type MaskedStat, maskedStatWebGPU} from './fused/masked_stats_webgpu.js';

/** Options of {@link maskedSum} and {@link maskedMean}. */
export interface MaskedReduceOptions {
  /**
   * Axis or axes to reduce (negative counts from the end). Default: all axes (a scalar, the
   * batch-global reduction).
   */
  axis?: number | number[];
}

/** Options of {@link maskedVariance}. */
export interface MaskedVarianceOptions {
  /** Bessel's correction with the masked count n (divide by n - 1 instead of n); default `true`. */
  unbiased?: boolean;
}

/** Options of {@link whiten}. */
export interface WhitenOptions {
  /**
   * `true` (default): return (x - mean) / sqrt(var + epsilon). `false`: add the mean back, so only
   * the spread is normalised (verl's `shift_mean=False`).
   */
  shiftMean?: boolean;
  /** Bessel-corrected variance, as verl's `masked_whiten`; default `true`. */
  unbiased?: boolean;
  /** Added to the variance under the square root; default `1e-8` (verl's). Must be > 0. */
  epsilon?: number;
}

const MASK_DTYPES = ['float32', 'int32', 'bool'] as const;

function validate(fn: string, x: unknown, mask: unknown): asserts x is tf.Tensor {
  assertTensor(x, fn, 'x');
  assertDtype(x, 'float32', fn, 'x');
  assertSameShape(mask, x, fn, 'mask', 'x');
  assertDtype(mask, MASK_DTYPES, fn, 'mask');
  assertBinaryMask(mask, fn);
}

function normalizeAxes(axis: number | number[] | undefined, rank: number, fn: string): number[] | undefined {
  if (axis === undefined) return undefined;
  const list = typeof axis === 'number' ? [axis] : axis;
  check(Array.isArray(list) && list.length > 0, fn, () => `'axis' expected a number or a non-empty array, got ${String(axis)}`);
  const seen = new Set<number>();
  for (const a of list) {
    assertNumber(a, fn, 'axis', {integer: true});
    check(a >= -rank && a < rank, fn, () => `'axis' expected an axis in [${-rank}, ${rank}) for 'x' of rank ${rank}, got ${a}`);
    const pos = a < 0 ? a + rank : a;
    check(!seen.has(pos), fn, () => `'axis' expected distinct axes, got ${JSON.stringify(axis)}`);
    seen.add(pos);
  }
  return [...seen];
}

/**
 * The fused webgpu reduction for all axes or the last axis only (null otherwise, or where the kernels
 * do not apply: the composed ops run then).
 */
function fusedReduce(fn: string, x: tf.Tensor, mask: tf.Tensor, axes: number[] | undefined, kind: 'sum' | 'mean'): tf.Tensor | null {
  const all = axes === undefined || axes.length === x.rank;
  const last = axes !== undefined && axes.length === 1 && axes[0] === x.rank - 1;
  if (!all && !last) return null;
  const stat: MaskedStat = all ? kind : kind === 'sum' ? 'rowSum' : 'rowMean';
  return maskedStatWebGPU(fn, x, mask, stat);
}

/** x where mask is 1, exactly 0 elsewhere (NaN/Inf padding never leaks, zero gradient there). */
function select(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.where(tf.cast(mask, 'bool'), x, tf.zerosLike(x));
}

/** sum / count where count > 0, else 0 (never NaN). */
function safeMean(sum: tf.Tensor, count: tf.Tensor): tf.Tensor {
  return tf.where(tf.greater(count, 0), tf.div(sum, tf.maximum(count, 1)), tf.zerosLike(sum));
}

function meanAndVariance(
    x: tf.Tensor, mask: tf.Tensor, unbiased: boolean): {xs: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor} {
  // Select first: every later op sees finite values only, so NaN padding cannot reach a gradient.
  const xs = select(x, mask);
  const count = tf.sum(tf.cast(mask, 'float32'));
  const mean = safeMean(tf.sum(xs), count);
  const sq = tf.sum(select(tf.square(tf.sub(xs, mean)), mask));
  const variance = safeMean(sq, unbiased ? tf.sub(count, 1) : count);
  return {xs, mean, variance};
}

/**
 * Sum of `x` over the positions where `mask` is 1.
 *
 * S = sum_i mask_i * x_i (over `axis`, or all axes). Masked positions contribute exactly 0 whatever
 * their value (NaN included) and get zero gradient.
 *
 * On webgpu (the direct-dispatch backend) the masked sum over all axes or over the last axis runs as
 * fused dispatches when no gradient tape records (the 0/1 mask check in the kernel: a failure gives
 * NaN and the named error on the next fused call); other axes and calls under a tape run the tfjs ops.
 *
 * @param x `[batch, time]` (any shape) float32.
 * @param mask same shape as `x`; 1 = counted, 0 = padding (float32, int32 or bool; holes allowed).
 * @param options.axis axis or axes to reduce; default all (scalar).
 * @returns the masked sum; a scalar by default, else `x`'s shape without `axis`. 0 where
 *   everything is masked.
 * @throws Error naming the function and the argument on a wrong shape or dtype, a mask that is not
 *   0/1, NaN / +-Infinity in `x` where `mask` is 1 (value checks: skipped with
 *   `configureValidation({valueChecks: false})`; on webgpu the fused kernels check the mask only), or a bad `axis`.
 * @example
 * const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
 * const mask = tf.tensor2d([[1, 1, 0], [1, 0, 0]]);
 * maskedSum(x, mask); // 7
 * maskedSum(x, mask, {axis: 1}); // [3, 4]
 */
export function maskedSum(x: tf.Tensor, mask: tf.Tensor, options: MaskedReduceOptions = {}): tf.Tensor {
  const fn = 'maskedSum';
  assertKnownOptions(options, ['axis'], fn);
  validate(fn, x, mask);
  const axes = normalizeAxes(options.axis, x.rank, fn);
  const fused = fusedReduce(fn, x, mask, axes, 'sum');
  if (fused !== null) return fused;
  assertFiniteOnMask(x, mask, fn, 'x');
  return tf.tidy(() => tf.sum(select(x, mask), axes));
}

/**
 * Mean of `x` over the positions where `mask` is 1.
 *
 * M = sum_i mask_i * x_i / sum_i mask_i (over `axis`, or all axes: the batch-global token mean).
 * Where the mask is all 0 (a fully masked input or row) the result is defined as 0, not NaN, and
 * the gradient is 0.
 *
 * On webgpu (the direct-dispatch backend) the masked mean over all axes or over the last axis runs as
 * fused dispatches when no gradient tape records (the 0/1 mask check in the kernel: a failure gives
 * NaN and the named error on the next fused call); other axes and calls under a tape run the tfjs ops.
 *
 * @param x `[batch, time]` (any shape) float32.
 * @param mask same shape as `x`; 1 = counted, 0 = padding (float32, int32 or bool; holes allowed).
 * @param options.axis axis or axes to reduce; default all (scalar).
 * @returns the masked mean; a scalar by default, else `x`'s shape without `axis`.
 * @throws Error naming the function and the argument on a wrong shape or dtype, a mask that is not
 *   0/1, NaN / +-Infinity in `x` where `mask` is 1 (value checks: skipped with
 *   `configureValidation({valueChecks: false})`; on webgpu the fused kernels check the mask only), or a bad `axis`.
 * @example
 * const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
 * const mask = tf.tensor2d([[1, 1, 0], [1, 0, 0]]);
 * maskedMean(x, mask); // 7 / 3
 * maskedMean(x, mask, {axis: 1}); // [1.5, 4]
 */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor, options: MaskedReduceOptions = {}): tf.Tensor {
  const fn = 'maskedMean';
  assertKnownOptions(options, ['axis'], fn);
  validate(fn, x, mask);
  const axes = normalizeAxes(options.axis, x.rank, fn);
  const fused = fusedReduce(fn, x, mask, axes, 'mean');
  if (fused !== null) return fused;
  assertFiniteOnMask(x, mask, fn, 'x');
  return tf.tidy(() => safeMean(tf.sum(select(x, mask), axes), tf.sum(tf.cast(mask, 'float32'), axes)));
}

/**
 * Variance of `x` over the positions where `mask` is 1 (batch-global).
 *
 * mean = maskedMean(x, mask); var = sum_i mask_i (x_i - mean)^2 / (n - 1), n = sum_i mask_i
 * (Bessel's correction with the masked count, as verl's `masked_var`; divide by n when
 * `unbiased: false`). Defined as 0 when n = 0, and when n = 1 with `unbiased` (verl raises there).
 *
 * On webgpu (the direct-dispatch backend) this runs as fused dispatches when no gradient tape
 * records (the 0/1 mask check in the kernel: a failure gives NaN and the named error on the next
 * fused call); under a tape it runs the tfjs ops.
 *
 * @param x `[batch, time]` (any shape) float32.
 * @param mask same shape as `x`; 1 = counted, 0 = padding.
 * @param options.unbiased Bessel's correction; default `true`.
 * @returns scalar float32.
 * @throws Error naming the function and the argument on a wrong shape or dtype, a mask that is not
 *   0/1, NaN / +-Infinity in `x` where `mask` is 1 (value checks: skipped with
 *   `configureValidation({valueChecks: false})`; on webgpu the fused kernels check the mask only), or a bad option.
 * @example
 * const x = tf.tensor2d([[1, 2, 3, 100]]);
 * const mask = tf.tensor2d([[1, 1, 1, 0]]);
 * maskedVariance(x, mask); // 1  (mean 2, squares 1 + 0 + 1 = 2, / (3 - 1))
 */
export function maskedVariance(x: tf.Tensor, mask: tf.Tensor, options: MaskedVarianceOptions = {}): tf.Scalar {
  const fn = 'maskedVariance';
  assertKnownOptions(options, ['unbiased'], fn);
  const {unbiased = true} = options;
  check(typeof unbiased === 'boolean', fn, () => `'unbiased' expected a boolean, got ${String(unbiased)}`);
  validate(fn, x, mask);
  const fused = maskedStatWebGPU(fn, x, mask, 'variance', {unbiased});
  if (fused !== null) return fused as tf.Scalar;
  assertFiniteOnMask(x, mask, fn, 'x');
  return tf.tidy(() => meanAndVariance(x, mask, unbiased).variance as tf.Scalar);
}

/**
 * Whitens `x` with its masked (batch-global) mean and variance.
 *
 * W = (x - mean) / sqrt(var + epsilon), mean and var from {@link maskedMean} / {@link maskedVariance}
 * (unbiased by default), as verl's `masked_whiten` (used for GAE and REINFORCE++ advantages);
 * `shiftMean: false` adds the mean back: W + mean. Unlike verl, masked positions of the result are
 * exactly 0 (verl leaves whitened padding values there). A fully masked input gives all zeros.
 *
 * On webgpu (the direct-dispatch backend) this runs as fused dispatches when no gradient tape
 * records (the 0/1 mask check in the kernel: a failure gives NaN and the named error on the next
 * fused call); under a tape it runs the tfjs ops.
 *
 * @param x `[batch, time]` (any shape) float32.
 * @param mask same shape as `x`; 1 = counted, 0 = padding.
 * @param options.shiftMean centre on 0; default `true`.
 * @param options.unbiased Bessel-corrected variance; default `true`.
 * @param options.epsilon added to the variance; default `1e-8`.
 * @returns same shape as `x`, float32; 0 at masked positions.
 * @throws Error naming the function and the argument on a wrong shape or dtype, a mask that is not
 *   0/1, NaN / +-Infinity in `x` where `mask` is 1 (value checks: skipped with
 *   `configureValidation({valueChecks: false})`; on webgpu the fused kernels check the mask only), or a bad option.
 * @example
 * const x = tf.tensor2d([[1, 2, 3, 100]]);
 * const mask = tf.tensor2d([[1, 1, 1, 0]]);
 * whiten(x, mask); // ~[[-1, 0, 1, 0]]  (mean 2, var 1)
 */
export function whiten(x: tf.Tensor, mask: tf.Tensor, options: WhitenOptions = {}): tf.Tensor {
  const fn = 'whiten';
  assertKnownOptions(options, ['shiftMean', 'unbiased', 'epsilon'], fn);
  const {shiftMean = true, unbiased = true, epsilon = 1e-8} = options;
  check(typeof shiftMean === 'boolean', fn, () => `'shiftMean' expected a boolean, got ${String(shiftMean)}`);
  check(typeof unbiased === 'boolean', fn, () => `'unbiased' expected a boolean, got ${String(unbiased)}`);
  assertNumber(epsilon, fn, 'epsilon', {min: 0, minExclusive: true});
  validate(fn, x, mask);
  const fused = maskedStatWebGPU(fn, x, mask, 'whiten', {unbiased, epsilon, shiftMean});
  if (fused !== null) return fused;
  assertFiniteOnMask(x, mask, fn, 'x');
  return tf.tidy(() => {
    const {xs, mean, variance} = meanAndVariance(x, mask, unbiased);
    let w = tf.mul(tf.sub(xs, mean), tf.rsqrt(tf.add(variance, epsilon)));
    if (!shiftMean) w = tf.add(w, mean);
    return select(w, mask);
  });
}

/**
 * Round-to-nearest-even of float32 tensor values onto an FP8 grid, with tensor ops only (so it runs on
 * every backend without reading data back).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {FP8_FORMATS, type Fp8Format} from './fp8_format.js';

const LN2 = Math.LN2;

/** The normal exponents of a format, e = 1 - bias ... floor(log2(max)). */
function exponentRange(format: Fp8Format): {lo: number; hi: number} {
  const spec = FP8_FORMATS[format];
  return {lo: 1 - spec.bias, hi: Math.floor(Math.log2(spec.max))};
}

/**
 * @internal The value of `x.to(torch.float8_*).float()` for every element of a float32 tensor: round
 * to nearest, ties to even, onto the FP8 grid (subnormals included), signed zeros kept, PyTorch's
 * overflow rule (e4m3: |x| > 464 or non-finite -> NaN; e5m2: |x| >= 61440 -> ±inf, NaN stays NaN).
 *
 * Every step is exact in float32: the exponent is estimated with `log` and corrected by comparing with
 * exact powers of two (`pow` rounded to an integer), the quantum 2^(e - mantissaBits) is a power of
 * two so `x / quantum` is exact, and the half-even rounding is built from `floor` (tf.round is not
 * half-even on every backend).
 */
export function roundToFp8Grid(x: tf.Tensor, format: Fp8Format): tf.Tensor {
  return tf.tidy(() => {
    const spec = FP8_FORMATS[format];
    const {lo, hi} = exponentRange(format);
    const m = spec.mantissaBits;
    const a = tf.abs(x);
    const finite = tf.isFinite(a);
    // Clamped to [minNormal, max]: the exponent of a subnormal is that of minNormal; values above max
    // either keep max's exponent (e4m3 (448, 464], e5m2 (57344, 61440)) or are replaced below.
    const clamped = tf.clipByValue(tf.where(finite, a, tf.zerosLike(a)), spec.minNormal, spec.max);
    const estimate = tf.clipByValue(tf.floor(tf.div(tf.log(clamped), LN2)), lo, hi);
    // 2^estimate, exact: 2^(estimate - lo) is an integer below 2^30, so rounding pow's result fixes any
    // approximation of the backend's pow.
    const p = tf.mul(tf.round(tf.pow(2, tf.sub(estimate, lo))), 2 ** lo);
    // Correct the estimate by one either way, so that 2^e <= clamped < 2^(e+1) (at most one holds).
    const factor = tf.add(tf.sub(1, tf.mul(tf.cast(tf.greater(p, clamped), 'float32'), 0.5)),
        tf.cast(tf.lessEqual(tf.mul(p, 2), clamped), 'float32'));
    const quantum = tf.mul(tf.mul(p, factor), 2 ** -m);                 // 2^(e - m)
    const t = tf.div(a, quantum);                                      // exact: quantum is 2^k
    const f = tf.floor(t);
    const frac = tf.sub(t, f);                                         // exact: t < 2^24
    const odd = tf.equal(tf.sub(f, tf.mul(tf.floor(tf.mul(f, 0.5)), 2)), 1);
    const up = tf.logicalOr(tf.greater(frac, 0.5), tf.logicalAnd(tf.equal(frac, 0.5), odd));
    let q = tf.mul(tf.add(f, tf.cast(up, 'float32')), quantum);
    if (format === 'e4m3') {
      const nan = tf.logicalOr(tf.logicalNot(finite), tf.greater(a, (spec.max + 480) / 2)); // > 464: 480 would be the next step
      q = tf.where(nan, tf.fill(q.shape, NaN), q);
    } else {
      const inf = tf.greaterEqual(a, (spec.max + 2 ** (hi + 1)) / 2);  // >= 61440, infinities included
      q = tf.where(tf.isNaN(a), tf.fill(q.shape, NaN), tf.where(inf, tf.fill(q.shape, Infinity), q));
    }
    // Sign, -0 included (x < 0, or x = -0 where 1 / x = -inf).
    const negative = tf.logicalOr(tf.less(x, 0), tf.less(tf.div(1, x), 0));
    return tf.where(negative, tf.neg(q), q);
  });
}

/**
 * A simulated FP8 GEMM with fine-grained scaling and limited-precision tensor-core accumulation,
 * DeepSeek-V3 §3.3.2 (Figure 7b).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertDtype, assertKnownOptions, assertNumber, assertRank, check} from './assert.js';
import {quantizeFp8Tiles, resolveFakeQuantOptions} from './fake_quant_fp8.js';
import type {Fp8Format} from './fp8_format.js';

/** Options of {@link fp8Matmul}. */
export interface Fp8MatmulOptions {
  /** FP8 format of both operands; default `'e4m3'`. */
  format?: Fp8Format;
  /** Tile of `a` `[rows, k]`, one scale each; default `[1, 128]` (activations). */
  aTile?: readonly [number, number];
  /** Tile of `b` `[k, cols]`; default `[128, 128]` (weight blocks). */
  bTile?: readonly [number, number];
  /**
   * Significand bits (leading 1 included) the tensor-core accumulator keeps; default `14` (V3: "around
   * 14 bits" on H800). `24` is float32 precision (with truncation instead of rounding).
   */
  accumulatorBits?: number;
  /** K of one MMA instruction, whose products are summed before they meet the accumulator; default `32` (Hopper WGMMA, FP8). */
  mmaK?: number;
  /**
   * Promote the accumulator to float32 every this many elements of K (V3's N_C), applying the two
   * tiles' scales there; default `128`. `Infinity`: never (the whole K in the limited accumulator).
   * Must be a multiple of `mmaK` that divides the K sizes of both tiles (or `Infinity`).
   */
  promotionInterval?: number;
}

const KNOWN = ['format', 'aTile', 'bTile', 'accumulatorBits', 'mmaK', 'promotionInterval'];

/** 2^k for k = -126 ... 127 (float32 normal exponents), exact. */
let powerTable: tf.Tensor1D | undefined;
function powersOfTwo(): tf.Tensor1D {
  if (powerTable === undefined || powerTable.isDisposed) {
    powerTable = tf.keep(tf.tensor1d(Array.from({length: 254}, (_, i) => 2 ** (i - 126))));
  }
  return powerTable;
}

/**
 * @internal Truncates (rounds toward zero) float32 values to `bits` significand bits, the model of the
 * tensor core's accumulator register. Exact in float32: exponent from `log2` corrected against exact
 * powers of two, quantum 2^(e - bits + 1).
 */
export function truncateSignificand(x: tf.Tensor, bits: number): tf.Tensor {
  return tf.tidy(() => {
    const a = tf.abs(x);
    const clamped = tf.clipByValue(a, 2 ** -126, 3.4e38);
    const index = tf.cast(tf.clipByValue(tf.add(tf.floor(tf.div(tf.log(clamped), Math.LN2)), 126), 0, 253), 'int32');
    const p = tf.gather(powersOfTwo(), index);
    const factor = tf.where(tf.greater(p, clamped), tf.fill(p.shape, 0.5),
        tf.where(tf.lessEqual(tf.mul(p, 2), clamped), tf.fill(p.shape, 2), tf.onesLike(p)));
    const quantum = tf.mul(tf.mul(p, factor), 2 ** (1 - bits));
    const kept = tf.mul(tf.floor(tf.div(a, quantum)), quantum);
    return tf.where(tf.less(x, 0), tf.neg(kept), kept);
  });
}

/** @internal Resolved options of {@link fp8Matmul}. */
export interface ResolvedFp8MatmulOptions {
  format: Fp8Format; aTile: [number, number]; bTile: [number, number];
  accumulatorBits: number; mmaK: number; promotionInterval: number;
}

/** @internal Validates {@link Fp8MatmulOptions}. */
export function resolveFp8MatmulOptions(options: Fp8MatmulOptions | undefined, fn: string): ResolvedFp8MatmulOptions {
  assertKnownOptions(options, KNOWN, fn);
  const o = options ?? {};
  const {format, tile: aTile} = resolveFakeQuantOptions({format: o.format, tile: o.aTile ?? [1, 128]}, fn);
  const {tile: bTile} = resolveFakeQuantOptions({format, tile: o.bTile ?? [128, 128]}, fn);
  const {accumulatorBits = 14, mmaK = 32, promotionInterval = 128} = o;
  assertNumber(accumulatorBits, fn, 'accumulatorBits', {integer: true, min: 2, max: 24});
  assertNumber(mmaK, fn, 'mmaK', {integer: true, min: 1});
  if (promotionInterval !== Infinity) {
    assertNumber(promotionInterval, fn, 'promotionInterval', {integer: true, min: 1});
    check(promotionInterval % mmaK === 0, fn, () =>
      `'promotionInterval' expected a multiple of mmaK=${mmaK} or Infinity, got ${promotionInterval}`);
    check(aTile[1] % promotionInterval === 0 && bTile[0] % promotionInterval === 0, fn, () =>
      `'promotionInterval' expected a divisor of the K tile sizes aTile[1]=${aTile[1]} and bTile[0]=${bTile[0]} ` +
      `(scales are constant between promotions), got ${promotionInterval}`);
  }
  return {format, aTile, bTile, accumulatorBits, mmaK, promotionInterval};
}

/** Scale of every K index: `[rows, K]` from per-tile `[rows / tr, K / tk]` scales (a) or the transposed layout (b). */
function scalesPerK(scales: tf.Tensor2D, repeatRows: number, repeatK: number, rows: number, K: number): tf.Tensor2D {
  const [nr, nk] = scales.shape;
  const full = tf.reshape(tf.tile(tf.reshape(scales, [nr, 1, nk, 1]), [1, repeatRows, 1, repeatK]), [nr * repeatRows, nk * repeatK]);
  return tf.slice(full, [0, 0], [rows, K]) as tf.Tensor2D;
}

/** @internal The simulated GEMM on resolved options; call inside `tf.tidy`. */
export function fp8MatmulResolved(a: tf.Tensor2D, b: tf.Tensor2D, o: ResolvedFp8MatmulOptions): tf.Tensor2D {
  const [M, K] = a.shape;
  const N = b.shape[1];
  const A = quantizeFp8Tiles(tf.reshape(a, [1, M, K]), o.format, o.aTile);
  const Bq = quantizeFp8Tiles(tf.reshape(b, [1, K, N]), o.format, o.bTile);
  const qa = tf.reshape(A.q, [M, K]);
  const qb = tf.reshape(Bq.q, [K, N]);
  const sa = scalesPerK(tf.reshape(A.scales, A.scales.shape.slice(1) as [number, number]), o.aTile[0], o.aTile[1], M, K); // [M, K]
  const sbT = scalesPerK(tf.transpose(tf.reshape(Bq.scales, Bq.scales.shape.slice(1) as [number, number])), o.bTile[1], o.bTile[0], N, K); // [N, K]
  const g = o.mmaK;
  const chunks = Math.ceil(K / g);
  const pad = chunks * g - K;
  const pa = pad > 0 ? tf.pad(qa, [[0, 0], [0, pad]]) : qa;
  const pb = pad > 0 ? tf.pad(qb, [[0, pad], [0, 0]]) : qb;
  // One MMA instruction per chunk: its products summed in float32 (exact for FP8 inputs up to rounding
  // of the sum), [chunks, M, N].
  const partial = tf.matMul(tf.transpose(tf.reshape(pa, [M, chunks, g]), [1, 0, 2]), tf.reshape(pb, [chunks, g, N]));
  const parts = tf.unstack(partial);
  // The scale product of chunk c: tiles are constant over a chunk (promotionInterval divides the K tiles).
  const scaleOf = (c: number): tf.Tensor2D => {
    const k = Math.min(c * g, K - 1);
    return tf.mul(tf.slice(sa, [0, k], [M, 1]), tf.transpose(tf.slice(sbT, [0, k], [N, 1]))) as tf.Tensor2D;
  };
  let out: tf.Tensor = tf.zeros([M, N]);
  let acc: tf.Tensor = tf.zeros([M, N]);
  const perPromotion = o.promotionInterval === Infinity ? Infinity : o.promotionInterval / g;
  for (let c = 0; c < chunks; c++) {
    // Without promotion the scales must enter before the limited accumulator (no float32 stage exists).
    const term = perPromotion === Infinity ? tf.mul(parts[c]!, scaleOf(c)) : parts[c]!;
    acc = truncateSignificand(tf.add(acc, term), o.accumulatorBits);
    const last = c === chunks - 1 || (perPromotion !== Infinity && (c + 1) % perPromotion === 0);
    if (last && perPromotion !== Infinity) {
      out = tf.add(out, tf.mul(acc, scaleOf(c)));                      // float32 on the CUDA cores
      acc = tf.zerosLike(acc);
    }
  }
  return (perPromotion === Infinity ? acc : out) as tf.Tensor2D;
}

/**
 * FP8 GEMM `a @ b` as V3 trains it (arXiv:2412.19437 §3.3.2, Figure 7b; DeepGEMM): both operands
 * quantized to FP8 with one scale per tile (see `fakeQuantFp8`), the FP8 products accumulated in the
 * tensor core's limited-precision accumulator, and every `promotionInterval` (N_C = 128) elements of K
 * the partial result is multiplied by the two tiles' scales and added to a float32 accumulator.
 *
 * Accumulator model (explicit, not measured hardware): each MMA instruction sums `mmaK` products, then
 * the running partial sum keeps `accumulatorBits` significand bits, truncated toward zero (the aligned
 * addends' low bits are dropped). Without promotion the whole K runs through that accumulator.
 *
 * @param a `[M, K]` float32 (activations or gradients, quantized in `aTile`s along K).
 * @param b `[K, N]` float32 (weights in 128x128 blocks, or a second activation in `[128, 1]` tiles).
 * @param options see {@link Fp8MatmulOptions}; defaults e4m3, `[1, 128]`, `[128, 128]`, 14 bits, 32, 128.
 * @returns `[M, N]` float32.
 * @example
 * const a = tf.randomNormal([4, 256]), b = tf.randomNormal([256, 8]);
 * const y = fp8Matmul(a, b); // ~ tf.matMul(a, b), relative error ~ 1e-2 (FP8 inputs)
 */
export function fp8Matmul(a: tf.Tensor, b: tf.Tensor, options: Fp8MatmulOptions = {}): tf.Tensor2D {
  const fn = 'fp8Matmul';
  assertRank(a, 2, fn, 'a', ['M', 'K']);
  assertRank(b, 2, fn, 'b', ['K', 'N']);
  assertDtype(a, 'float32', fn, 'a');
  assertDtype(b, 'float32', fn, 'b');
  check(a.shape[1] === b.shape[0], fn, () => `'b' expected shape [K=${a.shape[1]}, N], got [${b.shape.join(',')}]`);
  const o = resolveFp8MatmulOptions(options, fn);
  if (a.size === 0 || b.size === 0) return tf.zeros([a.shape[0]!, b.shape[1]!]);
  return tf.tidy(() => fp8MatmulResolved(a as tf.Tensor2D, b as tf.Tensor2D, o));
}

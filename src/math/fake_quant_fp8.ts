/**
 * FP8 fake quantization with fine-grained (tile-wise) scaling, DeepSeek-V3 §3.3.2.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, assertTensor, assertDtype, check} from './assert.js';
import {assertFp8Format, FP8_FORMATS, type Fp8Format} from './fp8_format.js';
import {roundToFp8Grid} from './round_to_fp8_grid.js';

/** Options of {@link fakeQuantFp8}. */
export interface FakeQuantFp8Options {
  /** `'e4m3'` (float8_e4m3fn, max 448; V3's choice for every tensor) or `'e5m2'` (max 57344). Default `'e4m3'`. */
  format?: Fp8Format;
  /**
   * Tile `[rows, cols]` over the last two axes with one scale each: `[1, 128]` is V3's activation
   * tiling (per token, per 128 channels), `[128, 128]` its weight blocks. Default `[1, 128]`. Edge tiles
   * may be smaller (ragged).
   */
  tile?: readonly [number, number];
}

/** @internal Tensors of the tile-wise quantization of `[batch, rows, cols]`. */
export interface Fp8Tiles {
  /** `[batch, rows, cols]` x / scale rounded onto the FP8 grid (values of the FP8 codes, unscaled). */
  q: tf.Tensor3D;
  /** `[batch, ceil(rows / tileRows), ceil(cols / tileCols)]` the scale of each tile. */
  scales: tf.Tensor3D;
}

const KNOWN = ['format', 'tile'];

/** @internal Validates and fills in the options; returns the resolved format and tile. */
export function resolveFakeQuantOptions(options: FakeQuantFp8Options | undefined, fn: string):
    {format: Fp8Format; tile: [number, number]} {
  assertKnownOptions(options, KNOWN, fn);
  const {format = 'e4m3', tile = [1, 128]} = options ?? {};
  assertFp8Format(format, fn, 'format');
  check(Array.isArray(tile) && tile.length === 2, fn, () =>
    `'tile' expected [rows, cols], got ${JSON.stringify(tile)}`);
  assertNumber(tile[0], fn, 'tile[0]', {integer: true, min: 1});
  assertNumber(tile[1], fn, 'tile[1]', {integer: true, min: 1});
  return {format, tile: [tile[0], tile[1]]};
}

/**
 * @internal Tile-wise quantization of a `[batch, rows, cols]` tensor: per tile s = amax(|tile|) / max
 * (1 for an all-zero tile; NaN when the tile holds a NaN, as `torch.amax`), q = RNE(x / s) on the
 * grid. Call inside `tf.tidy`.
 */
export function quantizeFp8Tiles(x: tf.Tensor3D, format: Fp8Format, [tr, tc]: readonly [number, number]): Fp8Tiles {
  const [B, R, C] = x.shape;
  const nR = Math.ceil(R / tr), nC = Math.ceil(C / tc);
  const padded = nR * tr === R && nC * tc === C ? x : tf.pad(x, [[0, 0], [0, nR * tr - R], [0, nC * tc - C]]);
  const x5 = tf.reshape(padded, [B, nR, tr, nC, tc]);
  let amax = tf.max(tf.abs(x5), [2, 4]);
  amax = tf.where(tf.any(tf.isNaN(x5), [2, 4]), tf.fill(amax.shape, NaN), amax);
  // s = amax / max in float32, as PyTorch (a division, not a multiplication by 1 / max).
  const scales = tf.where(tf.equal(amax, 0), tf.onesLike(amax), tf.div(amax, FP8_FORMATS[format].max)) as tf.Tensor3D;
  const q5 = roundToFp8Grid(tf.div(x5, tf.reshape(scales, [B, nR, 1, nC, 1])), format);
  let q = tf.reshape(q5, [B, nR * tr, nC * tc]) as tf.Tensor3D;
  if (padded !== x) q = tf.slice(q, [0, 0, 0], [B, R, C]);
  return {q, scales};
}

/** @internal `q * s` per tile for `[batch, rows, cols]` tiles (the dequantization). Call inside `tf.tidy`. */
export function dequantizeFp8Tiles({q, scales}: Fp8Tiles, [tr, tc]: readonly [number, number]): tf.Tensor3D {
  const [B, R, C] = q.shape;
  const [, nR, nC] = scales.shape;
  const expanded = tf.reshape(tf.tile(tf.reshape(scales, [B, nR, 1, nC, 1]), [1, 1, tr, 1, tc]), [B, nR * tr, nC * tc]);
  const s = nR * tr === R && nC * tc === C ? expanded : tf.slice(expanded, [0, 0, 0], [B, R, C]);
  return tf.mul(q, s) as tf.Tensor3D;
}

/** `[..., rows, cols]` as `[batch, rows, cols]` (rank 1 is one row). */
function asBatchedMatrix(x: tf.Tensor): tf.Tensor3D {
  const rank = x.rank;
  const C = x.shape[rank - 1]!;
  const R = rank >= 2 ? x.shape[rank - 2]! : 1;
  return tf.reshape(x, [x.size / (R * C), R, C]);
}

const fakeQuantWithStraightThrough = (format: Fp8Format, tile: readonly [number, number]) =>
  tf.customGrad((x) => ({
    value: tf.tidy(() => {
      const input = x as tf.Tensor;
      const tiles = quantizeFp8Tiles(asBatchedMatrix(input), format, tile);
      return tf.reshape(dequantizeFp8Tiles(tiles, tile), input.shape);
    }),
    gradFunc: (dy: tf.Tensor) => tf.clone(dy),
  }));

/**
 * FP8 fake quantization with fine-grained scaling (DeepSeek-V3, arXiv:2412.19437 §3.3.2, Figure 7a):
 * the float32 value a tensor has after a round trip through FP8 with one scale per tile.
 *
 * Per tile T of the last two axes: s = amax(|T|) / max (448 for e4m3, 57344 for e5m2; s = 1 for an
 * all-zero tile), q = RNE(x / s) on the FP8 grid (round to nearest, ties to even, subnormals included),
 * result q * s. Bit-identical, on the cpu and wasm backends, to PyTorch's
 * `(x / s).to(torch.float8_e4m3fn).float() * s` (and `float8_e5m2`), signed zeros included; a tile
 * holding a NaN or an infinity becomes NaN, as in PyTorch. Leading axes are batch axes (each leading
 * index is its own matrix); a rank-1 input is one row. Gradient: straight-through (dy passes unchanged).
 * Tensor ops only, no data read back (runs on every backend).
 *
 * @param x `[..., rows, cols]` float32.
 * @param options.format `'e4m3'` (default) or `'e5m2'`.
 * @param options.tile `[tileRows, tileCols]`, positive integers; default `[1, 128]` (activations);
 *   `[128, 128]` for weight blocks. Edge tiles are ragged.
 * @returns float32, the shape of `x`.
 * @example
 * const x = tf.tensor2d([[1, 0.3, -448, 1e-4]]);
 * fakeQuantFp8(x, {format: 'e4m3', tile: [1, 128]}); // [[1, 0.3125, -448, 0]] (s = 1)
 */
export function fakeQuantFp8(x: tf.Tensor, options: FakeQuantFp8Options = {}): tf.Tensor {
  const fn = 'fakeQuantFp8';
  assertTensor(x, fn, 'x');
  assertDtype(x, 'float32', fn, 'x');
  check(x.rank >= 1, fn, () => `'x' expected rank >= 1 ([..., rows, cols]), got a scalar`);
  const {format, tile} = resolveFakeQuantOptions(options, fn);
  if (x.size === 0) return tf.clone(x);
  return fakeQuantWithStraightThrough(format, tile)(x);
}

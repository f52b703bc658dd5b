/**
 * Block-wise FP8 dequantisation of DeepSeek-V3's released weights.
 * @module
 */
import {assertFiniteValues, check, valueChecksEnabled} from '../../math/assert.js';

/**
 * Dequantises a block-quantised FP8 matrix, as DeepSeek-V3 ships its linear weights (arXiv:2412.19437
 * §3.3.2; the release's `inference/fp8_cast_bf16.py` / `kernel.py` `weight_dequant`):
 *
 * W[i, j] = q[i, j] * s[floor(i / blockRows), floor(j / blockCols)]
 *
 * with q the decoded FP8 values and s the `weight_scale_inv` tensor `[ceil(rows / blockRows),
 * ceil(cols / blockCols)]` (edge blocks are ragged: partial blocks at the bottom and right). The
 * product is rounded to float32, as PyTorch's `weight.float() * scale` is.
 *
 * @param values `rows * cols` decoded FP8 values, row-major.
 * @param shape `[rows, cols]`.
 * @param scaleInv `ceil(rows / blockRows) * ceil(cols / blockCols)` scales, row-major.
 * @param blockSize `[blockRows, blockCols]` (`quantization_config.weight_block_size`, `[128, 128]` in V3).
 * @returns a new `Float32Array` of `rows * cols`.
 * @throws when `shape` or `blockSize` is not two positive integers, the value count does not match
 *   `shape` or the scale count the block grid; value check (skipped with
 *   `configureValidation({valueChecks: false})`; a pass over the scales, no tensor read): `scaleInv`
 *   finite.
 * @example
 * dequantizeFp8Blocks(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], new Float32Array([10, 100]), [2, 2]);
 * // [10, 20, 300, 40, 50, 600]
 */
export function dequantizeFp8Blocks(
    values: Float32Array, shape: readonly [number, number], scaleInv: Float32Array,
    blockSize: readonly [number, number]): Float32Array {
  const fn = 'dequantizeFp8Blocks';
  const [rows, cols] = shape;
  const [br, bc] = blockSize;
  check(Array.isArray(shape) && shape.length === 2 && shape.every((d) => Number.isInteger(d) && d >= 1), fn, () =>
    `'shape' expected two positive integers [rows, cols], got ${Array.isArray(shape) ? `[${shape.join(',')}]` : String(shape)}`);
  check(Number.isInteger(br) && br >= 1 && Number.isInteger(bc) && bc >= 1, fn, () =>
    `'blockSize' expected two positive integers, got [${blockSize.join(',')}]`);
  check(values.length === rows * cols, fn, () => `'values' expected ${rows}x${cols}=${rows * cols} values, got ${values.length}`);
  const gr = Math.ceil(rows / br), gc = Math.ceil(cols / bc);
  check(scaleInv.length === gr * gc, fn, () =>
    `'scaleInv' expected [ceil(${rows}/${br}), ceil(${cols}/${bc})]=[${gr},${gc}] (${gr * gc} scales), got ${scaleInv.length}`);
  if (valueChecksEnabled()) assertFiniteValues(scaleInv, fn, 'scaleInv', [gr, gc]);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const srow = Math.floor(i / br) * gc;
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[base + j] = values[base + j]! * scaleInv[srow + Math.floor(j / bc)]!;
  }
  return out;
}

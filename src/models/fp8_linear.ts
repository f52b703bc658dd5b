/**
 * A linear layer whose three GEMMs run in simulated FP8, DeepSeek-V3 §3.3 (Figure 6).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertDtype, assertKnownOptions, assertRank, assertTensor, check} from '../math/assert.js';
import {
  fp8MatmulResolved, resolveFp8MatmulOptions, type Fp8MatmulOptions, type ResolvedFp8MatmulOptions,
} from '../math/fp8_matmul.js';

/**
 * Options of {@link fp8Linear}: the numerics of {@link Fp8MatmulOptions} without the tiles, which
 * Figure 6 fixes per GEMM.
 */
export type Fp8LinearOptions = Omit<Fp8MatmulOptions, 'aTile' | 'bTile'>;

/** The option names of {@link fp8Linear} (those of `fp8Matmul` without the tiles). */
const KNOWN = ['format', 'accumulatorBits', 'mmaK', 'promotionInterval'];

const ACTIVATION_TILE: [number, number] = [1, 128];
const WEIGHT_BLOCK: [number, number] = [128, 128];
const TOKEN_TILE: [number, number] = [128, 1];

/** @internal Validated options of {@link fp8Linear}, with the tiles of the three GEMMs. */
export function resolveFp8LinearOptions(options: Fp8LinearOptions | undefined, fn: string): ResolvedFp8MatmulOptions {
  check(options === undefined || (typeof options === 'object' && options !== null && !('aTile' in options) && !('bTile' in options)),
      fn, () => `'options' expected {format, accumulatorBits, mmaK, promotionInterval} (the tiles are fixed), got ${JSON.stringify(options)}`);
  assertKnownOptions(options, KNOWN, fn);
  return resolveFp8MatmulOptions({...options, aTile: ACTIVATION_TILE, bTile: WEIGHT_BLOCK}, fn);
}

/** @internal `x @ w` with FP8 Fprop/Dgrad/Wgrad on resolved options (`x` `[rows, K]`). */
export function fp8LinearResolved(x: tf.Tensor2D, w: tf.Tensor2D, o: ResolvedFp8MatmulOptions): tf.Tensor2D {
  const wgrad = {...o, aTile: ACTIVATION_TILE, bTile: TOKEN_TILE};
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, wi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.tidy(() => fp8MatmulResolved(xi, wi, o)),                          // Fprop
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        return [
          fp8MatmulResolved(dy2, tf.transpose(ws), o),                                // Dgrad: dY [1,128] x W^T blocks
          fp8MatmulResolved(tf.transpose(xs), dy2, wgrad),                            // Wgrad: X^T [1,128] x dY [128,1]
        ];
      },
    };
  });
  return op(x, w) as tf.Tensor2D;
}

/**
 * `y = x @ w` with the three GEMMs of training in simulated FP8, as DeepSeek-V3's Linear operator
 * (arXiv:2412.19437 §3.3, Figure 6): Fprop `y = x w`, Dgrad `dx = dy wᵀ`, Wgrad `dw = xᵀ dy`, each
 * with FP8 inputs quantized tile-wise along its reduction axis (activations and activation gradients
 * in 1x128 tiles, i.e. per token and 128 channels; weights in 128x128 blocks; Wgrad's operands in
 * 128x1 tiles along tokens, as V3 re-tiles the cached activations), float32 outputs, limited-precision
 * accumulation promoted to float32 every N_C = 128 (see `fp8Matmul`). The master weight, the weight
 * gradient and the optimizer stay float32, as in V3. Input and output dtypes are float32.
 *
 * @param x `[..., inFeatures]` float32.
 * @param w `[inFeatures, outFeatures]` float32 (a variable for training).
 * @param options `{format = 'e4m3', accumulatorBits = 14, mmaK = 32, promotionInterval = 128}`.
 * @returns `[..., outFeatures]` float32.
 * @throws when `x` or `w` is not float32 or their inner sizes differ, on an option `aTile` / `bTile`
 *   (the tiles are fixed) or another unknown option (the message lists the four allowed), or an
 *   option out of range.
 * @example
 * const w = tf.variable(tf.randomNormal([64, 32], 0, 0.1));
 * const x = tf.randomNormal([8, 64]);
 * const y = fp8Linear(x, w); // [8, 32], ~ tf.matMul(x, w)
 * const g = tf.grad((v: tf.Tensor) => tf.sum(fp8Linear(v, w)))(x); // FP8 Dgrad, [8, 64]
 */
export function fp8Linear(x: tf.Tensor, w: tf.Tensor, options?: Fp8LinearOptions): tf.Tensor {
  const fn = 'fp8Linear';
  assertTensor(x, fn, 'x');
  assertDtype(x, 'float32', fn, 'x');
  assertRank(w, 2, fn, 'w', ['inFeatures', 'outFeatures'], 'float32');
  check(x.rank >= 1 && x.shape[x.rank - 1] === w.shape[0], fn, () =>
    `'x' expected shape [..., inFeatures=${w.shape[0]}], got [${x.shape.join(',')}]`);
  const o = resolveFp8LinearOptions(options, fn);
  const K = w.shape[0];
  const outShape = [...x.shape.slice(0, -1), w.shape[1]!];
  if (x.size === 0) return tf.zeros(outShape);
  return tf.tidy(() => tf.reshape(fp8LinearResolved(tf.reshape(x, [-1, K]) as tf.Tensor2D, w as tf.Tensor2D, o), outShape));
}

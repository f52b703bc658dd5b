import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, assertRank, check, fmtShape} from '../math/assert.js';

/** Options of the {@link ValueHead} constructor. */
export interface ValueHeadOptions {
  /**
   * Standard deviation of the normal initialisation of the kernel. Default `1 / sqrt(hiddenSize + 1)`, the
   * initialisation of OpenAI's lm-human-preferences value head (Ziegler et al. 2019, arXiv:1909.08593);
   * `0` starts from a constant value equal to `biasInit`.
   */
  initStd?: number;
  /** Initial bias (the value predicted for every state at a zero kernel). Default `0`. */
  biasInit?: number;
  /** Seed of the kernel initialisation; default: unseeded (different weights each time). */
  seed?: number;
}

const FN = 'ValueHead';
let instances = 0;

/**
 * Linear value head: maps a policy's hidden states to per-token value estimates, V_t = h_t . w + b.
 *
 * Works on any model that exposes its last hidden states `[batch, time, hidden]` (the PPO critic shares the
 * policy trunk, as in TRL's `AutoModelForCausalLMWithValueHead`). The head owns two tfjs-core variables,
 * `kernel` `[hidden, 1]` and `bias` `[]`; pass {@link ValueHead.variables} to an optimizer's `minimize` and call
 * {@link ValueHead.dispose} when done. No tfjs-layers dependency.
 *
 * @example
 * const head = new ValueHead(16, {seed: 0});
 * const hidden = tf.randomNormal([2, 5, 16]) as tf.Tensor3D;
 * const values = head.apply(hidden); // [2, 5]
 * const optimizer = tf.train.adam(1e-3);
 * optimizer.minimize(() => tf.mean(tf.square(head.apply(hidden))) as tf.Scalar, false, head.variables);
 * head.dispose();
 */
export class ValueHead {
  /** Size of the hidden axis this head accepts. */
  readonly hiddenSize: number;
  /** `[hidden, 1]` float32 trainable kernel w. */
  readonly kernel: tf.Variable<tf.Rank.R2>;
  /** `[]` float32 trainable bias b. */
  readonly bias: tf.Variable<tf.Rank.R0>;
  private disposed = false;

  /**
   * Creates the head and its variables.
   *
   * @param hiddenSize size of the hidden axis, a positive integer.
   * @param options.initStd kernel init std; default `1 / sqrt(hiddenSize + 1)`.
   * @param options.biasInit initial bias; default `0`.
   * @param options.seed kernel init seed; default unseeded.
   * @throws Error naming `ValueHead` when `hiddenSize` or an option is invalid.
   */
  constructor(hiddenSize: number, options: ValueHeadOptions = {}) {
    assertKnownOptions(options, ['initStd', 'biasInit', 'seed'], FN);
    assertNumber(hiddenSize, FN, 'hiddenSize', {min: 1, integer: true});
    const {initStd = 1 / Math.sqrt(hiddenSize + 1), biasInit = 0, seed} = options;
    assertNumber(initStd, FN, 'initStd', {min: 0});
    assertNumber(biasInit, FN, 'biasInit');
    if (seed !== undefined) assertNumber(seed, FN, 'seed');
    this.hiddenSize = hiddenSize;
    const id = instances++;
    const init = tf.tidy(() => tf.randomNormal([hiddenSize, 1], 0, initStd, 'float32', seed)) as tf.Tensor2D;
    const bias = tf.scalar(biasInit);
    this.kernel = tf.variable(init, true, `value_head_${id}/kernel`);
    this.bias = tf.variable(bias, true, `value_head_${id}/bias`);
    init.dispose();
    bias.dispose();
  }

  /** The trainable variables `[kernel, bias]`, e.g. the `varList` of `optimizer.minimize`. */
  get variables(): tf.Variable[] {
    return [this.kernel, this.bias];
  }

  /** Whether {@link ValueHead.dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Per-token values V = hidden . w + b.
   *
   * @param hidden `[batch, time, hidden]` float32 hidden states; `hidden` must equal {@link ValueHead.hiddenSize}.
   * @returns `[batch, time]` float32 values; differentiable with respect to `hidden` and the head's variables.
   * @throws Error naming `ValueHead.apply` when the shape or dtype is wrong or the head was disposed.
   */
  apply(hidden: tf.Tensor3D): tf.Tensor2D {
    const fn = 'ValueHead.apply';
    check(!this.disposed, fn, () => 'the head has been disposed');
    assertRank(hidden, 3, fn, 'hidden', ['batch', 'time', 'hidden'], 'float32');
    const [batch, time, size] = hidden.shape;
    check(size === this.hiddenSize, fn, () =>
      `'hidden' expected shape [batch, time, hidden]=[${batch},${time},${this.hiddenSize}], got ${fmtShape(hidden.shape)}`);
    return tf.tidy(() => {
      const flat = tf.reshape(hidden, [batch * time, size]);
      const values = tf.add(tf.matMul(flat, this.kernel), this.bias);
      return tf.reshape(values, [batch, time]) as tf.Tensor2D;
    });
  }

  /** Frees the variables; further {@link ValueHead.apply} calls throw. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kernel.dispose();
    this.bias.dispose();
  }
}

/**
 * A differentiable op whose input gradients are computed only when the tape asks for them.
 *
 * `tf.customGrad` calls its `gradFunc` eagerly and needs a gradient tensor for every input. The fused
 * GRPO kernels have one cheap gradient (w.r.t. `logProbs`, computed in the forward pass) and others
 * (old/ref log-probs, advantages) that RL training never asks for; computing those eagerly would cost
 * a pass each. tfjs's tape already evaluates each input's gradient through a thunk and only for inputs
 * on the path from `x` to `y`, so this helper hands the engine one thunk per input.
 *
 * It calls the engine's `runKernelFunc` (the entry point of `tf.customGrad` itself; private in the
 * typings, public at runtime in tfjs-core 4.x): the one internal of tfjs-core the fused kernels use,
 * checked by {@link lazyGradientsAdapterMissing} (a test fails naming the field if an upgrade drops it).
 *
 * Why not public registration (`tf.registerKernel` + `tf.registerGradient`, whose gradient thunks are
 * lazy too): the forward pass computes d loss / d logProbs, and a registered kernel can hand it to
 * its gradient only as a second output; the tape then materialises a zero upstream gradient of that
 * output's size (a `[batch, time]` allocation and fill per step, 10 to 20 % of the fused step at
 * 256x2048) or the gradient must be recomputed (a second pass). `runKernelFunc`'s `save` keeps it for
 * free.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

type SaveFunc = (tensors: tf.Tensor[]) => void;

interface EngineWithKernelFunc {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: SaveFunc) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

/** @internal The engine fields this module uses. */
export const ENGINE_FIELDS = ['runKernelFunc', 'isTapeOn'] as const;

/** @internal The names of the fields of {@link ENGINE_FIELDS} that `engine` lacks (empty when usable). */
export function lazyGradientsAdapterMissing(engine: unknown = tf.engine()): string[] {
  const e = (engine ?? {}) as Record<string, unknown>;
  return ENGINE_FIELDS.filter((f) => typeof e[f] !== 'function');
}

/**
 * @internal Runs `forward` as one op of the gradient tape over `inputs`. `forward` may call `save`
 * once (tensors are kept only while a tape records). `backward(dy, saved)` returns, for each input
 * name, a thunk computing that input's gradient; the tape calls only the thunks it needs.
 */
export function runWithLazyGradients<T extends tf.Tensor>(
    inputs: Record<string, tf.Tensor>,
    forward: (save: SaveFunc) => T,
    backward: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>): T {
  const engine = tf.engine() as unknown as EngineWithKernelFunc;
  if (typeof engine.runKernelFunc !== 'function') {
    throw new Error('tfjs-grpo: this version of @tensorflow/tfjs-core has no engine.runKernelFunc; ' +
        "use implementation: 'composed'");
  }
  return engine.runKernelFunc({
    forwardFunc: (_backend, save) => forward(save),
    backwardsFunc: (dy, saved) => backward(dy, saved),
    inputs,
  }) as T;
}

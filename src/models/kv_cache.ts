/**
 * The key/value cache of {@link TransformerPolicy.applyWithCache} (internal layout; opaque to users,
 * who free it with `policy.disposeCache(cache)`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Key/value cache of incremental decoding: per layer `[batch, heads, pastTime, width / heads]`.
 * The caller owns it and disposes it with `policy.disposeCache(cache)`.
 */
export interface KvCache {
  /** Keys per layer, `[batch, heads, pastTime, headDim]`. */
  keys: tf.Tensor4D[];
  /** Values per layer, `[batch, heads, pastTime, headDim]`. */
  values: tf.Tensor4D[];
}

/** @internal Disposes every tensor of a {@link KvCache} (`null`: nothing to do). */
export function disposeKvCache(cache: KvCache | null): void {
  if (cache === null) return;
  tf.dispose([...cache.keys, ...cache.values]);
}

/**
 * `tf.tidy` for functions returning typed result objects.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * @internal `tf.tidy(f)` keeping every tensor reachable from `f`'s result (objects, arrays, maps are
 * walked by tfjs as `TensorContainer`s; interfaces without an index signature are not assignable to it).
 */
export function tidyResult<T>(f: () => T): T {
  return tf.tidy(f as unknown as () => tf.TensorContainer) as unknown as T;
}

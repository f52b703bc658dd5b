import * as tf from '@tensorflow/tfjs-core';

/**
 * Peak of the bytes newly allocated by the backend while `f` runs (real buffers: a reshape or clone
 * shares its input's buffer and costs nothing, unlike in tf.memory().numBytes, which counts tensors).
 * Wraps the active backend's write/disposeData for the duration of the call.
 */
export function peakNewBytes(f: () => void): number {
  type Backend = {write: (...a: unknown[]) => object; disposeData: (id: object, force?: boolean) => boolean};
  const backend = tf.backend() as unknown as Backend;
  const {write, disposeData} = backend;
  const live = new Map<object, number>();
  let current = 0;
  let peak = 0;
  backend.write = function(this: Backend, values: unknown, shape: unknown, dtype: unknown) {
    const id = write.call(this, values, shape, dtype);
    const bytes = tf.util.sizeFromShape(shape as number[]) * tf.util.bytesPerElement(dtype as tf.DataType);
    live.set(id, bytes);
    current += bytes;
    peak = Math.max(peak, current);
    return id;
  } as Backend['write'];
  backend.disposeData = function(this: Backend, id: object, force?: boolean) {
    const freed = disposeData.call(this, id, force);
    if (freed && live.has(id)) {
      current -= live.get(id)!;
      live.delete(id);
    }
    return freed;
  };
  try {
    f();
  } finally {
    backend.write = write;
    backend.disposeData = disposeData;
  }
  return peak;
}

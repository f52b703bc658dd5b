/**
 * The one place where the fused kernels touch internals of `@tensorflow/tfjs-backend-wasm`: reading a
 * tensor's values in place in the backend's heap instead of copying them out with `dataSync()`.
 *
 * Fields used (tfjs-backend-wasm 4.22, `BackendWasm`): `typedArrayFromHeap(tensorInfo)` (a public
 * method of the class, not of tfjs's `KernelBackend` interface) and `dataIdMap.has(dataId)` (the
 * backend's tensor storage). Everything is duck-typed: the library never imports the wasm backend.
 * Where a field is missing the kernels fall back to `dataSync()` (a copy: correct, slower);
 * {@link wasmBackendAdapterMissing} names what is missing, and a test fails loudly with that name
 * when a tfjs upgrade removes a field.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** @internal The typed arrays tfjs hands back for float32, int32 and bool tensors. */
export type NumericArray = Float32Array | Int32Array | Uint8Array;

/** The fields of the wasm backend this adapter reads. */
interface HeapBackend {
  typedArrayFromHeap?: (t: tf.TensorInfo) => NumericArray;
  dataIdMap?: {has(dataId: object): boolean};
}

/** @internal The fields the adapter needs, in the order they are checked. */
export const WASM_BACKEND_FIELDS = ['typedArrayFromHeap', 'dataIdMap.has'] as const;

/**
 * @internal The names of the fields in {@link WASM_BACKEND_FIELDS} that `backend` lacks (empty when the
 * adapter can read its heap).
 */
export function wasmBackendAdapterMissing(backend: unknown): string[] {
  const b = (backend ?? {}) as HeapBackend;
  const missing: string[] = [];
  if (typeof b.typedArrayFromHeap !== 'function') missing.push('typedArrayFromHeap');
  if (typeof b.dataIdMap?.has !== 'function') missing.push('dataIdMap.has');
  return missing;
}

/**
 * @internal A view of `t`'s values in the active wasm backend's heap, or null (another backend, a
 * missing field, a tensor stored elsewhere). Valid until the wasm backend allocates again.
 */
export function wasmHeapView(t: tf.Tensor): NumericArray | null {
  const b = tf.backend() as unknown as HeapBackend;
  if (typeof b.typedArrayFromHeap === 'function' && b.dataIdMap?.has(t.dataId) === true) {
    return b.typedArrayFromHeap(t);
  }
  return null;
}

/**
 * @internal The values of `t` without a copy where possible: a view into the wasm backend's heap
 * ({@link wasmHeapView}), else `dataSync()` (on `cpu` the tensor's own array). A heap view is valid
 * until the wasm backend allocates again: read it before any tensor is created.
 */
export function valuesInPlace(t: tf.Tensor): NumericArray {
  return wasmHeapView(t) ?? t.dataSync() as NumericArray;
}

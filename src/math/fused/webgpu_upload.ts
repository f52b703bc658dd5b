/**
 * A faster CPU -> GPU upload for tfjs-backend-webgpu 4.x: `queue.writeBuffer` into a pooled buffer
 * instead of a new mapped staging buffer per upload.
 *
 * tfjs's `uploadToGPU` creates a fresh `mappedAtCreation` staging buffer for every tensor whose values
 * live on the CPU (every JS-number scalar in `tf.mul(x, 0.9)`, every `tf.ones`, every `tf.tensor`),
 * copies it into the storage buffer in the open command encoder (ending the open compute pass) and
 * destroys it after the submit. On the H200 (Dawn over Vulkan in Node.js) that buffer creation was
 * about 1 s of CPU time per two Qwen2-0.5B GRPO steps (`bench/qwen2_step.ts --cpu-prof`).
 *
 * The replacement writes the values with `queue.writeBuffer` (Dawn stages them in its own ring) into
 * a buffer from tfjs's pool. That is ordered correctly: a pooled buffer is never referenced by the
 * open, unsubmitted encoder (tfjs defers the release of every buffer that encoder uses until it is
 * submitted), and the write runs on the queue before that encoder's commands, which are the first to
 * read it. Tensors of other dtypes, complex tensors and backends missing a field keep tfjs's upload.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {USAGE_COPY_DST, USAGE_COPY_SRC, USAGE_STORAGE} from './webgpu_backend_adapter.js';

interface UploadData {
  dtype: tf.DataType;
  shape: number[];
  values?: ArrayLike<number> | null;
  resource?: unknown;
  complexTensorInfos?: unknown;
}

interface UploadBackend {
  tensorMap: {get(dataId: tf.DataId): UploadData | undefined};
  bufferManager: {acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): unknown};
  /** For a typed array `dataOffset` and `size` count elements (WebGPU's `GPUQueue.writeBuffer`). */
  queue: {writeBuffer(buffer: unknown, offset: number, data: Float32Array | Int32Array, dataOffset?: number,
    size?: number): void};
  uploadToGPU(dataId: tf.DataId): void;
}

const PATCHED = Symbol.for('tfjs-grpo.webgpuUpload');
type Patched = UploadBackend & {[PATCHED]?: (dataId: tf.DataId) => void};

function isUploadBackend(b: unknown): b is UploadBackend {
  const o = b as Partial<UploadBackend> | null;
  return o != null && typeof o.uploadToGPU === 'function' && typeof o.tensorMap?.get === 'function' &&
    typeof o.bufferManager?.acquireBuffer === 'function' && typeof o.queue?.writeBuffer === 'function';
}

/** The typed array `writeBuffer` takes for `values` (4 bytes per element, as tfjs stores them on the GPU). */
function gpuWords(dtype: tf.DataType, values: ArrayLike<number>): Float32Array | Int32Array | null {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values);
  if (dtype === 'int32' || dtype === 'bool') return values instanceof Int32Array ? values : Int32Array.from(values);
  return null;
}

function fastUpload(backend: UploadBackend, original: (dataId: tf.DataId) => void, dataId: tf.DataId): void {
  const data = backend.tensorMap.get(dataId);
  if (data !== undefined && data.resource != null) return; // already on the GPU
  if (data === undefined || data.values == null || data.complexTensorInfos != null) {
    original.call(backend, dataId);
    return;
  }
  const words = gpuWords(data.dtype, data.values);
  const n = tf.util.sizeFromShape(data.shape);
  if (words === null || n === 0 || words.length < n) {
    original.call(backend, dataId);
    return;
  }
  const buffer = backend.bufferManager.acquireBuffer(4 * n, USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST);
  backend.queue.writeBuffer(buffer, 0, words, 0, n);
  data.values = null; // as tfjs does: once on the GPU, the CPU copy is dropped
  data.resource = buffer;
}

/**
 * @internal Replaces `uploadToGPU` of `backend` (a tfjs webgpu backend) with the pooled
 * `writeBuffer` upload. Idempotent; returns false (nothing changed) when the backend lacks a field.
 */
export function installWebGPUUpload(backend: unknown): boolean {
  if (!isUploadBackend(backend)) return false;
  const b = backend as Patched;
  if (b[PATCHED] !== undefined) return true;
  const original = b.uploadToGPU;
  b[PATCHED] = original;
  b.uploadToGPU = (dataId: tf.DataId) => fastUpload(b, original, dataId);
  return true;
}

/** @internal Restores tfjs's own `uploadToGPU` on `backend`; returns false when it was not replaced. */
export function uninstallWebGPUUpload(backend: unknown): boolean {
  const b = backend as Patched | null;
  const original = b?.[PATCHED];
  if (b == null || original === undefined) return false;
  b.uploadToGPU = original;
  delete b[PATCHED];
  return true;
}

/** @internal Whether `backend`'s uploads are replaced. */
export function hasWebGPUUpload(backend: unknown): boolean {
  return (backend as Patched | null)?.[PATCHED] !== undefined;
}

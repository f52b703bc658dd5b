/**
 * Delivery of the value checks the fused webgpu kernels compute in their own dispatches. WebGPU in
 * Node.js has no synchronous read-back (tfjs's `dataSync` there needs `OffscreenCanvas`), so a kernel
 * writes a check word (0 = every value fine) and makes its result NaN where a check fails; the word
 * is copied back asynchronously, and the named error is thrown by the next fused call on the same
 * device (or by {@link settleWebGPUValueChecks}).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {type GpuBuffer, readWordAsync, type WebGPUDirectBackend} from './webgpu_backend_adapter.js';

const pendingErrors = new WeakMap<object, string>();
const inFlight = new Set<Promise<void>>();

/** @internal Throws the error of a failed check seen on this backend's device since the last throw. */
export function throwPendingValueCheck(backend: WebGPUDirectBackend): void {
  const message = pendingErrors.get(backend.device);
  if (message === undefined) return;
  pendingErrors.delete(backend.device);
  throw new Error(`${message} (found by a fused webgpu kernel in an earlier call, whose result is NaN)`);
}

/**
 * @internal Reads the check word at byte `offset` of `word` back (after the commands recorded so far;
 * a u32, or with `asF32` an f32 holding an integer) and, when non-zero, stores `message(bits)` as
 * the device's pending error.
 */
export function watchCheckWord(backend: WebGPUDirectBackend, word: GpuBuffer, offset: number, asF32: boolean,
    message: (bits: number) => string): void {
  const device = backend.device;
  const p = readWordAsync(backend, word, offset, (bytes) => {
    const bits = asF32 ? new Float32Array(bytes, 0, 1)[0]! : new Uint32Array(bytes, 0, 1)[0]!;
    if (bits !== 0 && !pendingErrors.has(device)) pendingErrors.set(device, message(bits));
  });
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}

/**
 * @internal Waits for the check words of the fused webgpu calls recorded so far and throws the named
 * error of the first failed one (the next fused call would throw it otherwise).
 */
export async function settleWebGPUValueChecks(): Promise<void> {
  await Promise.all([...inFlight]);
  const b = tf.backend() as unknown as WebGPUDirectBackend;
  if (b?.device !== undefined) throwPendingValueCheck(b);
}

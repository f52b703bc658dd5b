/**
 * Delivery of the value checks the fused webgpu kernels compute in their own dispatches. WebGPU in
 * Node.js has no synchronous read-back (tfjs's `dataSync` there needs `OffscreenCanvas`), so a kernel
 * writes a check word (0 = every value fine) and makes its result NaN where a check fails; the word
 * is copied back asynchronously, and the named error is thrown by a later fused call on the same
 * device (or by {@link settleWebGPUValueChecks}).
 *
 * Two ways to get the word back ({@link setWebGPUCheckReadback}): `'submit'` submits the copy at
 * once (an extra queue submit and command encoder per call); `'deferred'` (default) records the copy
 * in the backend's open encoder and maps it once that encoder has been submitted by whatever submits
 * next (the caller's read-back of the loss, the backend's batching), checked at the next fused call:
 * no extra submit per call, and the error is thrown one or two fused calls later.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  copyWordToStaging, type GpuBuffer, mapWordAsync, readWordAsync, type WebGPUDirectBackend,
} from './webgpu_backend_adapter.js';

const pendingErrors = new WeakMap<object, string>();
const inFlight = new Set<Promise<void>>();

/** @internal How the check word comes back: see the module comment. */
export type WebGPUCheckReadback = 'submit' | 'deferred';
let readback: WebGPUCheckReadback = 'deferred';

/** @internal Chooses how check words come back (default `'deferred'`); returns the previous mode. For benchmarks. */
export function setWebGPUCheckReadback(mode: WebGPUCheckReadback): WebGPUCheckReadback {
  const previous = readback;
  readback = mode;
  return previous;
}

interface Unsubmitted {
  backend: WebGPUDirectBackend;
  /** The encoder holding the copy (submitted once the backend's encoder is another one or null). */
  encoder: object | null;
  staging: GpuBuffer;
  onValue: (bytes: ArrayBuffer) => void;
}
const unsubmitted: Unsubmitted[] = [];

function track(p: Promise<void>): void {
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}

/** Maps the staging buffers whose copies have been submitted since they were recorded. */
function mapSubmitted(): void {
  for (let i = 0; i < unsubmitted.length;) {
    const u = unsubmitted[i]!;
    if (u.backend.commandEncoder !== u.encoder) {
      unsubmitted.splice(i, 1);
      track(mapWordAsync(u.backend, u.staging, u.onValue));
    } else {
      i++;
    }
  }
}

/** @internal Throws the error of a failed check seen on this backend's device since the last throw. */
export function throwPendingValueCheck(backend: WebGPUDirectBackend): void {
  if (unsubmitted.length > 0) mapSubmitted();
  const message = pendingErrors.get(backend.device);
  if (message === undefined) return;
  pendingErrors.delete(backend.device);
  throw new Error(message);
}

/**
 * @internal Reads the check word at byte `offset` of `word` back (after the commands recorded so far;
 * a u32, or with `asF32` an f32 holding an integer) and, when non-zero, stores `message(bits)` as
 * the device's pending error, followed by `(found by a fused webgpu kernel in an earlier call, ` and
 * `outcome` (default: that call's result is NaN).
 */
export function watchCheckWord(backend: WebGPUDirectBackend, word: GpuBuffer, offset: number, asF32: boolean,
    message: (bits: number) => string, outcome = 'whose result is NaN'): void {
  const device = backend.device;
  const onValue = (bytes: ArrayBuffer): void => {
    const bits = asF32 ? new Float32Array(bytes, 0, 1)[0]! : new Uint32Array(bytes, 0, 1)[0]!;
    if (bits !== 0 && !pendingErrors.has(device)) {
      pendingErrors.set(device, `${message(bits)} (found by a fused webgpu kernel in an earlier call, ${outcome})`);
    }
  };
  if (readback === 'submit') {
    track(readWordAsync(backend, word, offset, onValue));
    return;
  }
  mapSubmitted();
  const staging = copyWordToStaging(backend, word, offset);
  unsubmitted.push({backend, encoder: backend.commandEncoder, staging, onValue});
}

/**
 * @internal Waits for the check words of the fused webgpu calls recorded so far and throws the named
 * error of the first failed one (a later fused call would throw it otherwise).
 */
export async function settleWebGPUValueChecks(): Promise<void> {
  for (const u of unsubmitted) {
    if (u.backend.commandEncoder === u.encoder && u.encoder !== null) {
      if (u.backend.computePassEncoder != null) u.backend.endComputePassEncoder();
      u.backend.submitQueue();
    }
  }
  mapSubmitted();
  await Promise.all([...inFlight]);
  const b = tf.backend() as unknown as WebGPUDirectBackend;
  if (b?.device !== undefined) throwPendingValueCheck(b);
}

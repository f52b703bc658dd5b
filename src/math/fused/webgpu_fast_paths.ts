/**
 * The webgpu backend's fast paths that the training path turns on by itself: the WGSL matmul and the
 * pooled uploads. Each cuts time per tfjs program, which is what bounds a training step of a real
 * model on webgpu in Node.js (`bench/qwen2_step.ts --cpu-prof`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {isWebGPUMatmulRegistered, registerWebGPUMatmul, unregisterWebGPUMatmul} from './matmul_webgpu.js';
import {hasWebGPUUpload, installWebGPUUpload, uninstallWebGPUUpload} from './webgpu_upload.js';

/** Options of {@link tuneWebGPUBackend}; an option left out is not changed. */
export interface WebGPUTuning {
  /** Register the WGSL matmul as the backend's `BatchMatMul` ({@link registerWebGPUMatmul}). */
  matmul?: boolean;
  /**
   * Upload CPU-resident tensors (JS-number scalars, `tf.tensor`, `tf.ones`) with `queue.writeBuffer`
   * into pooled buffers instead of tfjs's new staging buffer per upload.
   */
  upload?: boolean;
  /**
   * Whether the training path (policy forwards, `completionForward`, `grpoLoss`, `tokenLogProbs`)
   * applies `{matmul: true, upload: true}` by itself, once per backend (default true). Set false
   * before the first step to keep tfjs's own behaviour, or a tuning of your own.
   */
  auto?: boolean;
}

/** What {@link tuneWebGPUBackend} found in effect afterwards. */
export interface WebGPUTuningState {
  /** The WGSL matmul is the webgpu backend's `BatchMatMul`. */
  matmul: boolean;
  /** The active backend's uploads go through pooled buffers. */
  upload: boolean;
}

let auto = true;

const KEYS = ['matmul', 'upload', 'auto'];

/**
 * Turns the webgpu backend's fast paths on or off. Results do not change (the WGSL matmul sums in
 * another order, so its last bits differ); time per tfjs program does. The training path applies
 * `{matmul: true, upload: true}` by itself once per backend unless `{auto: false}` was set. Call it
 * yourself for a model of your own on webgpu, or to switch a path off.
 *
 * Measured on an H200 (docs/benchmarks.md): a Qwen2-0.5B GRPO step of 4 x 256 tokens takes 800 ms
 * with both on, 1,228 ms with the uploads off.
 *
 * @param options what to change (see {@link WebGPUTuning}).
 * @returns the fast paths in effect; both false when the active backend is not webgpu (then only
 *   `auto` changes).
 * @throws when an option key is unknown or a value is not a boolean.
 * @example
 * // after: import '@tensorflow/tfjs-backend-webgpu'; await tf.setBackend('webgpu');
 * const state = tuneWebGPUBackend({matmul: true, upload: true});
 * // on another backend: {matmul: false, upload: false}
 */
export function tuneWebGPUBackend(options: WebGPUTuning = {}): WebGPUTuningState {
  const unknown = Object.keys(options).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) {
    throw new Error(`tuneWebGPUBackend: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} ` +
      `(expected ${KEYS.join(', ')})`);
  }
  for (const k of KEYS) {
    const v = (options as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new Error(`tuneWebGPUBackend: '${k}' expected a boolean, got ${String(v)}`);
    }
  }
  if (options.auto !== undefined) auto = options.auto;
  if (tf.getBackend() !== 'webgpu') return {matmul: false, upload: false};
  const backend = tf.backend();
  if (options.matmul === true) registerWebGPUMatmul();
  if (options.matmul === false) unregisterWebGPUMatmul();
  if (options.upload === true) installWebGPUUpload(backend);
  if (options.upload === false) uninstallWebGPUUpload(backend);
  return {matmul: isWebGPUMatmulRegistered(), upload: hasWebGPUUpload(backend)};
}

let tunedBackend: object | null = null;

/**
 * @internal Applies the training path's tuning when the active backend is webgpu: once per backend
 * instance (cheap afterwards), unless `tuneWebGPUBackend({auto: false})` was called.
 */
export function ensureWebGPUFastPaths(): void {
  if (!auto || tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend();
  if (tunedBackend === backend) return;
  tuneWebGPUBackend({matmul: true, upload: true});
  tunedBackend = backend;
}

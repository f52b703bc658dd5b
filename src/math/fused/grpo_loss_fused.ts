/**
 * Dispatch of `grpoLoss` to a fused kernel: typed-array loops on `cpu` and `wasm`, WGSL compute
 * shaders on `webgpu`, the composed tfjs ops elsewhere (and as the oracle in the tests).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertOneOf, check} from '../assert.js';
import {grpoLossCpu} from './grpo_loss_cpu.js';
import type {GrpoLossKernelStats} from './grpo_loss_cpu_kernel.js';
import type {GrpoLossStats, GrpoLossTensors, ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';
import {
  grpoLossWebGPU, grpoLossWebGPUStatsAvailable, grpoLossWebGPUWithStats, isWebGPUBackend, WEBGPU_MAX_ROWS,
} from './grpo_loss_webgpu.js';
import {isWebGPUDirectBackend} from './webgpu_backend_adapter.js';

/**
 * Which implementation of {@link grpoLoss} runs: `'auto'` (the fused kernel where the backend has one,
 * else the composed ops), `'fused'` (the fused kernel; an error where there is none) or `'composed'`
 * (tfjs ops only: differentiable w.r.t. every input).
 */
export type GrpoLossImplementation = 'auto' | 'fused' | 'composed';

/** @internal The accepted values of `implementation`. */
export const GRPO_LOSS_IMPLEMENTATIONS: readonly GrpoLossImplementation[] = ['auto', 'fused', 'composed'];

const TYPED_ARRAY_BACKENDS = ['cpu', 'wasm'];

/**
 * Whether {@link grpoLoss} has a fused kernel on a backend: `cpu` and `wasm` (one typed-array loop),
 * `webgpu` (WGSL compute shaders, when the registered backend object exposes `runWebGPUProgram`).
 * Other backends (`webgl`, `tensorflow`) run the composed tfjs ops.
 *
 * @param backendName a registered backend's name; default the active backend (`tf.getBackend()`).
 * @returns true when `grpoLoss` with `implementation: 'auto'` runs the fused kernel there.
 * @example
 * fusedGrpoLossAvailable();          // true on 'cpu', 'wasm' and 'webgpu'
 * fusedGrpoLossAvailable('webgl');   // false: composed ops
 */
export function fusedGrpoLossAvailable(backendName: string = tf.getBackend()): boolean {
  if (TYPED_ARRAY_BACKENDS.includes(backendName)) return true;
  if (backendName !== 'webgpu') return false;
  try {
    return isWebGPUBackend(tf.engine().findBackend(backendName));
  } catch {
    return false;
  }
}

/** @internal What a call needs from a fused kernel beyond the loss. */
export interface FusedGrpoLossNeeds {
  /** The statistics of `grpoLossWithStats`. */
  stats: boolean;
  /** Truncated importance sampling (`rolloutLogProbs`). */
  tis: boolean;
}

/**
 * @internal Validates `implementation` and decides whether the fused kernel runs for these inputs
 * on the active backend. `'fused'` where none exists throws, naming the backend. The `cpu`/`wasm`
 * kernels serve everything; the `webgpu` kernels compute TIS on both paths and the statistics on the
 * direct-device path only (with the `runWebGPUProgram` fallback, `'auto'` runs the composed ops for
 * the statistics).
 */
export function useFusedGrpoLoss(implementation: unknown, inputs: GrpoLossTensors, fn: string,
    needs: FusedGrpoLossNeeds = {stats: false, tis: false}): boolean {
  const impl = implementation ?? 'auto';
  assertOneOf(impl, GRPO_LOSS_IMPLEMENTATIONS, fn, 'implementation');
  if (impl === 'composed') return false;
  const backend = tf.getBackend();
  const gpu = backend === 'webgpu';
  const fits = !gpu || inputs.logProbs.shape[0]! <= WEBGPU_MAX_ROWS;
  // The webgpu kernels compute TIS (both paths); the statistics on the direct path only.
  const unsupported = gpu && needs.stats && !grpoLossWebGPUStatsAvailable() ?
    'the statistics (needs the direct-device path)' : null;
  const available = fusedGrpoLossAvailable(backend) && fits && unsupported === null;
  if (impl === 'fused') {
    check(available, fn, () => `'implementation' 'fused' is not available on backend '${backend}'` +
        `${!fits ? ` for batch ${inputs.logProbs.shape[0]} > ${WEBGPU_MAX_ROWS}` :
          unsupported !== null ? ` with ${unsupported}` : ''}; fused kernels exist ` +
        `for 'cpu', 'wasm' and 'webgpu'; use 'auto' or 'composed'`);
  }
  return available;
}

/**
 * @internal Whether the fused kernel of the active backend runs the value checks in its own pass
 * (`cpu`, `wasm`); elsewhere the caller runs them with tfjs ops first.
 */
export function fusedGrpoLossChecksValues(): boolean {
  const name = tf.getBackend();
  // webgpu: the direct-device kernel checks in its own dispatches (grpo_loss_webgpu_direct.ts).
  return TYPED_ARRAY_BACKENDS.includes(name) || (name === 'webgpu' && isWebGPUDirectBackend(tf.backend()));
}

/** @internal Options of {@link grpoLossFused}. */
export interface FusedGrpoLossRun {
  /** Public function named in errors. */
  fn: string;
  /** Value checks in the kernel's pass (cpu/wasm; see {@link fusedGrpoLossChecksValues}). */
  checkValues: boolean;
  /** Compute the sums behind `GrpoLossStats`. */
  withStats: boolean;
}

/**
 * @internal The fused GRPO loss on validated inputs and resolved options, on the active backend
 * (call {@link useFusedGrpoLoss} first), without value checks or statistics. On `webgpu`
 * differentiable w.r.t. `logProbs` only.
 */
export function grpoLossFused(inputs: GrpoLossTensors, resolved: ResolvedGrpoLossOptions): tf.Scalar {
  return runFusedGrpoLoss(inputs, resolved, {fn: 'grpoLoss', checkValues: false, withStats: false})!.loss;
}

/**
 * @internal {@link grpoLossFused} with value checks in the kernel's pass and, as `run` asks, the
 * statistics (cpu/wasm: from the kernel's sums; webgpu: scalars computed on the GPU, no read-back).
 * Null only for statistics on webgpu when the direct path cannot take these inputs (nothing ran:
 * the caller runs the composed ops).
 */
export function runFusedGrpoLoss(inputs: GrpoLossTensors, resolved: ResolvedGrpoLossOptions, run: FusedGrpoLossRun):
    {loss: tf.Scalar; stats: GrpoLossStats | null} | null {
  if (isWebGPUBackend(tf.backend())) {
    if (run.withStats) return grpoLossWebGPUWithStats(inputs, resolved, run.checkValues);
    return {loss: grpoLossWebGPU(inputs, resolved, run.checkValues), stats: null};
  }
  const {loss, stats} = grpoLossCpu(inputs, resolved, run);
  return {loss, stats: stats === null ? null : statsFromKernel(stats, inputs.refLogProbs !== undefined)};
}

/** The statistics from the typed-array kernel's sums (as the composed formulas). */
function statsFromKernel(s: GrpoLossKernelStats, withKl: boolean): GrpoLossStats {
  const count = Math.max(s.tokens, 1);
  const any = s.tokens > 0;
  const stats: GrpoLossStats = {
    clipFracLow: tf.scalar(s.clipLow / count), clipFracHigh: tf.scalar(s.clipHigh / count),
    clipFracDual: tf.scalar(s.clipDual / count), ratioMean: tf.scalar(any ? s.ratioSum / count : 1),
    ratioMin: tf.scalar(any ? s.ratioMin : 1), ratioMax: tf.scalar(any ? s.ratioMax : 1),
  };
  if (withKl) stats.kl = tf.scalar(s.klSum / count);
  return stats;
}

/**
 * Dispatch of `grpoLoss` to a fused kernel: typed-array loops on `cpu` and `wasm`, WGSL compute
 * shaders on `webgpu`, the composed tfjs ops elsewhere (and as the oracle in the tests).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertOneOf, check} from '../assert.js';
import type {GrpoLossInputs, ResolvedGrpoLossOptions} from '../grpo_loss.js';
import {grpoLossCpu} from './grpo_loss_cpu.js';
import {grpoLossWebGPU, isWebGPUBackend, WEBGPU_MAX_ROWS} from './grpo_loss_webgpu.js';

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

/**
 * @internal Validates `implementation` and decides whether the fused kernel runs for these inputs
 * on the active backend. `'fused'` where none exists throws, naming the backend.
 */
export function useFusedGrpoLoss(implementation: unknown, inputs: GrpoLossInputs, fn: string): boolean {
  const impl = implementation ?? 'auto';
  assertOneOf(impl, GRPO_LOSS_IMPLEMENTATIONS, fn, 'implementation');
  if (impl === 'composed') return false;
  const backend = tf.getBackend();
  const fits = backend !== 'webgpu' || inputs.logProbs.shape[0]! <= WEBGPU_MAX_ROWS;
  const available = fusedGrpoLossAvailable(backend) && fits;
  if (impl === 'fused') {
    check(available, fn, () => `'implementation' 'fused' is not available on backend '${backend}'` +
        `${fits ? '' : ` for batch ${inputs.logProbs.shape[0]} > ${WEBGPU_MAX_ROWS}`}; fused kernels exist ` +
        `for 'cpu', 'wasm' and 'webgpu'; use 'auto' or 'composed'`);
  }
  return available;
}

/**
 * @internal The fused GRPO loss on validated inputs and resolved options, on the active backend
 * (call {@link useFusedGrpoLoss} first). Differentiable w.r.t. `logProbs` only.
 */
export function grpoLossFused(inputs: GrpoLossInputs, resolved: ResolvedGrpoLossOptions): tf.Scalar {
  if (isWebGPUBackend(tf.backend())) return grpoLossWebGPU(inputs, resolved);
  return grpoLossCpu(inputs, resolved);
}

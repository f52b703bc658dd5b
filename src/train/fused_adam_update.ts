/**
 * The fused Adam update of `applyClippedGradients`: when the optimizer is exactly tfjs's
 * `AdamOptimizer` (as `tf.train.adam` builds it) and the kernel applies (webgpu with the direct
 * adapter), one kernel per variable updates the value and both moments, with the clip factor folded
 * in, instead of tfjs's ~15 programs per variable. It works on the optimizer's own state, the way
 * tfjs-core 4.x's adam_optimizer.js does: moment i (`accumulatedFirstMoment[i]`,
 * `accumulatedSecondMoment[i]`, entries `{originalName: '<name>/m' | '<name>/v', variable}`) belongs to
 * the i-th variable of the update (tfjs pairs them by position), created lazily as
 * `zerosLike(value).variable(false)`; then accBeta1 *= beta1, accBeta2 *= beta2 and the iteration
 * count goes up. So `getWeights`, `setWeights`, `dispose` and a later plain `applyGradients` see what
 * they would have seen after tfjs's own update.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {type AdamGuard, type AdamKernel, type AdamSlot, adamUpdateWebGPU} from '../math/fused/adam_webgpu.js';

let enabled = true;
let defaultKernel: AdamKernel = adamUpdateWebGPU;

/**
 * @internal Turns the fused Adam update on or off (default on), e.g. for A/B timing against tfjs's
 * own; `kernel` replaces the webgpu kernel (tests run the whole fused path on cpu with one of tf ops).
 */
export function setFusedAdam(on: boolean, kernel: AdamKernel = adamUpdateWebGPU): void {
  enabled = on;
  defaultKernel = kernel;
}

/** @internal The moment entries of tfjs's AdamOptimizer. */
export interface AdamMoment {
  originalName: string;
  variable: tf.Variable;
}

/** @internal The fields of tfjs-core 4.x's `AdamOptimizer` the fused update reads and writes. */
export interface AdamOptimizerState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<AdamMoment | null | undefined>;
  accumulatedSecondMoment: Array<AdamMoment | null | undefined>;
  incrementIterations(): void;
}

function isLiveScalar(v: unknown): v is tf.Variable {
  return v instanceof tf.Variable && !v.isDisposed && v.dtype === 'float32' && v.size === 1;
}

function isMomentList(a: unknown): a is Array<AdamMoment | null | undefined> {
  return Array.isArray(a) && a.every((e: unknown) => e == null || (typeof e === 'object' &&
      typeof (e as AdamMoment).originalName === 'string' && (e as AdamMoment).variable instanceof tf.Variable));
}

/**
 * @internal `optimizer` seen as tfjs's AdamOptimizer state, or null when it is another class (a
 * subclass included: it may override `applyGradients`) or a field is missing or of another kind.
 */
export function adamOptimizerState(optimizer: tf.Optimizer): AdamOptimizerState | null {
  if (optimizer.constructor !== tf.AdamOptimizer) return null;
  const o = optimizer as unknown as Record<string, unknown>;
  const numbers = ['learningRate', 'beta1', 'beta2', 'epsilon'].every((k) => typeof o[k] === 'number' && Number.isFinite(o[k]));
  if (!numbers || !isLiveScalar(o['accBeta1']) || !isLiveScalar(o['accBeta2']) || typeof o['incrementIterations'] !== 'function' ||
      !isMomentList(o['accumulatedFirstMoment']) || !isMomentList(o['accumulatedSecondMoment'])) {
    return null;
  }
  return optimizer as unknown as AdamOptimizerState;
}

/** @internal One variable of the update: the variable, its gradient and the index of its clip factor. */
export interface FusedAdamEntry {
  variable: tf.Variable;
  grad: tf.Tensor;
  group: number;
}

function momentFits(m: AdamMoment | null | undefined, v: tf.Variable): boolean {
  return m == null || (!m.variable.isDisposed && m.variable.dtype === 'float32' && tf.util.arraysEqual(m.variable.shape, v.shape));
}

/**
 * @internal Applies the Adam update of `optimizer` to `entries` (in the order tfjs would see their
 * names: `Object.keys` of the gradient map), each gradient scaled by `factors[group]` (`[groups]`),
 * through `kernel` (default: the webgpu one, or the one of {@link setFusedAdam}). `factors` is called
 * once the update applies; the caller disposes what it returns. `guard` (called the same way) makes a
 * NaN or infinite group norm leave everything unchanged and raise its error at the next fused call. Returns false when it does not apply:
 * turned off, the kernel unavailable on this backend, not exactly an AdamOptimizer, a non-float32
 * variable or gradient, a stored moment of another shape, or the kernel declining its buffers (then
 * missing moments may have been created, as tfjs's own update would). Then the caller runs
 * `optimizer.applyGradients`.
 */
export function fusedAdamUpdate(optimizer: tf.Optimizer, entries: readonly FusedAdamEntry[], factors: () => tf.Tensor1D,
    kernel: AdamKernel = defaultKernel, guard?: () => AdamGuard): boolean {
  if (!enabled || entries.length === 0 || !kernel.available()) return false;
  const state = adamOptimizerState(optimizer);
  if (state === null) return false;
  if (entries.some((e) => e.variable.dtype !== 'float32' || e.grad.dtype !== 'float32' ||
      !tf.util.arraysEqual(e.grad.shape, e.variable.shape))) {
    return false;
  }
  const first = state.accumulatedFirstMoment;
  const second = state.accumulatedSecondMoment;
  if (!entries.every((e, i) => momentFits(first[i], e.variable) && momentFits(second[i], e.variable))) return false;
  entries.forEach((e, i) => {
    if (first[i] == null) first[i] = {originalName: `${e.variable.name}/m`, variable: tf.tidy(() => tf.zerosLike(e.variable).variable(false))};
    if (second[i] == null) second[i] = {originalName: `${e.variable.name}/v`, variable: tf.tidy(() => tf.zerosLike(e.variable).variable(false))};
  });
  const slots: AdamSlot[] = entries.map((e, i) => ({param: e.variable, grad: e.grad, firstMoment: first[i]!.variable,
    secondMoment: second[i]!.variable, group: e.group}));
  const f = factors();
  const out = kernel.update(slots, f, state.accBeta1, state.accBeta2,
      {learningRate: state.learningRate, beta1: state.beta1, beta2: state.beta2, epsilon: state.epsilon}, guard?.());
  if (out === null) return false;
  entries.forEach((e, i) => {
    e.variable.assign(out.params[i]!);
    first[i]!.variable.assign(out.firstMoments[i]!);
    second[i]!.variable.assign(out.secondMoments[i]!);
  });
  state.accBeta1.assign(out.accBeta1);
  state.accBeta2.assign(out.accBeta2);
  // assign shares the data (one more reference): the kernel's tensors are ours to dispose.
  tf.dispose([...out.params, ...out.firstMoments, ...out.secondMoments, out.accBeta1, out.accBeta2]);
  state.incrementIterations();
  return true;
}

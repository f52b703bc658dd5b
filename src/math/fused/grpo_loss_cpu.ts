/**
 * Fused GRPO loss on the typed-array backends (`cpu`, `wasm`): the forward value, d loss / d logProbs,
 * the value checks and (for `grpoLossWithStats`) the statistics in one pass.
 *
 * Serves the `cpu` backend (where `dataSync()` hands back the tensor's own array, no copy) and the
 * `wasm` backend (read in place in its heap through the wasm backend adapter; far cheaper than ~30
 * composed wasm ops). The loss and d loss / d logProbs run in the WebAssembly SIMD kernel
 * (`grpo_loss_simd.ts`, about 2x faster) wherever it can serve the call; the JavaScript loop
 * (`grpo_loss_cpu_kernel.ts`, where the per-token formula is documented) is the fallback (no
 * WebAssembly SIMD, GSPO's sequence ratio), computes the statistics and the lazy gradients w.r.t.
 * the other inputs. `grpoLossComposed` is the oracle: same formulas and the same choices at the
 * boundaries, results equal to float32 tolerance.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {policyLossValueError} from '../policy_loss_values.js';
import {
  emptyKernelStats, type GrpoLossArrays, type GrpoLossExtraGradients, type GrpoLossKernelReport,
  type GrpoLossKernelStats, grpoLossCpuKernel,
} from './grpo_loss_cpu_kernel.js';
import type {GrpoLossTensors, ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';
import {grpoLossSimdKernel} from './grpo_loss_simd.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {type NumericArray, valuesInPlace} from './wasm_backend_adapter.js';

/** @internal The typed-array view of validated inputs (no copy on `cpu` and `wasm`). */
function arraysOf(t: GrpoLossTensors, c: ResolvedGrpoLossOptions, withStats: boolean, checkValues: boolean):
    GrpoLossArrays {
  const [batch, time] = t.logProbs.shape as [number, number];
  const useRef = (c.beta !== 0 || withStats) && t.refLogProbs !== undefined;
  return {
    logProbs: valuesInPlace(t.logProbs),
    oldLogProbs: t.oldLogProbs !== undefined ? valuesInPlace(t.oldLogProbs) : undefined,
    refLogProbs: useRef ? valuesInPlace(t.refLogProbs!) : undefined,
    rolloutLogProbs: c.tisCap !== undefined && t.rolloutLogProbs !== undefined ? valuesInPlace(t.rolloutLogProbs) : undefined,
    advantages: valuesInPlace(t.advantages),
    mask: valuesInPlace(t.mask),
    batch,
    time,
    advantagesPerToken: t.advantages.rank === 2,
    checkValues,
  };
}

/** @internal Options of {@link grpoLossCpu}. */
export interface GrpoLossCpuRun {
  /** Public function named in errors. */
  fn: string;
  /** Run the value checks in the kernel's pass. */
  checkValues: boolean;
  /** Compute the statistics of `grpoLossWithStats` (the JavaScript loop). */
  withStats: boolean;
}

/** @internal Result of {@link grpoLossCpu}. */
export interface GrpoLossCpuResult {
  loss: tf.Scalar;
  /** The sums behind `GrpoLossStats` (with `withStats`). */
  stats: GrpoLossKernelStats | null;
}

/** Throws the named error of the first bad value (after a kernel flagged one). */
function throwValueError(t: GrpoLossTensors, c: ResolvedGrpoLossOptions, fn: string, withStats: boolean): never {
  const data = (x: tf.Tensor) => x.dataSync() as NumericArray;
  const logProbs = [{name: 'logProbs', values: data(t.logProbs)}];
  if (t.oldLogProbs !== undefined) logProbs.push({name: 'oldLogProbs', values: data(t.oldLogProbs)});
  if (t.refLogProbs !== undefined && (c.beta !== 0 || withStats)) {
    logProbs.push({name: 'refLogProbs', values: data(t.refLogProbs)});
  }
  if (t.rolloutLogProbs !== undefined && c.tisCap !== undefined) {
    logProbs.push({name: 'rolloutLogProbs', values: data(t.rolloutLogProbs)});
  }
  const [batch, time] = t.logProbs.shape as [number, number];
  const message = policyLossValueError({mask: data(t.mask), advantages: data(t.advantages),
    advantagesPerToken: t.advantages.rank === 2, logProbs, batch, time});
  throw new Error(`${fn}: ${message ?? 'a value check failed'}`);
}

/**
 * @internal The fused GRPO loss on a typed-array backend (`cpu`, `wasm`), differentiable w.r.t. every
 * input like the composed version (the mask's and the rollout log-probs' gradients are 0).
 *
 * When a gradient tape records, the kernel also writes d loss / d logProbs, kept for the backward
 * pass, which only scales it by the upstream `dy` (no pass at all when dy = 1). Gradients w.r.t.
 * old/ref log-probs and advantages, which RL training does not ask for, cost one more pass, and only
 * when the tape asks for them. Outside a tape only the loss is computed. The kernel runs (and its
 * value checks throw) before anything is recorded on the tape.
 */
export function grpoLossCpu(inputs: GrpoLossTensors, c: ResolvedGrpoLossOptions, run: GrpoLossCpuRun):
    GrpoLossCpuResult {
  const {fn, checkValues, withStats} = run;
  const tape = tf.engine().isTapeOn();
  const [batch, time] = inputs.logProbs.shape as [number, number];
  const x = arraysOf(inputs, c, withStats, checkValues);
  let loss: number;
  let grad: Float32Array | null = null;
  let stats: GrpoLossKernelStats | null = null;
  // The WebAssembly SIMD kernel where it can serve the call (not the statistics), else the JavaScript loop.
  const simd = withStats ? null : grpoLossSimdKernel(x, c, tape);
  if (simd !== null) {
    if (simd.bad) throwValueError(inputs, c, fn, withStats);
    loss = simd.loss;
    grad = simd.grad;
  } else {
    const report: GrpoLossKernelReport = {bad: false, stats: withStats ? emptyKernelStats() : null};
    grad = tape ? new Float32Array(batch * time) : null;
    loss = grpoLossCpuKernel(x, c, grad, null, report);
    if (report.bad) throwValueError(inputs, c, fn, withStats);
    stats = report.stats;
  }
  if (!tape) return {loss: tf.scalar(loss), stats};

  const named: Record<string, tf.Tensor> = {logProbs: inputs.logProbs, advantages: inputs.advantages, mask: inputs.mask};
  if (inputs.oldLogProbs !== undefined) named['oldLogProbs'] = inputs.oldLogProbs;
  if (inputs.refLogProbs !== undefined) named['refLogProbs'] = inputs.refLogProbs;
  if (inputs.rolloutLogProbs !== undefined) named['rolloutLogProbs'] = inputs.rolloutLogProbs;
  const order = Object.keys(named);
  const gradient = grad!;
  const lossTensor = runWithLazyGradients(named, (save) => {
    save([tf.tensor(gradient, [batch, time], 'float32'), ...order.map((k) => named[k]!)]);
    return tf.scalar(loss);
  }, (dy, saved) => {
    const [g, ...kept] = saved as [tf.Tensor, ...tf.Tensor[]];
    const t = Object.fromEntries(order.map((k, i) => [k, kept[i]!])) as unknown as GrpoLossTensors;
    let extra: GrpoLossExtraGradients | null = null;
    const extras = (): GrpoLossExtraGradients => {
      if (extra === null) {
        extra = {
          oldLogProbs: t.oldLogProbs !== undefined ? new Float32Array(batch * time) : null,
          refLogProbs: t.refLogProbs !== undefined ? new Float32Array(batch * time) : null,
          advantages: new Float32Array(t.advantages.size),
        };
        grpoLossCpuKernel(arraysOf(t, c, false, false), c, null, extra);
      }
      return extra;
    };
    const thunks: Record<string, () => tf.Tensor> = {
      logProbs: () => scaleByUpstream(g, dy),
      mask: () => tf.zeros(t.mask.shape, 'float32'),
      advantages: () => scaleArray(extras().advantages!, t.advantages.shape, dy),
    };
    if (t.oldLogProbs !== undefined) thunks['oldLogProbs'] = () => scaleArray(extras().oldLogProbs!, [batch, time], dy);
    if (t.refLogProbs !== undefined) thunks['refLogProbs'] = () => scaleArray(extras().refLogProbs!, [batch, time], dy);
    if (t.rolloutLogProbs !== undefined) thunks['rolloutLogProbs'] = () => tf.zeros([batch, time], 'float32');
    return thunks;
  });
  return {loss: lossTensor, stats};
}

/** dy * gradient, without a pass when dy = 1 (the usual case: the loss is what is differentiated). */
function scaleByUpstream(gradient: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const scale = dy.dataSync()[0]!;
  if (scale === 1) return tf.clone(gradient);
  return scaleArray(gradient.dataSync() as Float32Array, gradient.shape, dy);
}

/** A new tensor dy * values (dy a scalar). */
function scaleArray(values: Float32Array, shape: number[], dy: tf.Tensor): tf.Tensor {
  const scale = dy.dataSync()[0]!;
  const out = new Float32Array(values.length);
  for (let k = 0; k < values.length; k++) out[k] = values[k]! * scale;
  return tf.tensor(out, shape, 'float32');
}

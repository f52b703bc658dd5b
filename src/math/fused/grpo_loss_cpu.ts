/**
 * Fused GRPO loss on typed arrays: the forward value and the gradient w.r.t. `logProbs` in one pass.
 *
 * Serves the `cpu` backend (where `dataSync()` hands back the tensor's own array, no copy) and the
 * `wasm` backend (read in place in its heap through `typedArrayFromHeap`; far cheaper than ~30 composed wasm ops).
 * The loss and d loss / d logProbs run in the WebAssembly SIMD kernel (`grpo_loss_simd.ts`, about 2x
 * faster) wherever it can serve the call; this JavaScript loop is the fallback (no WebAssembly SIMD,
 * GSPO's sequence ratio) and computes the lazy gradients w.r.t. the other inputs.
 * `grpoLossComposed` is the oracle: same formulas and the same choices at the boundaries (the clipped
 * branch only where strictly outside the range on the side of A's sign, dual-clip where r > c, abs's
 * gradient -1 at 0), results equal to float32 tolerance (the loop accumulates in float64, so it is the
 * more accurate of the two).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {fastExp} from './fast_exp.js';
import {grpoLossSimdKernel} from './grpo_loss_simd.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import type {GrpoLossInputs, ResolvedGrpoLossOptions} from '../grpo_loss.js';

type NumericArray = Float32Array | Int32Array | Uint8Array;

/** @internal The data of a fused GRPO loss as flat row-major arrays. */
export interface GrpoLossArrays {
  /** `[batch * time]` log-probs of the current policy. */
  logProbs: NumericArray;
  /** `[batch * time]` or undefined (ratio 1). */
  oldLogProbs?: NumericArray | undefined;
  /** `[batch * time]` or undefined (no KL term). */
  refLogProbs?: NumericArray | undefined;
  /** `[batch]` or `[batch * time]` (see `advantagesPerToken`). */
  advantages: NumericArray;
  /** `[batch * time]` 0/1 weights. */
  mask: NumericArray;
  /** Number of rows (sequences). */
  batch: number;
  /** Number of columns (tokens per row). */
  time: number;
  /** Whether `advantages` holds one value per token rather than one per row. */
  advantagesPerToken: boolean;
}

const KL_CODE = {k1: 0, k2: 1, k3: 2, abs: 3} as const;

/**
 * @internal Optional outputs of {@link grpoLossCpuKernel}: gradients w.r.t. the inputs that RL treats
 * as constants (computed only when a caller differentiates w.r.t. them). Each is zero-filled by the
 * caller; `advantages` is `[batch]` or `[batch * time]` like the input.
 */
export interface GrpoLossExtraGradients {
  /** d loss / d oldLogProbs (0 for the sequence ratio, which GSPO stops the gradient of). */
  oldLogProbs: Float32Array | null;
  /** d loss / d refLogProbs. */
  refLogProbs: Float32Array | null;
  /** d loss / d advantages. */
  advantages: Float32Array | null;
}

/**
 * @internal Computes the GRPO loss of `x` under `c` and, when `grad` is given, writes
 * d loss / d logProbs into it (`[batch * time]`). Returns the scalar loss. One read of every input
 * (two of the row for `ratioLevel: 'sequence'` and `'seq-mean-token-mean'`, whose row statistics are
 * needed first), one write of `grad`.
 */
export function grpoLossCpuKernel(
    x: GrpoLossArrays, c: ResolvedGrpoLossOptions, grad: Float32Array | null,
    extra: GrpoLossExtraGradients | null = null): number {
  const {logProbs: lp, oldLogProbs: old, advantages: adv, mask, batch, time, advantagesPerToken} = x;
  const ref = c.beta !== 0 ? x.refLogProbs : undefined;
  const beta = c.beta;
  const lo = 1 - c.clipLow;
  const hi = 1 + c.clipHigh;
  const useDual = c.dualClip !== undefined;
  const dual = c.dualClip ?? 0;
  const est = KL_CODE[c.klEstimator];
  const sequenceRatio = c.ratioLevel === 'sequence' && old !== undefined;
  const seqMeanTokenMean = c.aggregation === 'seq-mean-token-mean';
  const needRowPass = sequenceRatio || seqMeanTokenMean;

  // The divisor of the batch sum: tokens (token-mean) or non-empty rows (seq-mean-*), or `normalizer`.
  let denominator = c.normalizer ?? 0;
  if (c.normalizer === undefined) {
    let count = 0;
    if (c.aggregation === 'token-mean') {
      for (let k = 0, n = batch * time; k < n; k++) if (mask[k] !== 0) count++;
    } else {
      for (let i = 0; i < batch; i++) {
        for (let k = i * time, end = k + time; k < end; k++) {
          if (mask[k] !== 0) { count++; break; }
        }
      }
    }
    denominator = Math.max(count, 1);
  }
  const globalScale = c.aggregation === 'seq-mean-token-sum-norm' ?
      1 / (denominator * (c.maxLength ?? time)) : 1 / denominator;

  let total = 0;
  for (let i = 0; i < batch; i++) {
    const base = i * time;
    const end = base + time;
    let rowWeight = globalScale;
    let seqRatio = 1;
    if (needRowPass) {
      let rowCount = 0;
      let rowLogRatio = 0;
      for (let k = base; k < end; k++) {
        if (mask[k] !== 0) {
          rowCount++;
          if (sequenceRatio) rowLogRatio += lp[k]! - old![k]!;
        }
      }
      // GSPO: the ratio of the masked mean log-ratio (the gradient goes token-wise, GSPO-token).
      if (sequenceRatio) seqRatio = fastExp(rowLogRatio / Math.max(rowCount, 1));
      if (seqMeanTokenMean) rowWeight = globalScale / Math.max(rowCount, 1);
    }
    const rowAdvantage = advantagesPerToken ? 0 : adv[i]!;
    let rowSum = 0;
    for (let k = base; k < end; k++) {
      if (mask[k] === 0) {
        if (grad !== null) grad[k] = 0;
        continue;
      }
      const lpk = lp[k]!;
      const a = advantagesPerToken ? adv[k]! : rowAdvantage;
      const r = sequenceRatio ? seqRatio : old !== undefined ? fastExp(lpk - old[k]!) : 1;
      // -min(r A, clip(r, lo, hi) A): the clipped branch is active (and constant, gradient 0) only for
      // A < 0, r < lo and for A > 0, r > hi; elsewhere it is -r A, whose gradient is -r A too
      // (d r / d logProbs = r, also for GSPO-token).
      let loss: number;
      let g: number;
      let slope: number; // d loss / d A
      if (a < 0 && r < lo) {
        loss = -lo * a;
        g = 0;
        slope = -lo;
      } else if (a > 0 && r > hi) {
        loss = -hi * a;
        g = 0;
        slope = -hi;
      } else {
        loss = -r * a;
        g = loss;
        slope = -r;
      }
      if (useDual && a < 0 && r > dual) {
        loss = -dual * a;
        g = 0;
        slope = -dual;
      }
      const gPolicy = g;
      let gKl = 0;
      if (ref !== undefined) {
        const d = lpk - ref[k]!;
        if (est === 2) {
          const e = fastExp(-d);
          loss += beta * (e - 1 + d);
          gKl = beta * (1 - e);
        } else if (est === 0) {
          loss += beta * d;
          gKl = beta;
        } else if (est === 1) {
          loss += beta * 0.5 * d * d;
          gKl = beta * d;
        } else {
          loss += beta * (d > 0 ? d : -d);
          gKl = d > 0 ? beta : -beta; // tfjs: d|d|/dd = step(d, -1), which is -1 at 0
        }
        g += gKl;
      }
      rowSum += loss;
      if (grad !== null) grad[k] = rowWeight * g;
      if (extra !== null) {
        if (extra.oldLogProbs !== null && !sequenceRatio) extra.oldLogProbs[k] = -rowWeight * gPolicy;
        if (extra.refLogProbs !== null) extra.refLogProbs[k] = -rowWeight * gKl;
        if (extra.advantages !== null) {
          if (advantagesPerToken) extra.advantages[k] = rowWeight * slope;
          else extra.advantages[i] = extra.advantages[i]! + rowWeight * slope;
        }
      }
    }
    total += rowWeight * rowSum;
  }
  return total;
}

/** The `wasm` backend's view of a tensor in its heap (public method of its `BackendWasm`). */
interface HeapBackend {
  typedArrayFromHeap?: (t: tf.TensorInfo) => NumericArray;
  dataIdMap?: {has(dataId: object): boolean};
}

/**
 * The values of `t` without a copy where possible: `dataSync()` on `cpu` is the tensor's own array; on
 * `wasm` a view into the backend's heap (`typedArrayFromHeap`; `dataSync()` would copy). A heap view is
 * valid until the wasm backend allocates again: the kernels read it before any tensor is created.
 */
function valuesOf(t: tf.Tensor): NumericArray {
  const b = tf.backend() as unknown as HeapBackend;
  if (typeof b.typedArrayFromHeap === 'function' && b.dataIdMap?.has(t.dataId) === true) {
    return b.typedArrayFromHeap(t);
  }
  return t.dataSync() as NumericArray;
}

/** @internal The typed-array view of validated inputs (no copy on `cpu` and `wasm`). */
function arraysOf(t: GrpoLossTensors, c: ResolvedGrpoLossOptions): GrpoLossArrays {
  const [batch, time] = t.logProbs.shape as [number, number];
  return {
    logProbs: valuesOf(t.logProbs),
    oldLogProbs: t.oldLogProbs !== undefined ? valuesOf(t.oldLogProbs) : undefined,
    refLogProbs: c.beta !== 0 && t.refLogProbs !== undefined ? valuesOf(t.refLogProbs) : undefined,
    advantages: valuesOf(t.advantages),
    mask: valuesOf(t.mask),
    batch,
    time,
    advantagesPerToken: t.advantages.rank === 2,
  };
}

interface GrpoLossTensors {
  logProbs: tf.Tensor;
  oldLogProbs?: tf.Tensor | undefined;
  refLogProbs?: tf.Tensor | undefined;
  advantages: tf.Tensor;
  mask: tf.Tensor;
}

/**
 * @internal The fused GRPO loss on a typed-array backend (`cpu`, `wasm`), differentiable w.r.t. every
 * input like the composed version (the mask's gradient is 0).
 *
 * When a gradient tape records, the forward pass also writes d loss / d logProbs and keeps it, so the
 * backward pass only scales it by the upstream `dy` (no pass at all when dy = 1). Gradients w.r.t.
 * old/ref log-probs and advantages, which RL training does not ask for, cost one more pass, and only
 * when the tape asks for them. Outside a tape only the loss is computed.
 */
export function grpoLossCpu(inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions): tf.Scalar {
  if (!tf.engine().isTapeOn()) {
    const x = arraysOf(inputs, c);
    return tf.scalar(grpoLossSimdKernel(x, c, false)?.loss ?? grpoLossCpuKernel(x, c, null));
  }
  const [batch, time] = inputs.logProbs.shape as [number, number];
  const named: Record<string, tf.Tensor> = {logProbs: inputs.logProbs, advantages: inputs.advantages, mask: inputs.mask};
  if (inputs.oldLogProbs !== undefined) named['oldLogProbs'] = inputs.oldLogProbs;
  if (inputs.refLogProbs !== undefined) named['refLogProbs'] = inputs.refLogProbs;
  const order = Object.keys(named);
  return runWithLazyGradients(named, (save) => {
    const x = arraysOf(inputs, c);
    // The WebAssembly SIMD kernel where it can serve the call, else the JavaScript loop.
    const simd = grpoLossSimdKernel(x, c, true);
    const grad = simd?.grad ?? new Float32Array(batch * time);
    const loss = simd?.loss ?? grpoLossCpuKernel(x, c, grad);
    save([tf.tensor(grad, [batch, time], 'float32'), ...order.map((k) => named[k]!)]);
    return tf.scalar(loss);
  }, (dy, saved) => {
    const [gradient, ...kept] = saved as [tf.Tensor, ...tf.Tensor[]];
    const t = Object.fromEntries(order.map((k, i) => [k, kept[i]!])) as unknown as GrpoLossTensors;
    let extra: GrpoLossExtraGradients | null = null;
    const extras = (): GrpoLossExtraGradients => {
      if (extra === null) {
        extra = {
          oldLogProbs: t.oldLogProbs !== undefined ? new Float32Array(batch * time) : null,
          refLogProbs: t.refLogProbs !== undefined ? new Float32Array(batch * time) : null,
          advantages: new Float32Array(t.advantages.size),
        };
        grpoLossCpuKernel(arraysOf(t, c), c, null, extra);
      }
      return extra;
    };
    const thunks: Record<string, () => tf.Tensor> = {
      logProbs: () => scaleByUpstream(gradient, dy),
      mask: () => tf.zeros(t.mask.shape, 'float32'),
      advantages: () => scaleArray(extras().advantages!, t.advantages.shape, dy),
    };
    if (t.oldLogProbs !== undefined) thunks['oldLogProbs'] = () => scaleArray(extras().oldLogProbs!, [batch, time], dy);
    if (t.refLogProbs !== undefined) thunks['refLogProbs'] = () => scaleArray(extras().refLogProbs!, [batch, time], dy);
    return thunks;
  });
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

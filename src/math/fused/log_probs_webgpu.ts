/**
 * Fused `tokenLogProbs` and `entropyFromLogits` on webgpu: one read of the logits forward, one read
 * and one write of d logits backward (`log_probs_wgsl.ts`), recorded straight into the backend's
 * compute pass through `webgpu_backend_adapter.ts`. Nothing of size `[rows, vocab]` is kept between
 * the passes: only per-row statistics (max, log-sum-exp, mean of z - max under p), so the peak memory
 * of forward + backward is the input plus its gradient.
 *
 * Token ids outside [0, vocab) and rows with a NaN or infinite logit give NaN and, under value
 * checks, a named error delivered through `webgpu_value_checks.ts` (the next fused call throws it).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {fmtShape, valueChecksEnabled} from '../assert.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  backwardKinds, backwardShader, forwardKinds, forwardShader, LP_BWD_ITER, LP_SPLIT_SPAN, LP_WG, type LogProbShaderFlags,
  SPLIT_KINDS, splitFinalizeKinds, splitFinalizeShader, splitPartialShader,
} from './log_probs_wgsl.js';
import {
  activeDirectBackend, bindGroupFor, clearBufferNow, gpuBufferOf, layoutFor, newOutput, pipelineFor,
  recordDispatches, scratchBuffer, uniformBuffer, type WebGPUDirectBackend,
} from './webgpu_backend_adapter.js';
import {throwPendingValueCheck, watchCheckWord} from './webgpu_value_checks.js';

const MAX_ROWS = 65535;

/** The public function and its token-id argument, as errors name them. */
interface Names {fn: string; tokens: string}
let enabled = true;
let variant: Required<LogProbsWebGPUVariant> = defaultVariant();

/** @internal Variants of the fused webgpu log-prob kernels (see {@link setLogProbsWebGPU}). */
export interface LogProbsWebGPUVariant {
  /** Rows split over several workgroups in the forward pass (then a merge pass); default true. */
  splitForward?: boolean;
  /** Elements (vec4 units when vocab % 4 == 0) per workgroup of the split forward; default 8192. */
  splitSpan?: number;
  /** Loads per thread per step of the forward reduction: 1, 2, 4 or 8; default 4. */
  unroll?: number;
  /** Elements (vec4 units when vocab % 4 == 0) per thread of the backward pass; default 4. */
  bwdIter?: number;
}

function defaultVariant(): Required<LogProbsWebGPUVariant> {
  // H200 sweep (bench/results/h200-2026-12-01-logprobs-micro.txt): split forward, span 8192, unroll 4 was fastest.
  return {splitForward: true, splitSpan: 8192, unroll: 4, bwdIter: LP_BWD_ITER};
}

/**
 * @internal Turns the fused webgpu log-prob kernels on or off (default on) and picks a variant
 * (fields left out take their defaults); for benchmarks (`bench/webgpu_micro.ts` times them all) and
 * checks (`bench/webgpu_check_logprobs.ts` checks them all).
 */
export function setLogProbsWebGPU(on: boolean, options: LogProbsWebGPUVariant = {}): void {
  const v = {...defaultVariant(), ...options};
  if (![1, 2, 4, 8].includes(v.unroll)) throw new Error(`setLogProbsWebGPU: unroll must be 1, 2, 4 or 8, got ${v.unroll}`);
  for (const k of ['splitSpan', 'bwdIter'] as const) {
    if (!Number.isInteger(v[k]) || v[k] < 1) throw new Error(`setLogProbsWebGPU: ${k} must be an integer >= 1, got ${v[k]}`);
  }
  enabled = on;
  variant = v;
}

/** @internal The backend when the fused kernels apply to `[rows, vocab]` logits, else null. */
export function logProbsWebGPUBackend(rows: number, vocab: number): WebGPUDirectBackend | null {
  if (!enabled || rows < 1 || rows > MAX_ROWS || vocab < 1) return null;
  return activeDirectBackend();
}

function forward(backend: WebGPUDirectBackend, f: LogProbShaderFlags, logits: tf.Tensor, tokens: tf.Tensor | null,
    invTemp: number, names: Names): {value: tf.Tensor; stats: tf.Tensor} | null {
  const {fn} = names;
  const [batch, time, vocab] = logits.shape as [number, number, number];
  const rows = batch * time;
  const lb = gpuBufferOf(backend, logits);
  const tb = tokens === null ? null : gpuBufferOf(backend, tokens);
  if (lb === null || lb.type !== 'f32' || (tokens !== null && (tb === null || tb.type !== 'i32'))) return null;
  const device = backend.device;
  const kinds = forwardKinds(f);
  const layout = layoutFor(device, kinds);
  const pipeline = pipelineFor(device, `lp_fwd_${f.mode}_${+f.vec4}_${f.unroll}`, kinds, () => forwardShader(f));
  const value = newOutput(backend, [batch, time]);
  const stats = newOutput(backend, [rows * 3]);
  const check = scratchBuffer(device, 'lpCheck', 16);
  const uniform = uniformBuffer(device, [rows, vocab, 0, 0], [invTemp, 0, 0, 0]);
  const buffers = [uniform, lb.buffer, ...(tb === null ? [] : [tb.buffer]), value.buffer, stats.buffer, check];
  const checks = valueChecksEnabled();
  if (checks) clearBufferNow(backend, check);
  const used: tf.TensorInfo[] = [logits, value.info, stats.info];
  if (tokens !== null) used.push(tokens);
  const count = f.vec4 ? vocab / 4 : vocab;
  const splits = Math.ceil(count / f.splitSpan!);
  if (!variant.splitForward || splits < 2) {
    recordDispatches(backend, used, [{pipeline, bindGroup: bindGroupFor(device, layout, buffers), workgroups: [rows]}]);
  } else {
    // Split rows: workgroups over (span, row) write partial (max, sum, t), one thread per row merges.
    const partials = scratchBuffer(device, 'lpPartials', 12 * rows * splits);
    const u = uniformBuffer(device, [rows, vocab, splits, 0], [invTemp, 0, 0, 0]);
    const finKinds = splitFinalizeKinds(f);
    recordDispatches(backend, used, [{
      pipeline: pipelineFor(device, `lp_split_${f.mode}_${+f.vec4}_${f.unroll}_${f.splitSpan}`, SPLIT_KINDS, () => splitPartialShader(f)),
      bindGroup: bindGroupFor(device, layoutFor(device, SPLIT_KINDS), [u, lb.buffer, partials]),
      workgroups: [splits, rows],
    }, {
      pipeline: pipelineFor(device, `lp_splitfin_${f.mode}`, finKinds, () => splitFinalizeShader(f)),
      bindGroup: bindGroupFor(device, layoutFor(device, finKinds),
          [u, ...(tb === null ? [] : [lb.buffer, tb.buffer]), partials, value.buffer, stats.buffer, check]),
      workgroups: [Math.ceil(rows / 64)],
    }]);
  }
  if (checks) {
    watchCheckWord(backend, check, 0, false, (bits) => (bits === 2 ?
      `${fn}: 'logits' expected finite values, got NaN or Infinity (shape ${fmtShape(logits.shape)})` :
      `${fn}: '${names.tokens}' expected values in [0, ${vocab}) (vocab size from 'logits' ${fmtShape(logits.shape)}), ` +
        'got an id outside that range'));
  }
  const engine = tf.engine();
  return {value: engine.makeTensorFromTensorInfo(value.info), stats: engine.makeTensorFromTensorInfo(stats.info)};
}

function backward(backend: WebGPUDirectBackend, f: LogProbShaderFlags, logits: tf.Tensor, tokens: tf.Tensor | null,
    stats: tf.Tensor, dy: tf.Tensor, invTemp: number): tf.Tensor {
  const [batch, time, vocab] = logits.shape as [number, number, number];
  const rows = batch * time;
  let dyF = dy;
  let db = gpuBufferOf(backend, dy);
  if (db === null || db.type !== 'f32') {
    dyF = tf.add(tf.cast(dy, 'float32'), tf.zeros([], 'float32'));
    db = gpuBufferOf(backend, dyF)!;
  }
  const lb = gpuBufferOf(backend, logits)!;
  const tb = tokens === null ? null : gpuBufferOf(backend, tokens)!;
  const sb = gpuBufferOf(backend, stats)!;
  const device = backend.device;
  const kinds = backwardKinds(f);
  const layout = layoutFor(device, kinds);
  const iter = f.bwdIter ?? LP_BWD_ITER;
  const pipeline = pipelineFor(device, `lp_bwd_${f.mode}_${+f.vec4}_${iter}`, kinds, () => backwardShader(f));
  const grad = newOutput(backend, [batch, time, vocab]);
  const uniform = uniformBuffer(device, [rows, vocab, 0, 0], [invTemp, 0, 0, 0]);
  const buffers = [uniform, lb.buffer, ...(tb === null ? [] : [tb.buffer]), sb.buffer, db.buffer, grad.buffer];
  const count = f.vec4 ? vocab / 4 : vocab;
  const used: tf.TensorInfo[] = [logits, stats, dyF, grad.info];
  if (tokens !== null) used.push(tokens);
  recordDispatches(backend, used, [{pipeline, bindGroup: bindGroupFor(device, layout, buffers),
    workgroups: [Math.ceil(count / (LP_WG * iter)), rows]}]);
  if (dyF !== dy) dyF.dispose();
  return tf.engine().makeTensorFromTensorInfo(grad.info);
}

function run(mode: LogProbShaderFlags['mode'], logits: tf.Tensor3D, tokens: tf.Tensor2D | null, temperature: number,
    names: Names): tf.Tensor2D | null {
  const [batch, time, vocab] = logits.shape;
  const backend = logProbsWebGPUBackend(batch * time, vocab);
  if (backend === null) return null;
  throwPendingValueCheck(backend);
  const lb = gpuBufferOf(backend, logits);
  const tb = tokens === null ? null : gpuBufferOf(backend, tokens);
  if (lb === null || lb.type !== 'f32' || (tokens !== null && (tb === null || tb.type !== 'i32'))) return null;
  const f: LogProbShaderFlags = {mode, vec4: vocab % 4 === 0, bwdIter: variant.bwdIter, unroll: variant.unroll,
    splitSpan: variant.splitSpan};
  const invTemp = 1 / temperature;
  if (!tf.engine().isTapeOn()) {
    const r = forward(backend, f, logits, tokens, invTemp, names)!;
    r.stats.dispose();
    return r.value as tf.Tensor2D;
  }
  const inputs: Record<string, tf.Tensor> = {logits};
  if (tokens !== null) inputs['tokens'] = tokens;
  return runWithLazyGradients(inputs, (save) => {
    const r = forward(backend, f, logits, tokens, invTemp, names)!;
    // The backward reads the logits (and tokens) again: save them, since an enclosing tidy (a
    // model's forward under tf.variableGrads) disposes intermediates the tape does not keep.
    save(tokens === null ? [r.stats, logits] : [r.stats, logits, tokens]);
    return r.value;
  }, (dy, saved) => ({
    logits: () => backward(backend, f, saved[1]!, tokens === null ? null : saved[2]!, saved[0]!, dy, invTemp),
    tokens: () => tf.zeros(tokens!.shape, 'float32'),
  })) as tf.Tensor2D;
}

/**
 * @internal `tokenLogProbs` on webgpu as two fused kernels, or null when they do not apply (another
 * backend, more than 65535 rows, buffers tfjs keeps elsewhere): the caller runs the chunked ops then.
 * Inputs validated by the caller (shapes, dtypes); token ids and finite logits are checked in the kernel.
 */
export function tokenLogProbsWebGPU(logits: tf.Tensor3D, tokens: tf.Tensor2D, temperature: number,
    names: Names = {fn: 'tokenLogProbs', tokens: 'tokens'}): tf.Tensor2D | null {
  return run('logp', logits, tokens, temperature, names);
}

/** @internal `entropyFromLogits` on webgpu as two fused kernels, or null (see {@link tokenLogProbsWebGPU}). */
export function entropyFromLogitsWebGPU(logits: tf.Tensor3D, temperature: number): tf.Tensor2D | null {
  return run('entropy', logits, null, temperature, {fn: 'entropyFromLogits', tokens: ''});
}

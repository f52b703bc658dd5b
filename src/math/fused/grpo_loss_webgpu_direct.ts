/**
 * Fused GRPO loss on the `webgpu` backend, driving the backend's `GPUDevice` directly.
 *
 * `runWebGPUProgram` costs about 0.2 ms of CPU time per program (shader-key string, a fresh uniform
 * buffer and bind group, output bookkeeping); the composed-program path of `grpo_loss_webgpu.ts`
 * issued five per forward + backward step. This path records its own dispatches into the backend's
 * open compute pass, with everything that does not change between steps cached:
 * - one `GPUComputePipeline` per option combination and input dtype (an explicit bind-group layout,
 *   shared by the dispatches of one step, so one bind group serves them all);
 * - uniform buffers by content (never rewritten: a `queue.writeBuffer` would run before commands
 *   already recorded in the open encoder), a scratch buffer of partial sums per number of partials;
 * - bind groups by the identity of the buffers they bind (tfjs's buffer pool hands the same output
 *   buffers back step after step).
 *
 * Dispatches (`grpo_loss_webgpu_shaders.ts`), all in one compute pass (WebGPU orders and
 * synchronizes dispatches of a pass): `rows`, then `finalize` (and `scale` for many partials).
 * The gradient w.r.t. `logProbs` is therefore complete after the forward pass for an upstream
 * gradient of 1 (`tf.grad`, `tf.valueAndGrad`, `optimizer.minimize` on this loss): the backward pass
 * hands it over without GPU work, and multiplies it by `dy` otherwise.
 *
 * Value checks (on by default, `configureValidation`) run inside the same dispatches: 0/1 mask,
 * finite advantages and log-probs (policy, old, reference, rollout) on unmasked tokens, log-probs
 * <= 1e-4 (probabilities passed by mistake). A failure makes the loss NaN and sets a check word that
 * is copied back asynchronously (WebGPU in Node.js has no synchronous read-back; by default without
 * a submit of its own, `webgpu_value_checks.ts`); the named error is thrown by a later fused
 * `grpoLoss` call on the device (one or two calls later), or by {@link settleWebGPUValueChecks}.
 *
 * The backend internals used (output tensors through `makeTensorInfo` + `uploadToGPU`, the open
 * encoder and pass, `commandQueueOwnedIds`) are reached only through `webgpu_backend_adapter.ts`;
 * the caller falls back to `runWebGPUProgram` when a field is missing (another tfjs version).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import type {GrpoLossInputs} from '../grpo_loss_options.js';
import type {ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {valueCheckMessage} from './grpo_loss_wgsl.js';
import {
  bindingNames, checkWordIndex, CHUNK, COMBINED_MAX_PARTIALS, finalizeShader, type GrpoShaderFlags, type GrpoStage,
  isWritten, needsRowPass, partialsLength, rowsShader, scaleShader, shaderKey, STAT_OUTPUTS, statsShader,
} from './grpo_loss_webgpu_shaders.js';
import type {GrpoLossStats} from './grpo_loss_kernel_inputs.js';
import {
  type BindingKind, bindGroupFor, type BoundBuffer, type Dispatch, gpuBuffersOf, isCpuOne, layoutFor, newOutput,
  pipelineFor, recordDispatches, scratchBuffer, uniformBuffer, type WebGPUDirectBackend,
} from './webgpu_backend_adapter.js';
import {throwPendingValueCheck, watchCheckWord} from './webgpu_value_checks.js';

export {isWebGPUDirectBackend, type WebGPUDirectBackend} from './webgpu_backend_adapter.js';

/** Truncated importance sampling inputs (`rolloutLogProbs`, `tisCap`) when given. */
function tisOf(inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions): {rollout: tf.Tensor; cap: number} | null {
  const rollout = (inputs as {rolloutLogProbs?: tf.Tensor}).rolloutLogProbs;
  if (rollout === undefined) return null;
  return {rollout, cap: (c as {tisCap?: number}).tisCap ?? 3.4e38};
}

/** The inputs the shaders read, in binding order (old/ref/rollout log-probs only when used). */
function boundInputs(inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions, withStats: boolean): tf.Tensor[] {
  const tensors: tf.Tensor[] = [inputs.logProbs];
  if (inputs.oldLogProbs !== undefined) tensors.push(inputs.oldLogProbs);
  if ((c.beta !== 0 || withStats) && inputs.refLogProbs !== undefined) tensors.push(inputs.refLogProbs);
  const tis = tisOf(inputs, c);
  if (tis !== null) tensors.push(tis.rollout);
  tensors.push(inputs.advantages, inputs.mask);
  return tensors;
}

export {settleWebGPUValueChecks} from './webgpu_value_checks.js';

/** @internal Result of {@link grpoLossWebGPUDirect}. */
export interface DirectResult {
  loss: tf.Scalar;
  /** The statistics (with `withStats`), else null. */
  stats: GrpoLossStats | null;
}

/** Records the dispatches of one step. */
function record(backend: WebGPUDirectBackend, inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions,
    writeGrad: boolean, tensors: tf.Tensor[], bufs: BoundBuffer[], checks: boolean, withStats: boolean):
    DirectResult & {grad: tf.Tensor | null} {
  const {logProbs, oldLogProbs, refLogProbs, advantages} = inputs;
  const [batch, time] = logProbs.shape as [number, number];
  const kl = c.beta !== 0 && refLogProbs !== undefined;
  const statsKl = withStats && refLogProbs !== undefined;
  const tis = tisOf(inputs, c);
  const sequence = c.ratioLevel === 'sequence';
  const hasOld = oldLogProbs !== undefined;
  const seqMeanTokenMean = c.aggregation === 'seq-mean-token-mean';
  const tokenMean = c.aggregation === 'token-mean';
  const chunked = tokenMean && !needsRowPass({sequence, hasOld, seqMeanTokenMean}) && time > CHUNK;
  const chunks = chunked ? Math.ceil(time / CHUNK) : 1;
  const numPartials = batch * chunks;
  let k = 0;
  const typeOf = (present: boolean) => present ? bufs[k++]!.type : 'f32';
  const f: GrpoShaderFlags = {
    hasOld, sequence, kl, klEstimator: c.klEstimator, dual: c.dualClip !== undefined,
    perTokenAdvantages: advantages.rank === 2, tis: tis !== null, checks,
    seqMeanTokenMean, tokenMean, sumNorm: c.aggregation === 'seq-mean-token-sum-norm', writeGrad, chunked,
    stats: withStats, klStats: statsKl && !kl, statsKl,
    types: {logProbs: typeOf(true), oldLogProbs: typeOf(hasOld), refLogProbs: typeOf(kl || statsKl),
      rolloutLogProbs: typeOf(tis !== null), advantages: typeOf(true), mask: typeOf(true)},
  };
  const device = backend.device;
  const key = shaderKey(f);
  const kindsOf = (stage: GrpoStage): BindingKind[] =>
    ['uniform', ...bindingNames(f, stage).map((n): BindingKind => isWritten(n) ? 'rw' : 'read')];
  const rowsKinds = kindsOf('rows');
  const finKinds = kindsOf('finalize');
  const lossOut = newOutput(backend, []);
  const gradOut = writeGrad ? newOutput(backend, [batch, time]) : null;
  const uniform = uniformBuffer(device, [batch, time, chunks, chunked ? CHUNK : time],
      [1 - c.clipLow, 1 + c.clipHigh, c.dualClip ?? 0, c.beta, c.normalizer ?? 0, c.maxLength ?? time,
        tis?.cap ?? 0, 0]);
  const partials = scratchBuffer(device, 'grpoPartials', 4 * partialsLength(numPartials, withStats));
  const grad = gradOut?.buffer ?? scratchBuffer(device, 'grpoDummy', 16);
  const rowsGroup = bindGroupFor(device, layoutFor(device, rowsKinds),
      [uniform, ...bufs.map((b) => b.buffer), partials, grad]);
  const finGroup = bindGroupFor(device, layoutFor(device, finKinds), [uniform, partials, grad, lossOut.buffer]);
  const rows = (name: string, code: () => string, x: number, y = 1): Dispatch =>
    ({pipeline: pipelineFor(device, `grpo_${name}_${key}`, rowsKinds, code), bindGroup: rowsGroup, workgroups: [x, y]});
  const fin = (name: string, code: () => string, x: number, y = 1): Dispatch =>
    ({pipeline: pipelineFor(device, `grpo_${name}_${key}`, finKinds, code), bindGroup: finGroup, workgroups: [x, y]});
  const dispatches: Dispatch[] = [rows('rows', () => rowsShader(f), chunks, batch)];
  if (!writeGrad) {
    dispatches.push(fin('finalize', () => finalizeShader(f, false), 1));
  } else if (numPartials <= COMBINED_MAX_PARTIALS) {
    dispatches.push(fin('finalizeCombined', () => finalizeShader(f, true), chunks, batch));
  } else {
    dispatches.push(fin('finalize', () => finalizeShader(f, false), 1), fin('scale', () => scaleShader(f), chunks, batch));
  }
  const used: tf.TensorInfo[] = [...tensors, lossOut.info];
  if (gradOut !== null) used.push(gradOut.info);
  const statOuts = withStats ? STAT_OUTPUTS.filter((n) => n !== 'kl' || statsKl).map((n) => ({n, out: newOutput(backend, [])})) : [];
  if (withStats) {
    const statsKinds = kindsOf('stats');
    const group = bindGroupFor(device, layoutFor(device, statsKinds), [uniform, partials, ...statOuts.map((s) => s.out.buffer)]);
    dispatches.push({pipeline: pipelineFor(device, `grpo_stats_${key}`, statsKinds, () => statsShader(f)), bindGroup: group,
      workgroups: [1]});
    for (const s of statOuts) used.push(s.out.info);
  }
  recordDispatches(backend, used, dispatches);
  if (checks) {
    watchCheckWord(backend, partials, 4 * checkWordIndex(numPartials), true, (bits) => valueCheckMessage('grpoLoss', bits));
  }
  const engine = tf.engine();
  let stats: GrpoLossStats | null = null;
  if (withStats) {
    const t = Object.fromEntries(statOuts.map((s) => [s.n, engine.makeTensorFromTensorInfo(s.out.info) as tf.Scalar]));
    stats = t as unknown as GrpoLossStats;
  }
  return {
    loss: engine.makeTensorFromTensorInfo(lossOut.info) as tf.Scalar,
    grad: gradOut === null ? null : engine.makeTensorFromTensorInfo(gradOut.info),
    stats,
  };
}

/**
 * @internal The fused GRPO loss on `webgpu` through the backend's device (see the module comment);
 * the same contract as `grpoLossWebGPU`, and with `withStats` the statistics of `grpoLossWithStats`
 * as float32 scalars computed on the GPU (one more dispatch; no read-back). Returns null (nothing
 * recorded) when an input has no usable GPU buffer, for the caller's fallback. Throws the named
 * error of a value check that failed in an earlier call. `batch` must be in [1, 65535], `time` >= 1.
 */
export function grpoLossWebGPUDirect(backend: WebGPUDirectBackend, inputs: GrpoLossInputs,
    c: ResolvedGrpoLossOptions, checks = valueChecksEnabled(), withStats = false): DirectResult | null {
  throwPendingValueCheck(backend);
  const tensors = boundInputs(inputs, c, withStats);
  const bufs = gpuBuffersOf(backend, tensors);
  if (bufs === null) return null;
  if (!tf.engine().isTapeOn()) {
    const r = record(backend, inputs, c, false, tensors, bufs, checks, withStats);
    return {loss: r.loss, stats: r.stats};
  }
  const named: Record<string, tf.Tensor> = {logProbs: inputs.logProbs, advantages: inputs.advantages, mask: inputs.mask};
  if (inputs.oldLogProbs !== undefined) named['oldLogProbs'] = inputs.oldLogProbs;
  if (inputs.refLogProbs !== undefined) named['refLogProbs'] = inputs.refLogProbs;
  const tis = tisOf(inputs, c);
  if (tis !== null) named['rolloutLogProbs'] = tis.rollout;
  // Recorded outside the op: the engine runs the op's forward function in a tidy scope, which would
  // dispose the statistics (the op has one output); they stay in the caller's scope instead.
  const r = record(backend, inputs, c, true, tensors, bufs, checks, withStats);
  const loss = runWithLazyGradients(named, (save) => {
    save([r.grad!]); // a kept clone
    r.grad!.dispose();
    return r.loss;
  }, (dy, saved) => {
    const grad = saved[0]!;
    const constant = (name: string) => (): tf.Tensor => {
      throw new Error(`grpoLoss: the fused webgpu kernel differentiates w.r.t. 'logProbs' only, not ` +
          `'${name}'; pass implementation: 'composed' for that gradient`);
    };
    return {
      // The tape's seed (tf.grad, tf.valueAndGrad) is a CPU-resident 1: the saved gradient is final.
      logProbs: () => isCpuOne(backend, dy) ? tf.clone(grad) : tf.mul(grad, dy),
      mask: () => tf.zeros(inputs.mask.shape, 'float32'),
      advantages: constant('advantages'),
      oldLogProbs: constant('oldLogProbs'),
      refLogProbs: constant('refLogProbs'),
      rolloutLogProbs: constant('rolloutLogProbs'),
    };
  });
  return {loss, stats: r.stats};
}

/**
 * Fused GRPO loss on the `webgpu` backend. The fast path (`grpo_loss_webgpu_direct.ts`) records two
 * dispatches straight into the backend's compute pass; this module is its entry point and its
 * fallback (another tfjs version without the fields that path needs): WGSL compute shaders run
 * through the backend's `runWebGPUProgram`.
 *
 * The backend object is duck-typed (a `runWebGPUProgram` method): this module never imports
 * `@tensorflow/tfjs-backend-webgpu`, which stays an optional, user-installed backend.
 *
 * Three programs (two for a forward pass without a gradient tape):
 * 1. `rows`: one workgroup of 256 threads per sequence. Computes each token's loss and gradient
 *    w.r.t. `logProbs` (the same formulas as `grpoLossComposed`), writes the gradient, and reduces
 *    the row's loss sum and token count in workgroup memory. A first pass over the row gets its token
 *    count and masked log-ratio sum when GSPO's sequence ratio or 'seq-mean-token-mean' needs them.
 *    Output: one flat buffer `[gradient (batch * time) | row losses (batch) | row counts (batch)]`
 *    (a program has one output binding).
 * Inputs are read through `f32(...)`: tfjs-backend-webgpu may keep a float32 tensor in an i32 buffer
 * (a cast from bool can be a no-op), and masks may be int32 or bool.
 * 2. `finalize`: one workgroup. Sums the row losses and counts and writes `[loss, gradScale]`, where
 *    gradScale = 1 / (token count, non-empty rows or `normalizer`, times `maxLength` for Dr. GRPO).
 * 3. `backward`: gradient = rows[k] * gradScale * dy, elementwise.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type {GrpoLossInputs} from '../grpo_loss_options.js';
import type {ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {reduceTwoWgsl, rowLossWgsl, type TokenLossFlags} from './grpo_loss_wgsl.js';
import {type DirectResult, grpoLossWebGPUDirect, isWebGPUDirectBackend} from './grpo_loss_webgpu_direct.js';

let directEnabled = true;

/**
 * @internal Turns the direct-device path (`grpo_loss_webgpu_direct.ts`) on or off (default on); off
 * runs the `runWebGPUProgram` programs below. For benchmarks and self-checks comparing the two.
 */
export function setGrpoLossWebGPUDirect(enabled: boolean): void {
  directEnabled = enabled;
}

/** @internal What this module needs of tfjs's WebGPU backend (duck-typed). */
export interface WebGPUBackendLike {
  /** Compiles (once per shader key) and enqueues `program`; returns the output's TensorInfo. */
  runWebGPUProgram(
      program: WebGPUProgramLike, inputs: tf.TensorInfo[], outputDtype: tf.DataType,
      programDefinedUniform?: Array<{type: 'int32' | 'float32'; data: number[]}>): tf.TensorInfo;
}

/** @internal The fields of tfjs-backend-webgpu's `WebGPUProgram` interface that these programs set. */
export interface WebGPUProgramLike {
  /** Shape of the single output buffer `result`. */
  outputShape: number[];
  /** Cache key of the compiled pipeline; the backend appends input ranks and dtypes. */
  shaderKey: string;
  /** Flat layout: one dispatch dimension over all output elements. */
  dispatchLayout: {x: number[]};
  /** Number of workgroups in x, y, z. */
  dispatch: [number, number, number];
  /** Names of the input bindings, in the order of the inputs. */
  variableNames: string[];
  /** Threads per workgroup. */
  workgroupSize: [number, number, number];
  /** Extra uniform fields, WGSL struct member syntax. */
  uniforms?: string;
  /** Whether the backend adds a `size` uniform (number of output elements). */
  size?: boolean;
  /** WGSL source that defines `fn main(index : i32)`. */
  getUserCode: () => string;
}

/** @internal Whether `backend` has the WebGPU backend's program runner. */
export function isWebGPUBackend(backend: unknown): backend is WebGPUBackendLike {
  return typeof backend === 'object' && backend !== null &&
      typeof (backend as {runWebGPUProgram?: unknown}).runWebGPUProgram === 'function';
}

const WG = 256;
/** WebGPU's default limit of workgroups per dispatch dimension: one workgroup per row. */
export const WEBGPU_MAX_ROWS = 65535;

/** Code-shaping flags of the `rows` program (each combination compiles once). */
type RowsFlags = TokenLossFlags & {seqMeanTokenMean: boolean; writeGrad: boolean};

/** Shared tree reduction of two values over the 256 threads of a workgroup (all threads must call it). */
const REDUCE_TWO = reduceTwoWgsl('grpoReduceTwo', 'grpoPart', WG);

function rowsProgram(batch: number, gradLen: number, f: RowsFlags): WebGPUProgramLike {
  const variableNames = ['logProbs'];
  if (f.hasOld) variableNames.push('oldLogProbs');
  if (f.kl) variableNames.push('refLogProbs');
  if (f.tis) variableNames.push('rolloutLogProbs');
  variableNames.push('advantages', 'maskValues');
  const key = ['grpoLossRows', +f.hasOld, +f.sequence, +f.kl, f.klEstimator, +f.dual, +f.perTokenAdvantages,
    +f.tis, +f.seqMeanTokenMean, +f.writeGrad].join('_');
  return {
    outputShape: [gradLen + 2 * batch],
    shaderKey: key,
    dispatchLayout: {x: [0]},
    dispatch: [batch, 1, 1],
    variableNames,
    workgroupSize: [WG, 1, 1],
    uniforms: 'numRows : i32, numCols : i32, gradLen : i32, lo : f32, hi : f32, dual : f32, beta : f32, tisCap : f32,',
    // The row body is the direct path's (grpo_loss_wgsl.ts): one workgroup per row.
    getUserCode: () => `
  ${REDUCE_TWO}
  fn main(index : i32) {
    ${rowLossWgsl(f, {u: 'uniforms', row: `u32(index) / ${WG}u`, lid: 'localIndex', start: '0u', end: 'T', wg: WG,
      reduceTwo: 'grpoReduceTwo', storeGrad: (v) => `result[k] = ${v};`})}
    let totals = grpoReduceTwo(lid, sum, count);
    if (lid == 0u) {
      let gradLen = u32(uniforms.gradLen);
      result[gradLen + row] = rowWeight * totals.x;
      result[gradLen + u32(uniforms.numRows) + row] = totals.y;
    }
  }
`,
  };
}

function finalizeProgram(tokenMean: boolean, sumNorm: boolean): WebGPUProgramLike {
  return {
    outputShape: [2],
    shaderKey: `grpoLossFinalize_${+tokenMean}_${+sumNorm}`,
    dispatchLayout: {x: [0]},
    dispatch: [1, 1, 1],
    variableNames: ['rows'],
    workgroupSize: [WG, 1, 1],
    uniforms: 'numRows : i32, gradLen : i32, normalizer : f32, maxLength : f32,',
    getUserCode: () => `
  ${REDUCE_TWO}
  fn main(index : i32) {
    let lid = i32(localIndex);
    var sum = 0.0;
    var count = 0.0;
    for (var i = lid; i < uniforms.numRows; i = i + ${WG}) {
      sum = sum + rows[uniforms.gradLen + i];
      let c = rows[uniforms.gradLen + uniforms.numRows + i];
      count = count + ${tokenMean ? 'c' : 'select(0.0, 1.0, c > 0.0)'};
    }
    let totals = grpoReduceTwo(u32(lid), sum, count);
    if (lid == 0) {
      var denominator = select(max(totals.y, 1.0), uniforms.normalizer, uniforms.normalizer > 0.0);
      ${sumNorm ? 'denominator = denominator * uniforms.maxLength;' : ''}
      result[0] = totals.x / denominator;
      result[1] = 1.0 / denominator;
    }
  }
`,
  };
}

function backwardProgram(size: number): WebGPUProgramLike {
  return {
    outputShape: [size],
    shaderKey: 'grpoLossBackward',
    dispatchLayout: {x: [0]},
    dispatch: [Math.ceil(size / WG), 1, 1],
    variableNames: ['rows', 'fin', 'dy'],
    workgroupSize: [WG, 1, 1],
    size: true,
    getUserCode: () => `
  fn main(index : i32) {
    if (index < uniforms.size) {
      result[index] = rows[index] * fin[1] * f32(dy[0]);
    }
  }
`,
  };
}

interface ForwardResult {
  loss: tf.Scalar;
  rows: tf.Tensor;
  fin: tf.Tensor;
}

function forward(
    backend: WebGPUBackendLike, inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions, writeGrad: boolean): ForwardResult {
  const {logProbs, oldLogProbs, refLogProbs, advantages, mask} = inputs;
  const [batch, time] = logProbs.shape as [number, number];
  const kl = c.beta !== 0 && refLogProbs !== undefined;
  const rollout = (inputs as {rolloutLogProbs?: tf.Tensor}).rolloutLogProbs;
  const flags: RowsFlags = {
    hasOld: oldLogProbs !== undefined,
    sequence: c.ratioLevel === 'sequence',
    kl,
    klEstimator: c.klEstimator,
    dual: c.dualClip !== undefined,
    perTokenAdvantages: advantages.rank === 2,
    tis: rollout !== undefined,
    checks: false,
    stats: false,
    klStats: false,
    seqMeanTokenMean: c.aggregation === 'seq-mean-token-mean',
    writeGrad,
  };
  const rowInputs: tf.Tensor[] = [logProbs];
  if (oldLogProbs !== undefined) rowInputs.push(oldLogProbs);
  if (kl) rowInputs.push(refLogProbs);
  if (rollout !== undefined) rowInputs.push(rollout);
  rowInputs.push(advantages, mask);
  const gradLen = writeGrad ? batch * time : 0;
  const engine = tf.engine();
  const rowsInfo = backend.runWebGPUProgram(rowsProgram(batch, gradLen, flags), rowInputs, 'float32', [
    {type: 'int32', data: [batch]}, {type: 'int32', data: [time]}, {type: 'int32', data: [gradLen]},
    {type: 'float32', data: [1 - c.clipLow]}, {type: 'float32', data: [1 + c.clipHigh]},
    {type: 'float32', data: [c.dualClip ?? 0]}, {type: 'float32', data: [c.beta]},
    {type: 'float32', data: [(c as {tisCap?: number}).tisCap ?? 3.4e38]},
  ]);
  const rows = engine.makeTensorFromTensorInfo(rowsInfo);
  const finInfo = backend.runWebGPUProgram(
      finalizeProgram(c.aggregation === 'token-mean', c.aggregation === 'seq-mean-token-sum-norm'), [rows], 'float32', [
        {type: 'int32', data: [batch]}, {type: 'int32', data: [gradLen]},
        {type: 'float32', data: [c.normalizer ?? 0]}, {type: 'float32', data: [c.maxLength ?? time]},
      ]);
  const fin = engine.makeTensorFromTensorInfo(finInfo);
  const loss = tf.reshape(tf.slice(fin, [0], [1]), []) as tf.Scalar;
  return {loss, rows, fin};
}

/** @internal Whether the statistics of `grpoLossWithStats` can run fused on the active webgpu backend (the direct path). */
export function grpoLossWebGPUStatsAvailable(): boolean {
  return directEnabled && isWebGPUDirectBackend(tf.backend());
}

/**
 * @internal The fused GRPO loss with the statistics of `grpoLossWithStats`, computed on the GPU by the
 * direct path (`grpo_loss_webgpu_direct.ts`); null when that path cannot run these inputs (nothing
 * recorded: the caller runs the composed ops). Same gradient contract as {@link grpoLossWebGPU}.
 */
export function grpoLossWebGPUWithStats(inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions, checkValues: boolean):
    DirectResult | null {
  const backend = tf.backend();
  const [rows, cols] = inputs.logProbs.shape as [number, number];
  if (!grpoLossWebGPUStatsAvailable() || !isWebGPUDirectBackend(backend) || rows === 0 || cols === 0) return null;
  return grpoLossWebGPUDirect(backend, inputs, c, checkValues, true);
}

/**
 * @internal The fused GRPO loss on the `webgpu` backend, differentiable w.r.t. `logProbs` (and `mask`,
 * whose gradient is 0). The forward pass writes the gradient when a tape records; the backward pass is
 * one elementwise program. A gradient w.r.t. old/ref log-probs or advantages is an error naming
 * `implementation: 'composed'`. `batch` must be <= 65535.
 */
export function grpoLossWebGPU(inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions, checkValues = false): tf.Scalar {
  const backend = tf.backend();
  if (!isWebGPUBackend(backend)) {
    throw new Error(`grpoLoss: the fused webgpu kernel needs the 'webgpu' backend, got '${tf.getBackend()}'`);
  }
  const [rows, cols] = inputs.logProbs.shape as [number, number];
  if (directEnabled && rows > 0 && cols > 0 && isWebGPUDirectBackend(backend)) {
    const r = grpoLossWebGPUDirect(backend, inputs, c, checkValues);
    if (r !== null) return r.loss;
  }
  if (!tf.engine().isTapeOn()) return tf.tidy(() => forward(backend, inputs, c, false).loss);
  const [batch, time] = inputs.logProbs.shape as [number, number];
  const named: Record<string, tf.Tensor> = {logProbs: inputs.logProbs, advantages: inputs.advantages, mask: inputs.mask};
  if (inputs.oldLogProbs !== undefined) named['oldLogProbs'] = inputs.oldLogProbs;
  if (inputs.refLogProbs !== undefined) named['refLogProbs'] = inputs.refLogProbs;
  const rollout = (inputs as {rolloutLogProbs?: tf.Tensor}).rolloutLogProbs;
  if (rollout !== undefined) named['rolloutLogProbs'] = rollout;
  return runWithLazyGradients(named, (save) => {
    const {loss, rows, fin} = forward(backend, inputs, c, true);
    save([rows, fin]);
    return loss;
  }, (dy, saved) => {
    const [rows, fin] = saved as [tf.Tensor, tf.Tensor];
    const constant = (name: string) => (): tf.Tensor => {
      throw new Error(`grpoLoss: the fused webgpu kernel differentiates w.r.t. 'logProbs' only, not ` +
          `'${name}'; pass implementation: 'composed' for that gradient`);
    };
    return {
      logProbs: () => {
        const gradInfo = backend.runWebGPUProgram(backwardProgram(batch * time), [rows, fin, dy], 'float32');
        return tf.reshape(tf.engine().makeTensorFromTensorInfo(gradInfo), [batch, time]);
      },
      mask: () => tf.zeros(inputs.mask.shape, 'float32'),
      advantages: constant('advantages'),
      oldLogProbs: constant('oldLogProbs'),
      refLogProbs: constant('refLogProbs'),
      rolloutLogProbs: constant('rolloutLogProbs'),
    };
  });
}

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
 * Dispatches, all in one compute pass (WebGPU orders and synchronizes dispatches of a pass):
 * 1. `rows`: workgroups of 256 threads, one per sequence, or for 'token-mean' with token-level ratios
 *    (no per-row statistic needed) one per chunk of 1024 tokens of a sequence, so that long rows
 *    still fill the GPU: per-token loss and d loss / d logProbs (unscaled, times the row weight of
 *    'seq-mean-token-mean'), partial loss sum and token count.
 * 2. `finalize`: reduces the partials to the denominator (token count, non-empty rows or
 *    `normalizer`, times `maxLength` for Dr. GRPO); writes the loss. With a gradient and at most 1024
 *    partials, one workgroup per chunk also multiplies its part of the gradient by 1 / denominator
 *    (each recomputes the small reduction); with more, one workgroup writes 1 / denominator for
 * 3. `scale`: one workgroup per chunk, gradient times 1 / denominator.
 * The gradient w.r.t. `logProbs` is therefore complete after the forward pass for an upstream
 * gradient of 1 (`tf.grad`, `tf.valueAndGrad`, `optimizer.minimize` on this loss): the backward pass
 * hands it over without GPU work, and multiplies it by `dy` otherwise.
 *
 * Output tensors are created through the backend (`makeTensorInfo` + `uploadToGPU`: a pooled buffer
 * owned and released by tfjs); every tensor the recorded commands use is registered in the backend's
 * `commandQueueOwnedIds`, so disposing it before the encoder is submitted defers its release, as for
 * tfjs's own programs. Everything is duck-typed: `@tensorflow/tfjs-backend-webgpu` is never imported.
 * The caller falls back to `runWebGPUProgram` when a field is missing (another tfjs version).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type {GrpoLossInputs, ResolvedGrpoLossOptions} from '../grpo_loss.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {reduceTwoWgsl, tokenLossWgsl} from './grpo_loss_wgsl.js';

// WebGPU constants (the GPUBufferUsage / GPUShaderStage globals exist only once a WebGPU
// implementation is installed; the values are fixed by the specification).
const USAGE_COPY_SRC = 0x04;
const USAGE_COPY_DST = 0x08;
const USAGE_UNIFORM = 0x40;
const USAGE_STORAGE = 0x80;
const STAGE_COMPUTE = 0x4;

/** Minimal structural types of the WebGPU objects used (the library is typed without @webgpu/types). */
interface GpuBuffer {
  size: number;
  usage: number;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
type GpuBindGroupLayout = object;
type GpuBindGroup = object;
type GpuPipeline = object;
interface GpuPass {
  setPipeline(p: GpuPipeline): void;
  setBindGroup(i: number, g: GpuBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}
interface GpuEncoder {
  beginComputePass(d: object): GpuPass;
}
interface GpuDevice {
  createBuffer(d: {size: number; usage: number; mappedAtCreation?: boolean}): GpuBuffer;
  createShaderModule(d: {code: string}): object;
  createBindGroupLayout(d: {entries: object[]}): GpuBindGroupLayout;
  createPipelineLayout(d: {bindGroupLayouts: GpuBindGroupLayout[]}): object;
  createComputePipeline(d: {layout: object; compute: {module: object; entryPoint: string}}): GpuPipeline;
  createBindGroup(d: {layout: GpuBindGroupLayout; entries: Array<{binding: number; resource: {buffer: GpuBuffer}}>}):
    GpuBindGroup;
}
interface TensorData {
  dtype: tf.DataType;
  resource?: unknown;
  values?: unknown;
}

/** @internal The fields of tfjs-backend-webgpu 4.x's `WebGPUBackend` this path uses (duck-typed). */
export interface WebGPUDirectBackend {
  /** The backend's device. */
  device: GpuDevice;
  /** dataId -> {dtype of the buffer, resource: GPUBuffer once on the GPU, values while on the CPU}. */
  tensorMap: {get(dataId: tf.DataId): TensorData | undefined};
  /** dataIds used by the open command encoder (their release waits for the submit). */
  commandQueueOwnedIds: WeakSet<object>;
  /** The open command encoder, or null. */
  commandEncoder: GpuEncoder | null;
  /** The open compute pass, or null. */
  computePassEncoder: GpuPass | null;
  /** Dispatches recorded in the open pass (the backend submits every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE). */
  dispatchCountInPass: number;
  /** Opens a command encoder if none is open. */
  ensureCommandEncoderReady(): void;
  /** Ends the open compute pass. */
  endComputePassEncoder(): void;
  /** Submits the open encoder. */
  submitQueue(): void;
  /** Gives a tensor a GPU buffer (uploading CPU values). */
  uploadToGPU(dataId: tf.DataId): void;
  /** Registers a new tensor's data (no buffer yet). */
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** @internal Whether `backend` exposes what {@link grpoLossWebGPUDirect} drives. */
export function isWebGPUDirectBackend(backend: unknown): backend is WebGPUDirectBackend {
  if (typeof backend !== 'object' || backend === null) return false;
  const b = backend as Record<string, unknown>;
  const device = b['device'] as Record<string, unknown> | undefined;
  return typeof device === 'object' && device !== null && typeof device['createComputePipeline'] === 'function' &&
      typeof device['createBindGroupLayout'] === 'function' && typeof b['tensorMap'] === 'object' &&
      b['commandQueueOwnedIds'] instanceof WeakSet && typeof b['dispatchCountInPass'] === 'number' &&
      ['ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue', 'uploadToGPU', 'makeTensorInfo']
          .every((m) => typeof b[m] === 'function');
}

const WG = 256;
/**
 * Tokens per workgroup of the `rows` dispatch when a row may be split ('token-mean' with token-level
 * ratios: no per-row statistic is needed), so that long rows keep the whole GPU busy.
 */
const CHUNK = 1024;
/** Largest number of row partials for which the finalize dispatch also scales the gradient. */
const COMBINED_MAX_PARTIALS = 1024;
const UNIFORM_BYTES = 48;

/** Code-shaping flags (each combination compiles once per device). */
interface Flags {
  hasOld: boolean;
  sequence: boolean;
  kl: boolean;
  klEstimator: ResolvedGrpoLossOptions['klEstimator'];
  dual: boolean;
  perTokenAdvantages: boolean;
  seqMeanTokenMean: boolean;
  tokenMean: boolean;
  sumNorm: boolean;
  writeGrad: boolean;
  /** Rows split into chunks of CHUNK tokens (each workgroup writes one partial). */
  chunked: boolean;
  /** WGSL element type of each input buffer (tfjs keeps int32 and bool, sometimes float32, in i32 buffers). */
  types: {logProbs: string; oldLogProbs: string; refLogProbs: string; advantages: string; mask: string};
}

/** Bindings of the shared layout, in order; old/ref only when used. */
function bindingNames(f: Flags): string[] {
  const names = ['logProbs'];
  if (f.hasOld) names.push('oldLogProbs');
  if (f.kl) names.push('refLogProbs');
  names.push('advantages', 'maskValues', 'partials', 'grad', 'lossOut');
  return names;
}

function header(f: Flags): string {
  const names = bindingNames(f);
  const type: Record<string, string> = {logProbs: f.types.logProbs, oldLogProbs: f.types.oldLogProbs,
    refLogProbs: f.types.refLogProbs, advantages: f.types.advantages, maskValues: f.types.mask};
  const decls = names.map((n, i) => type[n] !== undefined ?
    `@group(0) @binding(${i + 1}) var<storage, read> ${n} : array<${type[n]}>;` :
    `@group(0) @binding(${i + 1}) var<storage, read_write> ${n} : array<f32>;`);
  return `
struct Params {
  numRows : u32, numCols : u32, numChunks : u32, chunkSize : u32,
  lo : f32, hi : f32, dual : f32, beta : f32, normalizer : f32, maxLength : f32, pad0 : f32, pad1 : f32,
};
@group(0) @binding(0) var<uniform> params : Params;
${decls.join('\n')}
${reduceTwoWgsl('reduceTwo', 'part', WG, false)}`;
}

/** Whether the per-row pre-pass (GSPO's sequence ratio, 'seq-mean-token-mean' row weights) is needed. */
function needsRowPass(f: {sequence: boolean; hasOld: boolean; seqMeanTokenMean: boolean}): boolean {
  return (f.sequence && f.hasOld) || f.seqMeanTokenMean;
}

/**
 * Per-token loss, unscaled gradient and partials, one workgroup per (chunk, row) (one chunk per row
 * unless `chunked`): partials = [loss sums (P) | token counts (P) | gradScale], P = rows * chunks,
 * partial index row * chunks + chunk.
 */
function rowsShader(f: Flags): string {
  const needRowPass = needsRowPass(f);
  return `${header(f)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.y;
  let T = params.numCols;
  let base = row * T;
  let start = wid.x * params.chunkSize;
  let end = min(start + params.chunkSize, T);
  var rowCount = 0.0;
  var rowLogRatio = 0.0;
  ${needRowPass ? `
  for (var t = lid; t < T; t = t + ${WG}u) {
    let k = base + t;
    if (f32(maskValues[k]) != 0.0) {
      rowCount = rowCount + 1.0;
      ${f.sequence && f.hasOld ? 'rowLogRatio = rowLogRatio + (f32(logProbs[k]) - f32(oldLogProbs[k]));' : ''}
    }
  }
  let rowStats = reduceTwo(lid, rowCount, rowLogRatio);
  rowCount = rowStats.x;
  rowLogRatio = rowStats.y;` : ''}
  let seqRatio = exp(rowLogRatio / max(rowCount, 1.0));
  let rowWeight = ${f.seqMeanTokenMean ? '1.0 / max(rowCount, 1.0)' : '1.0'};
  let rowAdvantage = ${f.perTokenAdvantages ? '0.0' : 'f32(advantages[row])'};
  var sum = 0.0;
  var count = 0.0;
  for (var t = start + lid; t < end; t = t + ${WG}u) {
    let k = base + t;
    var g = 0.0;
    if (f32(maskValues[k]) != 0.0) {
      ${tokenLossWgsl(f, 'params')}
    }
    ${f.writeGrad ? 'grad[k] = rowWeight * g;' : ''}
  }
  let totals = reduceTwo(lid, sum, count);
  if (lid == 0u) {
    let p = row * params.numChunks + wid.x;
    partials[p] = rowWeight * totals.x;
    partials[params.numRows * params.numChunks + p] = totals.y;
  }
}
`;
}

/**
 * Reduces the partials (per row, or per chunk for 'token-mean', whose denominator is the plain token
 * count); workgroup (0, 0) writes the loss. `combined`: one workgroup per (chunk, row), each also
 * scales its part of the gradient. Otherwise one workgroup, which stores 1 / denominator for `scale`.
 */
function finalizeShader(f: Flags, combined: boolean): string {
  return `${header(f)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let P = params.numRows * params.numChunks;
  var sum = 0.0;
  var count = 0.0;
  for (var i = lid; i < P; i = i + ${WG}u) {
    sum = sum + partials[i];
    let c = partials[P + i];
    count = count + ${f.tokenMean ? 'c' : 'select(0.0, 1.0, c > 0.0)'};
  }
  let totals = reduceTwo(lid, sum, count);
  var denominator = select(max(totals.y, 1.0), params.normalizer, params.normalizer > 0.0);
  ${f.sumNorm ? 'denominator = denominator * params.maxLength;' : ''}
  let gradScale = 1.0 / denominator;
  if (wid.x == 0u && wid.y == 0u && lid == 0u) {
    lossOut[0] = totals.x / denominator;
    ${combined ? '' : 'partials[2u * P] = gradScale;'}
  }
  ${combined ? `
  let base = wid.y * params.numCols;
  let start = wid.x * params.chunkSize;
  let end = min(start + params.chunkSize, params.numCols);
  for (var t = start + lid; t < end; t = t + ${WG}u) {
    grad[base + t] = grad[base + t] * gradScale;
  }` : ''}
}
`;
}

/** One workgroup per (chunk, row): gradient times the 1 / denominator that `finalize` stored. */
function scaleShader(f: Flags): string {
  return `${header(f)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let gradScale = partials[2u * params.numRows * params.numChunks];
  let base = wid.y * params.numCols;
  let start = wid.x * params.chunkSize;
  let end = min(start + params.chunkSize, params.numCols);
  for (var t = start + lid; t < end; t = t + ${WG}u) {
    grad[base + t] = grad[base + t] * gradScale;
  }
}
`;
}

interface Pipelines {
  layout: GpuBindGroupLayout;
  rows: GpuPipeline;
  finalize: GpuPipeline;
  finalizeCombined: GpuPipeline | null;
  scale: GpuPipeline | null;
}

/** Per-device caches. */
interface DeviceCache {
  pipelines: Map<string, Pipelines>;
  uniforms: Map<string, GpuBuffer>;
  partials: Map<number, GpuBuffer>;
  dummy: GpuBuffer;
  bindGroups: Map<string, GpuBindGroup>;
}

const caches = new WeakMap<object, DeviceCache>();
const bufferIds = new WeakMap<object, number>();
let nextBufferId = 1;
const MAX_CACHED = 256;

function bufferId(b: object): number {
  let id = bufferIds.get(b);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(b, id);
  }
  return id;
}

function deviceCache(device: GpuDevice): DeviceCache {
  let c = caches.get(device);
  if (c === undefined) {
    c = {pipelines: new Map(), uniforms: new Map(), partials: new Map(), bindGroups: new Map(),
      dummy: device.createBuffer({size: 16, usage: USAGE_STORAGE})};
    caches.set(device, c);
  }
  return c;
}

function pipelinesFor(device: GpuDevice, cache: DeviceCache, f: Flags): Pipelines {
  const t = f.types;
  const key = `${+f.hasOld}${+f.sequence}${+f.kl}${f.klEstimator}${+f.dual}${+f.perTokenAdvantages}` +
      `${+f.seqMeanTokenMean}${+f.tokenMean}${+f.sumNorm}${+f.writeGrad}${+f.chunked}` +
      `${t.logProbs}${t.oldLogProbs}${t.refLogProbs}${t.advantages}${t.mask}`;
  let p = cache.pipelines.get(key);
  if (p !== undefined) return p;
  const names = bindingNames(f);
  const entries: object[] = [{binding: 0, visibility: STAGE_COMPUTE, buffer: {type: 'uniform'}}];
  names.forEach((n, i) => entries.push({binding: i + 1, visibility: STAGE_COMPUTE,
    buffer: {type: ['partials', 'grad', 'lossOut'].includes(n) ? 'storage' : 'read-only-storage'}}));
  const layout = device.createBindGroupLayout({entries});
  const pipelineLayout = device.createPipelineLayout({bindGroupLayouts: [layout]});
  const make = (code: string) => device.createComputePipeline({layout: pipelineLayout,
    compute: {module: device.createShaderModule({code}), entryPoint: 'main'}});
  p = {
    layout,
    rows: make(rowsShader(f)),
    finalize: make(finalizeShader(f, false)),
    finalizeCombined: f.writeGrad ? make(finalizeShader(f, true)) : null,
    scale: f.writeGrad ? make(scaleShader(f)) : null,
  };
  cache.pipelines.set(key, p);
  return p;
}

/** An immutable uniform buffer with these 48 bytes (cached by content). */
function uniformBuffer(device: GpuDevice, cache: DeviceCache, ints: number[], floats: number[]): GpuBuffer {
  const key = `${ints.join(',')}|${floats.join(',')}`;
  let b = cache.uniforms.get(key);
  if (b !== undefined) return b;
  if (cache.uniforms.size >= MAX_CACHED) cache.uniforms.clear();
  b = device.createBuffer({size: UNIFORM_BYTES, usage: USAGE_UNIFORM | USAGE_COPY_DST, mappedAtCreation: true});
  const range = b.getMappedRange();
  new Uint32Array(range, 0, 4).set(ints);
  new Float32Array(range, 16, 8).set(floats);
  b.unmap();
  cache.uniforms.set(key, b);
  return b;
}

/** Scratch buffer of `count` partials (two values each) and the gradient scale, cached by size. */
function partialsBuffer(device: GpuDevice, cache: DeviceCache, count: number): GpuBuffer {
  let b = cache.partials.get(count);
  if (b === undefined) {
    b = device.createBuffer({size: 4 * (2 * count + 4), usage: USAGE_STORAGE});
    cache.partials.set(count, b);
  }
  return b;
}

/** The GPU buffer of a tensor (uploading CPU-resident values first), or null when it has none. */
function gpuBufferOf(backend: WebGPUDirectBackend, t: tf.TensorInfo): {buffer: GpuBuffer; type: string} | null {
  backend.uploadToGPU(t.dataId);
  const data = backend.tensorMap.get(t.dataId);
  const r = data?.resource as GpuBuffer | undefined;
  if (data === undefined || r == null || typeof r.size !== 'number' || typeof r.usage !== 'number' ||
      (r.usage & USAGE_STORAGE) === 0) {
    return null;
  }
  const type = data.dtype === 'float32' ? 'f32' : data.dtype === 'int32' || data.dtype === 'bool' ? 'i32' : null;
  return type === null ? null : {buffer: r, type};
}

/** A new float32 tensor's data of `shape`, with a pooled GPU buffer from the backend. */
function newOutput(backend: WebGPUDirectBackend, shape: number[]): {info: tf.TensorInfo; buffer: GpuBuffer} {
  const info = backend.makeTensorInfo(shape, 'float32');
  backend.uploadToGPU(info.dataId);
  return {info, buffer: backend.tensorMap.get(info.dataId)!.resource as GpuBuffer};
}

interface DirectResult {
  loss: tf.Scalar;
  grad: tf.Tensor | null;
}

/** The inputs the shaders read, in binding order (old/ref log-probs only when used). */
function boundInputs(inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions): tf.Tensor[] {
  const tensors: tf.Tensor[] = [inputs.logProbs];
  if (inputs.oldLogProbs !== undefined) tensors.push(inputs.oldLogProbs);
  if (c.beta !== 0 && inputs.refLogProbs !== undefined) tensors.push(inputs.refLogProbs);
  tensors.push(inputs.advantages, inputs.mask);
  return tensors;
}

/**
 * The GPU buffers of the bound inputs, uploading CPU-resident ones (an upload records a copy into the
 * backend's encoder, outside any compute pass); null when one has no usable buffer.
 */
function inputBuffers(backend: WebGPUDirectBackend, tensors: tf.Tensor[]): Array<{buffer: GpuBuffer; type: string}> | null {
  const bufs: Array<{buffer: GpuBuffer; type: string}> = [];
  for (const t of tensors) {
    const b = gpuBufferOf(backend, t);
    if (b === null) return null;
    bufs.push(b);
  }
  return bufs;
}

/** Records the dispatches of one step. */
function record(backend: WebGPUDirectBackend, inputs: GrpoLossInputs, c: ResolvedGrpoLossOptions,
    writeGrad: boolean, tensors: tf.Tensor[], bufs: Array<{buffer: GpuBuffer; type: string}>): DirectResult {
  const {logProbs, oldLogProbs, refLogProbs, advantages} = inputs;
  const [batch, time] = logProbs.shape as [number, number];
  const kl = c.beta !== 0 && refLogProbs !== undefined;
  const sequence = c.ratioLevel === 'sequence';
  const hasOld = oldLogProbs !== undefined;
  const seqMeanTokenMean = c.aggregation === 'seq-mean-token-mean';
  const tokenMean = c.aggregation === 'token-mean';
  const chunked = tokenMean && !needsRowPass({sequence, hasOld, seqMeanTokenMean}) && time > CHUNK;
  const chunks = chunked ? Math.ceil(time / CHUNK) : 1;
  const numPartials = batch * chunks;
  let k = 0;
  const typeOf = (present: boolean) => present ? bufs[k++]!.type : 'f32';
  const f: Flags = {
    hasOld,
    sequence,
    kl,
    klEstimator: c.klEstimator,
    dual: c.dualClip !== undefined,
    perTokenAdvantages: advantages.rank === 2,
    seqMeanTokenMean,
    tokenMean,
    sumNorm: c.aggregation === 'seq-mean-token-sum-norm',
    writeGrad,
    chunked,
    types: {logProbs: typeOf(true), oldLogProbs: typeOf(oldLogProbs !== undefined), refLogProbs: typeOf(kl),
      advantages: typeOf(true), mask: typeOf(true)},
  };
  const device = backend.device;
  const cache = deviceCache(device);
  const p = pipelinesFor(device, cache, f);
  const lossOut = newOutput(backend, []);
  const gradOut = writeGrad ? newOutput(backend, [batch, time]) : null;
  const uniform = uniformBuffer(device, cache, [batch, time, chunks, chunked ? CHUNK : time],
      [1 - c.clipLow, 1 + c.clipHigh, c.dualClip ?? 0, c.beta, c.normalizer ?? 0, c.maxLength ?? time, 0, 0]);
  const partials = partialsBuffer(device, cache, numPartials);
  const buffers = [uniform, ...bufs.map((b) => b.buffer), partials, gradOut?.buffer ?? cache.dummy, lossOut.buffer];
  const bgKey = `${bufferId(p.layout)}:${buffers.map(bufferId).join(',')}`;
  let bindGroup = cache.bindGroups.get(bgKey);
  if (bindGroup === undefined) {
    if (cache.bindGroups.size >= MAX_CACHED) cache.bindGroups.clear();
    bindGroup = device.createBindGroup({layout: p.layout,
      entries: buffers.map((buffer, binding) => ({binding, resource: {buffer}}))});
    cache.bindGroups.set(bgKey, bindGroup);
  }
  for (const t of tensors) backend.commandQueueOwnedIds.add(t.dataId);
  backend.commandQueueOwnedIds.add(lossOut.info.dataId);
  if (gradOut !== null) backend.commandQueueOwnedIds.add(gradOut.info.dataId);

  backend.ensureCommandEncoderReady();
  if (backend.computePassEncoder == null) backend.computePassEncoder = backend.commandEncoder!.beginComputePass({});
  const pass = backend.computePassEncoder;
  pass.setBindGroup(0, bindGroup);
  pass.setPipeline(p.rows);
  pass.dispatchWorkgroups(chunks, batch);
  if (!writeGrad) {
    pass.setPipeline(p.finalize);
    pass.dispatchWorkgroups(1);
    backend.dispatchCountInPass += 2;
  } else if (numPartials <= COMBINED_MAX_PARTIALS) {
    pass.setPipeline(p.finalizeCombined!);
    pass.dispatchWorkgroups(chunks, batch);
    backend.dispatchCountInPass += 2;
  } else {
    pass.setPipeline(p.finalize);
    pass.dispatchWorkgroups(1);
    pass.setPipeline(p.scale!);
    pass.dispatchWorkgroups(chunks, batch);
    backend.dispatchCountInPass += 3;
  }
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
  const engine = tf.engine();
  return {
    loss: engine.makeTensorFromTensorInfo(lossOut.info) as tf.Scalar,
    grad: gradOut === null ? null : engine.makeTensorFromTensorInfo(gradOut.info),
  };
}

/** Whether `dy` is the CPU-resident scalar 1 (the tape's seed): then the saved gradient is final. */
function isCpuOne(backend: WebGPUDirectBackend, dy: tf.Tensor): boolean {
  if (dy.size !== 1) return false;
  const values = backend.tensorMap.get(dy.dataId)?.values as ArrayLike<number> | null | undefined;
  return values != null && values.length === 1 && values[0] === 1;
}

/**
 * @internal The fused GRPO loss on `webgpu` through the backend's device (see the module comment);
 * the same contract as `grpoLossWebGPU`. Returns null (nothing recorded) when an input has no usable
 * GPU buffer, for the caller's fallback. `batch` must be in [1, 65535], `time` >= 1.
 */
export function grpoLossWebGPUDirect(backend: WebGPUDirectBackend, inputs: GrpoLossInputs,
    c: ResolvedGrpoLossOptions): tf.Scalar | null {
  const tensors = boundInputs(inputs, c);
  const bufs = inputBuffers(backend, tensors);
  if (bufs === null) return null;
  if (!tf.engine().isTapeOn()) return record(backend, inputs, c, false, tensors, bufs).loss;
  const named: Record<string, tf.Tensor> = {logProbs: inputs.logProbs, advantages: inputs.advantages, mask: inputs.mask};
  if (inputs.oldLogProbs !== undefined) named['oldLogProbs'] = inputs.oldLogProbs;
  if (inputs.refLogProbs !== undefined) named['refLogProbs'] = inputs.refLogProbs;
  return runWithLazyGradients(named, (save) => {
    const r = record(backend, inputs, c, true, tensors, bufs);
    save([r.grad!]);
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
    };
  });
}

/**
 * The one place where tfjs-grpo touches internals of `@tensorflow/tfjs-backend-webgpu` (4.x): the
 * fused webgpu kernels record their own dispatches into the backend's open compute pass instead of
 * going through `runWebGPUProgram` (about 0.2 ms of CPU time per program). Everything here is
 * duck-typed (the backend package is never imported) and listed in {@link WEBGPU_BACKEND_FIELDS};
 * `test/math/fused/webgpu_backend_adapter.test.ts` checks that list against the installed backend
 * class, so a tfjs upgrade that removes a field fails that test, naming the field. At run time a
 * backend missing a field is not used directly (the kernels fall back to `runWebGPUProgram` or the
 * composed ops).
 *
 * Besides the field access, this module holds what every direct kernel needs: pipelines, bind-group
 * layouts, immutable uniform buffers and scratch buffers cached per device, bind groups cached by the
 * identity of the buffers they bind (tfjs's buffer pool hands the same buffers back step after step),
 * output tensors allocated through the backend (a pooled buffer owned and released by tfjs), and
 * the registration of every tensor a recorded command uses in `commandQueueOwnedIds` (so disposing it
 * before the submit defers its release, as for tfjs's own programs).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

// WebGPU constants (the GPUBufferUsage / GPUShaderStage globals exist only once a WebGPU
// implementation is installed; the values are fixed by the specification).
/** @internal */
export const USAGE_MAP_READ = 0x01;
/** @internal */
export const USAGE_COPY_SRC = 0x04;
/** @internal */
export const USAGE_COPY_DST = 0x08;
/** @internal */
export const USAGE_UNIFORM = 0x40;
/** @internal */
export const USAGE_STORAGE = 0x80;
const STAGE_COMPUTE = 0x4;
const MAP_MODE_READ = 0x1;

/** @internal Minimal structural type of a `GPUBuffer` (the library is typed without @webgpu/types). */
export interface GpuBuffer {
  size: number;
  usage: number;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  mapAsync(mode: number): Promise<void>;
}
/** @internal */
export type GpuBindGroupLayout = object;
/** @internal */
export type GpuBindGroup = object;
/** @internal */
export type GpuPipeline = object;
/** @internal */
export interface GpuPass {
  setPipeline(p: GpuPipeline): void;
  setBindGroup(i: number, g: GpuBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}
interface GpuEncoder {
  beginComputePass(d: object): GpuPass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  clearBuffer(b: GpuBuffer, offset?: number, size?: number): void;
}
/** @internal */
export interface GpuDevice {
  createBuffer(d: {size: number; usage: number; mappedAtCreation?: boolean}): GpuBuffer;
  createShaderModule(d: {code: string}): object;
  createBindGroupLayout(d: {entries: object[]}): GpuBindGroupLayout;
  createPipelineLayout(d: {bindGroupLayouts: GpuBindGroupLayout[]}): object;
  createComputePipeline(d: {layout: object; compute: {module: object; entryPoint: string}}): GpuPipeline;
  createBindGroup(d: {layout: GpuBindGroupLayout; entries: Array<{binding: number; resource: {buffer: GpuBuffer}}>}):
    GpuBindGroup;
  /** The device's limits (absent on test fakes). */
  readonly limits?: {readonly maxComputeWorkgroupStorageSize?: number};
}
interface TensorData {
  dtype: tf.DataType;
  resource?: unknown;
  values?: unknown;
}

/** @internal The fields of tfjs-backend-webgpu 4.x's `WebGPUBackend` the direct kernels use. */
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

/**
 * @internal Every field of `WebGPUBackend` used here, with its expected kind: 'instance' fields are
 * set by the constructor, 'method' fields live on the prototype.
 */
export const WEBGPU_BACKEND_FIELDS: ReadonlyArray<{name: keyof WebGPUDirectBackend; kind: string}> = [
  {name: 'device', kind: 'object with createComputePipeline, createBindGroupLayout, createBuffer'},
  {name: 'tensorMap', kind: 'object with get()'},
  {name: 'commandQueueOwnedIds', kind: 'WeakSet'},
  {name: 'dispatchCountInPass', kind: 'number'},
  {name: 'commandEncoder', kind: 'own property (null or an encoder)'},
  {name: 'computePassEncoder', kind: 'own property (null or a pass)'},
  {name: 'ensureCommandEncoderReady', kind: 'function'},
  {name: 'endComputePassEncoder', kind: 'function'},
  {name: 'submitQueue', kind: 'function'},
  {name: 'uploadToGPU', kind: 'function'},
  {name: 'makeTensorInfo', kind: 'function'},
];

/**
 * @internal The entries of {@link WEBGPU_BACKEND_FIELDS} that `backend` lacks (or has with the wrong
 * kind), as `name (expected kind)`; empty when the direct kernels can drive it.
 */
export function missingWebGPUBackendFields(backend: unknown): string[] {
  if (typeof backend !== 'object' || backend === null) return WEBGPU_BACKEND_FIELDS.map((f) => `${f.name} (${f.kind})`);
  const b = backend as Record<string, unknown>;
  const ok = (name: string): boolean => {
    const v = b[name];
    switch (name) {
      case 'device': {
        const d = v as Record<string, unknown> | null | undefined;
        return typeof d === 'object' && d !== null && ['createComputePipeline', 'createBindGroupLayout', 'createBuffer']
            .every((m) => typeof d[m] === 'function');
      }
      case 'tensorMap': return typeof v === 'object' && v !== null && typeof (v as {get?: unknown}).get === 'function';
      case 'commandQueueOwnedIds': return v instanceof WeakSet;
      case 'dispatchCountInPass': return typeof v === 'number';
      case 'commandEncoder': case 'computePassEncoder': return name in b && v !== undefined;
      default: return typeof v === 'function';
    }
  };
  return WEBGPU_BACKEND_FIELDS.filter((f) => !ok(f.name)).map((f) => `${f.name} (${f.kind})`);
}

/** @internal Whether `backend` exposes everything the direct kernels drive. */
export function isWebGPUDirectBackend(backend: unknown): backend is WebGPUDirectBackend {
  return missingWebGPUBackendFields(backend).length === 0;
}

/** @internal The active backend when it is a webgpu backend the direct kernels can drive, else null. */
export function activeDirectBackend(): WebGPUDirectBackend | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const b = tf.backend();
  return isWebGPUDirectBackend(b) ? b : null;
}

/** @internal A tensor's GPU buffer and the WGSL element type it holds. */
export interface BoundBuffer {
  buffer: GpuBuffer;
  /** 'f32' or 'i32' (tfjs keeps int32 and bool, sometimes float32, in i32 buffers). */
  type: string;
}

/** @internal The GPU buffer of a tensor (uploading CPU-resident values first), or null when it has none. */
export function gpuBufferOf(backend: WebGPUDirectBackend, t: tf.TensorInfo): BoundBuffer | null {
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

/** @internal The GPU buffers of `tensors` in order, or null when one has no usable buffer. */
export function gpuBuffersOf(backend: WebGPUDirectBackend, tensors: tf.TensorInfo[]): BoundBuffer[] | null {
  const bufs: BoundBuffer[] = [];
  for (const t of tensors) {
    const b = gpuBufferOf(backend, t);
    if (b === null) return null;
    bufs.push(b);
  }
  return bufs;
}

/** @internal A new tensor's data of `shape`, with a pooled GPU buffer from the backend. */
export function newOutput(backend: WebGPUDirectBackend, shape: number[], dtype: tf.DataType = 'float32'):
    {info: tf.TensorInfo; buffer: GpuBuffer} {
  const info = backend.makeTensorInfo(shape, dtype);
  backend.uploadToGPU(info.dataId);
  return {info, buffer: backend.tensorMap.get(info.dataId)!.resource as GpuBuffer};
}

/** @internal Whether `dy` is the CPU-resident scalar 1 (the tape's seed): a saved gradient is then final. */
export function isCpuOne(backend: WebGPUDirectBackend, dy: tf.Tensor): boolean {
  if (dy.size !== 1) return false;
  const values = backend.tensorMap.get(dy.dataId)?.values as ArrayLike<number> | null | undefined;
  return values != null && values.length === 1 && values[0] === 1;
}

/** Binding kinds of a layout: 'uniform', 'read' (read-only storage) or 'rw' (storage). */
export type BindingKind = 'uniform' | 'read' | 'rw';

interface DeviceCache {
  layouts: Map<string, {layout: GpuBindGroupLayout; pipelineLayout: object}>;
  pipelines: Map<string, GpuPipeline>;
  uniforms: Map<string, GpuBuffer>;
  scratch: Map<string, GpuBuffer>;
  bindGroups: Map<string, GpuBindGroup>;
  staging: GpuBuffer[];
}

const caches = new WeakMap<object, DeviceCache>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
const MAX_CACHED = 256;

function objectId(b: object): number {
  let id = objectIds.get(b);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(b, id);
  }
  return id;
}

function deviceCache(device: GpuDevice): DeviceCache {
  let c = caches.get(device);
  if (c === undefined) {
    c = {layouts: new Map(), pipelines: new Map(), uniforms: new Map(), scratch: new Map(), bindGroups: new Map(),
      staging: []};
    caches.set(device, c);
  }
  return c;
}

/** @internal A bind-group layout of these binding kinds (binding i has kind i), cached per device. */
export function layoutFor(device: GpuDevice, kinds: BindingKind[]): GpuBindGroupLayout {
  const cache = deviceCache(device);
  const key = kinds.join(',');
  let l = cache.layouts.get(key);
  if (l === undefined) {
    const entries = kinds.map((k, binding) => ({binding, visibility: STAGE_COMPUTE,
      buffer: {type: k === 'uniform' ? 'uniform' : k === 'read' ? 'read-only-storage' : 'storage'}}));
    const layout = device.createBindGroupLayout({entries});
    l = {layout, pipelineLayout: device.createPipelineLayout({bindGroupLayouts: [layout]})};
    cache.layouts.set(key, l);
  }
  return l.layout;
}

/**
 * @internal A compute pipeline (entry point `main`) of the WGSL `code()` with the layout of `kinds`,
 * compiled once per device and `key` (the key must determine the code).
 */
export function pipelineFor(device: GpuDevice, key: string, kinds: BindingKind[], code: () => string): GpuPipeline {
  const cache = deviceCache(device);
  const fullKey = `${kinds.join(',')}|${key}`;
  let p = cache.pipelines.get(fullKey);
  if (p === undefined) {
    layoutFor(device, kinds);
    const {pipelineLayout} = cache.layouts.get(kinds.join(','))!;
    p = device.createComputePipeline({layout: pipelineLayout,
      compute: {module: device.createShaderModule({code: code()}), entryPoint: 'main'}});
    cache.pipelines.set(fullKey, p);
  }
  return p;
}

/**
 * @internal An immutable uniform buffer of 16-byte aligned u32 words then f32 words (cached by
 * content: a `queue.writeBuffer` would run before commands already recorded in the open encoder).
 * `ints` must have a multiple of 4 entries.
 */
export function uniformBuffer(device: GpuDevice, ints: number[], floats: number[]): GpuBuffer {
  const cache = deviceCache(device);
  const key = `${ints.join(',')}|${floats.join(',')}`;
  let b = cache.uniforms.get(key);
  if (b !== undefined) return b;
  if (cache.uniforms.size >= MAX_CACHED) cache.uniforms.clear();
  const bytes = Math.ceil((ints.length + floats.length) / 4) * 16;
  b = device.createBuffer({size: Math.max(bytes, 16), usage: USAGE_UNIFORM | USAGE_COPY_DST, mappedAtCreation: true});
  const range = b.getMappedRange();
  new Uint32Array(range, 0, ints.length).set(ints);
  new Float32Array(range, 4 * ints.length, floats.length).set(floats);
  b.unmap();
  cache.uniforms.set(key, b);
  return b;
}

/** @internal A device-owned scratch storage buffer of at least `bytes` bytes, cached by `name` and size. */
export function scratchBuffer(device: GpuDevice, name: string, bytes: number): GpuBuffer {
  const cache = deviceCache(device);
  const key = `${name}:${bytes}`;
  let b = cache.scratch.get(key);
  if (b === undefined) {
    b = device.createBuffer({size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST});
    cache.scratch.set(key, b);
  }
  return b;
}

/** @internal A bind group of `buffers` (binding i = buffers[i]) for `layout`, cached by buffer identity. */
export function bindGroupFor(device: GpuDevice, layout: GpuBindGroupLayout, buffers: GpuBuffer[]): GpuBindGroup {
  const cache = deviceCache(device);
  const key = `${objectId(layout)}:${buffers.map(objectId).join(',')}`;
  let g = cache.bindGroups.get(key);
  if (g === undefined) {
    if (cache.bindGroups.size >= MAX_CACHED) cache.bindGroups.clear();
    g = device.createBindGroup({layout, entries: buffers.map((buffer, binding) => ({binding, resource: {buffer}}))});
    cache.bindGroups.set(key, g);
  }
  return g;
}

/** @internal One dispatch of a recorded sequence. */
export interface Dispatch {
  pipeline: GpuPipeline;
  bindGroup: GpuBindGroup;
  workgroups: [number, number?, number?];
}

/**
 * @internal Records `dispatches` in order into the backend's open compute pass (opening one if
 * needed), after registering `used` (every tensor they read or write) as owned by the open encoder;
 * submits when the backend's batch size is reached, as tfjs does after its own programs.
 */
export function recordDispatches(backend: WebGPUDirectBackend, used: tf.TensorInfo[], dispatches: Dispatch[]): void {
  for (const t of used) backend.commandQueueOwnedIds.add(t.dataId);
  backend.ensureCommandEncoderReady();
  if (backend.computePassEncoder == null) backend.computePassEncoder = backend.commandEncoder!.beginComputePass({});
  const pass = backend.computePassEncoder;
  let bound: GpuBindGroup | null = null;
  for (const d of dispatches) {
    if (d.bindGroup !== bound) pass.setBindGroup(0, d.bindGroup);
    bound = d.bindGroup;
    pass.setPipeline(d.pipeline);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
  }
  backend.dispatchCountInPass += dispatches.length;
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

/**
 * @internal Records a copy of the 16 bytes at `offset` of `source` (written by commands recorded so
 * far) into a pooled staging buffer, in the open encoder (ending the open pass); nothing submitted.
 * Map it with {@link mapWordAsync} once that encoder has been submitted.
 */
export function copyWordToStaging(backend: WebGPUDirectBackend, source: GpuBuffer, offset: number): GpuBuffer {
  const cache = deviceCache(backend.device);
  const staging = cache.staging.pop() ?? backend.device.createBuffer({size: 16, usage: USAGE_MAP_READ | USAGE_COPY_DST});
  backend.ensureCommandEncoderReady();
  if (backend.computePassEncoder != null) backend.endComputePassEncoder();
  backend.commandEncoder!.copyBufferToBuffer(source, offset, staging, 0, 16);
  return staging;
}

/**
 * @internal Maps a staging buffer of {@link copyWordToStaging} (its copy submitted), hands its bytes
 * to `onValue` and returns it to the pool.
 */
export function mapWordAsync(backend: WebGPUDirectBackend, staging: GpuBuffer, onValue: (bytes: ArrayBuffer) => void):
    Promise<void> {
  const cache = deviceCache(backend.device);
  return staging.mapAsync(MAP_MODE_READ).then(() => {
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    cache.staging.push(staging);
    onValue(bytes);
  });
}

/**
 * @internal Copies the 16 bytes at `offset` of `source` (written by commands recorded so far) to the CPU:
 * ends the open pass, records the copy into a pooled staging buffer, submits, and calls `onValue`
 * once the GPU has finished (asynchronously: WebGPU has no synchronous read-back in Node.js).
 * Returns the promise of that callback.
 */
export function readWordAsync(backend: WebGPUDirectBackend, source: GpuBuffer, offset: number,
    onValue: (bytes: ArrayBuffer) => void): Promise<void> {
  const staging = copyWordToStaging(backend, source, offset);
  backend.submitQueue();
  return mapWordAsync(backend, staging, onValue);
}

/** @internal Zeroes `buffer` after the commands recorded so far (ends the open compute pass). */
export function clearBufferNow(backend: WebGPUDirectBackend, buffer: GpuBuffer): void {
  backend.ensureCommandEncoderReady();
  if (backend.computePassEncoder != null) backend.endComputePassEncoder();
  backend.commandEncoder!.clearBuffer(buffer);
}

/**
 * The generic piece of the small fused webgpu kernels (`clippedPolicyLoss`, `klPenalty`,
 * `aggregateLoss`, `groupAdvantages`, the masked statistics): a "row reduction + elementwise" WGSL
 * skeleton and its direct dispatch. One workgroup of {@link ROW_WG} threads per row of a
 * `[rows, cols]` view; the body may reduce up to four sums over its row ({@link ROW_REDUCE_WGSL}'s
 * `rowSum4`) and then write elementwise, so a composed op of 20-50 tfjs programs becomes one or two
 * dispatches recorded straight into the backend's compute pass (`webgpu_backend_adapter.ts`).
 * Rows beyond 65535 use the second grid dimension.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  activeDirectBackend, type BindingKind, bindGroupFor, clearBufferNow, type Dispatch, type GpuBuffer, gpuBuffersOf,
  layoutFor, newOutput, pipelineFor, recordDispatches, scratchBuffer, uniformBuffer, type WebGPUDirectBackend,
} from './webgpu_backend_adapter.js';
import {throwPendingValueCheck, watchCheckWord} from './webgpu_value_checks.js';

/** @internal Threads per workgroup of the row kernels. */
export const ROW_WG = 256;

/** @internal Largest workgroup count per grid dimension (WebGPU's default limit). */
const MAX_GRID = 65535;

/** @internal Workgroup grid of `rows` workgroups (x first, then y). */
export function rowGrid(rows: number): [number, number] {
  return rows <= MAX_GRID ? [Math.max(rows, 1), 1] : [MAX_GRID, Math.ceil(rows / MAX_GRID)];
}

/**
 * @internal WGSL shared by the row kernels: `rowIndex(wid)` (the row of a workgroup in a
 * {@link rowGrid}), `rowSum4(v, lid)` and `rowMax4(v, lid)` (the lane-wise sum and max of `v` over
 * the workgroup; call in uniform control flow), `notFinite(x)` and `f32NaN()`.
 */
export const ROW_REDUCE_WGSL = `
var<workgroup> rowRed : array<vec4<f32>, ${ROW_WG}>;
fn rowIndex(wid : vec3<u32>) -> u32 { return wid.x + wid.y * ${MAX_GRID}u; }
fn rowSum4(v : vec4<f32>, lid : u32) -> vec4<f32> {
  rowRed[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { rowRed[lid] = rowRed[lid] + rowRed[lid + s]; }
    workgroupBarrier();
  }
  let r = rowRed[0];
  workgroupBarrier();
  return r;
}
fn rowMax4(v : vec4<f32>, lid : u32) -> vec4<f32> {
  rowRed[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { rowRed[lid] = max(rowRed[lid], rowRed[lid + s]); }
    workgroupBarrier();
  }
  let r = rowRed[0];
  workgroupBarrier();
  return r;
}
fn notFinite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
fn f32NaN() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
`;

/**
 * @internal The entry point of a row kernel, up to its opening brace: one workgroup of {@link ROW_WG}
 * threads, `wid` (the workgroup, for `rowIndex`) and `lidv` (the thread) in scope.
 */
export const ROW_MAIN_WGSL =
  `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lidv : vec3<u32>) {`;

/**
 * @internal {@link ROW_MAIN_WGSL} and the usual start of a kernel over `[params.rows, params.width]`:
 * `lid`, `row` (workgroups past the last row return) and `base = row * params.width`.
 */
export const ROW_MAIN_BY_WIDTH_WGSL = `${ROW_MAIN_WGSL}
  let lid = lidv.x;
  let row = rowIndex(wid);
  if (row >= params.rows) { return; }
  let base = row * params.width;`;

/** @internal One dispatch of a {@link runRowKernels} call. */
export interface RowDispatch {
  /** Pipeline key (must determine the code together with the binding types). */
  key: string;
  /** WGSL of the kernel (entry point `main`); gets the element types of the inputs. */
  code: (types: string[]) => string;
  /** Workgroup grid. */
  workgroups: [number, number?, number?];
}

/** @internal A {@link runRowKernels} call. */
export interface RowKernelCall {
  /** Inputs bound at 1.. in order (read-only storage). */
  inputs: tf.TensorInfo[];
  /** Shapes of the float32 outputs (bound after the inputs, read-write), or their dtypes too. */
  outputs: Array<number[] | {shape: number[]; dtype: tf.DataType}>;
  /** Bytes of a device scratch buffer bound after the outputs (0: none); `scratchName` keys it. */
  scratchBytes?: number;
  scratchName?: string;
  /** u32 words (a multiple of 4) then f32 words of the uniform at binding 0. */
  ints: number[];
  floats: number[];
  dispatches: RowDispatch[];
  /**
   * Value checks: the last binding is an atomic<u32> check word (cleared first); when non-zero after
   * the dispatches, `message(bits)` becomes the device's pending error (thrown by the next fused call).
   */
  checkMessage?: (bits: number) => string;
}

/** @internal The active direct webgpu backend, or null (also null while a value-check error waits: it throws). */
export function rowKernelBackend(): WebGPUDirectBackend | null {
  const backend = activeDirectBackend();
  if (backend !== null) throwPendingValueCheck(backend);
  return backend;
}

/**
 * @internal Records `call` on `backend` (one bind group shared by every dispatch): binding 0 the
 * uniform, then the inputs, the new outputs, the scratch buffer, the check word. Returns the output
 * tensors, or null when an input has no usable GPU buffer (the caller falls back to composed ops).
 */
export function runRowKernels(backend: WebGPUDirectBackend, call: RowKernelCall): tf.Tensor[] | null {
  const bufs = gpuBuffersOf(backend, call.inputs);
  if (bufs === null) return null;
  const device = backend.device;
  const outs = call.outputs.map((o) => Array.isArray(o) ? newOutput(backend, o) : newOutput(backend, o.shape, o.dtype));
  const buffers: GpuBuffer[] = [uniformBuffer(device, call.ints, call.floats), ...bufs.map((b) => b.buffer),
    ...outs.map((o) => o.buffer)];
  const kinds: BindingKind[] = ['uniform', ...bufs.map(() => 'read' as const), ...outs.map(() => 'rw' as const)];
  if ((call.scratchBytes ?? 0) > 0) {
    buffers.push(scratchBuffer(device, call.scratchName ?? 'rowScratch', call.scratchBytes!));
    kinds.push('rw');
  }
  let check: GpuBuffer | null = null;
  if (call.checkMessage !== undefined) {
    check = scratchBuffer(device, 'rowCheck', 16);
    buffers.push(check);
    kinds.push('rw');
    clearBufferNow(backend, check);
  }
  const types = bufs.map((b) => b.type);
  const bindGroup = bindGroupFor(device, layoutFor(device, kinds), buffers);
  const dispatches: Dispatch[] = call.dispatches.map((d) => ({
    pipeline: pipelineFor(device, `${d.key}|${types.join('_')}`, kinds, () => d.code(types)),
    bindGroup, workgroups: d.workgroups,
  }));
  recordDispatches(backend, [...call.inputs, ...outs.map((o) => o.info)], dispatches);
  if (check !== null) watchCheckWord(backend, check, 0, false, call.checkMessage!);
  const engine = tf.engine();
  return outs.map((o) => engine.makeTensorFromTensorInfo(o.info));
}

/** @internal WGSL declarations `@group(0) @binding(i) var<storage, ...> name : array<type>` from `first` on. */
export function storageDecls(first: number, list: Array<[name: string, type: string, rw: boolean]>): string {
  return list.map(([name, type, rw], i) =>
    `@group(0) @binding(${first + i}) var<storage, ${rw ? 'read_write' : 'read'}> ${name} : array<${type}>;`).join('\n');
}

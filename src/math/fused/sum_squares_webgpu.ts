/**
 * Per-group global gradient norms and clip factors on webgpu, for `applyClippedGradients`:
 * norm_k = sqrt(sum over the group's tensors g of sum(g^2)), factor_k = min(1, maxNorm / (norm_k + 1e-6))
 * (1 when clipping is off; NaN when the quotient is NaN, as tfjs's `minimum`).
 *
 * The composed ops reduce each tensor to a scalar with `tf.sum(tf.square(g))`, which tfjs-webgpu runs
 * in ONE workgroup (134 ms of GPU time for a [151936, 896] embedding gradient). Here each tensor is
 * one dispatch of many workgroups: workgroup r sums the squares of elements [r C, (r + 1) C) with
 * C = {@link SUM_SQUARES_CHUNK} into a partial sum, and each group is one more dispatch of one
 * workgroup summing its partials into the norm and the factor. The partials of every tensor sit in one
 * device scratch buffer, each tensor's range starting at a 256-byte boundary (WebGPU's storage offset
 * alignment, so the range is bound on its own and the uniform depends on the size only; the padding
 * slots are written with 0 by extra workgroups of the same dispatch), so a group's partials are one
 * contiguous range. Dispatches are recorded straight into the backend's pass
 * (`webgpu_backend_adapter.ts`): no tfjs program, no scalar upload.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, storageDecls} from './row_kernel_webgpu.js';
import {
  activeDirectBackend, type BindingKind, bindGroupFor, type GpuBindGroup, type GpuBuffer, gpuBuffersOf, layoutFor,
  newOutput, pipelineFor, recordDispatches, scratchBuffer, uniformBuffer,
} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu gradient-norm kernels on or off (default on), e.g. for A/B timing. */
export function setSumSquaresWebGPU(on: boolean): void {
  enabled = on;
}

/** @internal Elements per workgroup of the partial sums (256 threads x 32). */
export const SUM_SQUARES_CHUNK = 8192;
/** @internal Partials per alignment unit: 64 f32 = 256 bytes (WebGPU's minStorageBufferOffsetAlignment). */
export const PARTIALS_ALIGN = 64;

/** @internal Where the partial sums of each tensor and group lie in the scratch buffer (in f32 slots). */
export interface SumSquaresLayout {
  /** Per tensor (groups flattened in order): first slot, workgroups with data, workgroups dispatched (padded). */
  tensors: Array<{offset: number; rows: number; paddedRows: number}>;
  /** Per group: first slot and slot count (its tensors' padded ranges, contiguous). */
  groups: Array<{start: number; count: number}>;
  /** Slots in all. */
  total: number;
}

/**
 * @internal The scratch layout for tensors of `sizes` (one array of element counts per group): tensor
 * ranges of ceil(size / CHUNK) rows padded to a multiple of {@link PARTIALS_ALIGN}, back to back
 * (an empty tensor takes no slot).
 */
export function sumSquaresLayout(sizes: readonly number[][]): SumSquaresLayout {
  const tensors: SumSquaresLayout['tensors'] = [];
  const groups: SumSquaresLayout['groups'] = [];
  let offset = 0;
  for (const group of sizes) {
    const start = offset;
    for (const n of group) {
      const rows = Math.ceil(n / SUM_SQUARES_CHUNK);
      const paddedRows = Math.ceil(rows / PARTIALS_ALIGN) * PARTIALS_ALIGN;
      tensors.push({offset, rows, paddedRows});
      offset += paddedRows;
    }
    groups.push({start, count: offset - start});
  }
  return {tensors, groups, total: offset};
}

function partialsShader(): string {
  return `
struct Params { n : u32, rows : u32, paddedRows : u32, p0 : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['g', 'f32', false], ['partial', 'f32', true]])}
${ROW_REDUCE_WGSL}
fn sq(k : u32) -> f32 {
  if (k < params.n) { let x = g[k]; return x * x; }
  return 0.0;
}
${ROW_MAIN_WGSL}
  let row = rowIndex(wid);
  let lid = lidv.x;
  if (row >= params.paddedRows) { return; }
  if (row >= params.rows) {
    if (lid == 0u) { partial[row] = 0.0; }
    return;
  }
  let base = row * ${SUM_SQUARES_CHUNK}u + lid;
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < ${SUM_SQUARES_CHUNK}u; j = j + ${4 * ROW_WG}u) {
    let k = base + j;
    acc = acc + vec4<f32>(sq(k), sq(k + ${ROW_WG}u), sq(k + ${2 * ROW_WG}u), sq(k + ${3 * ROW_WG}u));
  }
  let s = rowSum4(acc, lid);
  if (lid == 0u) { partial[row] = (s.x + s.y) + (s.z + s.w); }
}
`;
}

function normShader(): string {
  return `
struct Params { start : u32, count : u32, slot : u32, clip : u32, maxNorm : f32, tiny : f32, p0 : f32, p1 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['partial', 'f32', false], ['norm', 'f32', true], ['factors', 'f32', true]])}
${ROW_REDUCE_WGSL}
fn isNan(x : f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(local_invocation_id) lidv : vec3<u32>) {
  let lid = lidv.x;
  var acc = vec4<f32>(0.0);
  for (var i = lid; i < params.count; i = i + ${ROW_WG}u) { acc.x = acc.x + partial[params.start + i]; }
  let s = rowSum4(acc, lid);
  if (lid == 0u) {
    let nrm = sqrt(s.x);
    norm[0] = nrm;
    var f = 1.0;
    if (params.clip == 1u) {
      let q = params.maxNorm / (nrm + params.tiny);
      f = select(min(1.0, q), q, isNan(q));
    }
    factors[params.slot] = f;
  }
}
`;
}

const PARTIAL_KINDS: BindingKind[] = ['uniform', 'read', 'rw'];
const NORM_KINDS: BindingKind[] = ['uniform', 'read', 'rw', 'rw'];

/** Bind groups of the partial-sum dispatches, one per gradient buffer (its range in the scratch varies). */
const partialBindGroups = new WeakMap<GpuBuffer, {key: string; group: GpuBindGroup; partials: GpuBuffer; uniform: GpuBuffer}>();

/** @internal Per-group norms (scalars) and clip factors (`[groups]`) of {@link clipFactorsWebGPU}. */
export interface ClipFactorTensors {
  norms: tf.Scalar[];
  factors: tf.Tensor1D;
}

/**
 * @internal The global L2 norm of each group of float32 tensors and its clip factor, as direct webgpu
 * dispatches; null where they do not apply (another backend, the kernels turned off, a tensor whose
 * buffer tfjs keeps elsewhere or not as f32, an empty tensor). `maxNorm` Infinity gives factor 1. Allocates nothing
 * before it knows it applies; the caller disposes the result.
 */
export function clipFactorsWebGPU(groups: readonly tf.Tensor[][], maxNorm: number): ClipFactorTensors | null {
  if (!enabled || groups.length === 0) return null;
  const backend = activeDirectBackend();
  if (backend === null) return null;
  const all = groups.flat();
  if (all.some((t) => t.dtype !== 'float32' || t.size === 0)) return null;
  const bufs = gpuBuffersOf(backend, all);
  if (bufs === null || bufs.some((b) => b.type !== 'f32')) return null;
  const device = backend.device;
  const layout = sumSquaresLayout(groups.map((g) => g.map((t) => t.size)));
  const partials = scratchBuffer(device, 'sumSquaresPartials', 4 * Math.max(layout.total, PARTIALS_ALIGN));
  const partialPipeline = pipelineFor(device, 'sumSquaresPartials', PARTIAL_KINDS, partialsShader);
  const partialLayout = layoutFor(device, PARTIAL_KINDS);
  all.forEach((t, i) => {
    const {offset, rows, paddedRows} = layout.tensors[i]!;
    if (rows === 0) return;
    const uniform = uniformBuffer(device, [t.size, rows, paddedRows, 0], []);
    const g = bufs[i]!.buffer;
    const key = `${offset}:${paddedRows}`;
    let cached = partialBindGroups.get(g);
    if (cached === undefined || cached.key !== key || cached.partials !== partials || cached.uniform !== uniform) {
      // A range of the scratch buffer: the adapter's bindGroupFor binds whole buffers only.
      const entries = [{binding: 0, resource: {buffer: uniform}}, {binding: 1, resource: {buffer: g}},
        {binding: 2, resource: {buffer: partials, offset: 4 * offset, size: 4 * paddedRows}}];
      cached = {key, partials, uniform, group: device.createBindGroup({layout: partialLayout, entries})};
      partialBindGroups.set(g, cached);
    }
    recordDispatches(backend, [t], [{pipeline: partialPipeline, bindGroup: cached.group, workgroups: rowGrid(paddedRows)}]);
  });
  const norms = groups.map(() => newOutput(backend, []));
  const factors = newOutput(backend, [groups.length]);
  const clip = Number.isFinite(maxNorm) ? 1 : 0;
  const normPipeline = pipelineFor(device, 'sumSquaresNorm', NORM_KINDS, normShader);
  layout.groups.forEach(({start, count}, k) => {
    const uniform = uniformBuffer(device, [start, count, k, clip], [clip === 1 ? maxNorm : 0, 1e-6, 0, 0]);
    const bindGroup = bindGroupFor(device, layoutFor(device, NORM_KINDS), [uniform, partials, norms[k]!.buffer, factors.buffer]);
    recordDispatches(backend, [norms[k]!.info, factors.info], [{pipeline: normPipeline, bindGroup, workgroups: [1]}]);
  });
  const engine = tf.engine();
  return {norms: norms.map((o) => engine.makeTensorFromTensorInfo(o.info) as tf.Scalar),
    factors: engine.makeTensorFromTensorInfo(factors.info) as tf.Tensor1D};
}

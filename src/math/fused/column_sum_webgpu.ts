/**
 * Column sums on webgpu, out_j = sum over rows of term(row, j), in one dispatch up to
 * {@link COLUMN_CHUNK_ROWS} rows (two beyond: chunks of rows, then the sum of the chunks). tfjs sums
 * over the first axis of a `[rows, width]` tensor as a transpose then a reduction (two programs and a
 * copy of the tensor); the gradients of a bias and of the RMSNorm gain are such sums.
 *
 * Workgroups of 64 columns x 4 lanes of rows: each lane sums every 4th row of its chunk (reads
 * coalesced along the columns), the 4 lanes are added in workgroup memory.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {runRowKernels, storageDecls} from './row_kernel_webgpu.js';
import type {WebGPUDirectBackend} from './webgpu_backend_adapter.js';

/** @internal Rows per chunk of a column sum (one dispatch up to this many rows). */
export const COLUMN_CHUNK_ROWS = 2048;
const COLS = 64;
const LANES = 4;

/** @internal One column sum: its inputs, and the WGSL of the summed term. */
export interface ColumnSumSpec {
  /** Pipeline key (must determine `term`). */
  key: string;
  /** Inputs bound at 1.. as `names[i]` (read-only storage). */
  inputs: tf.TensorInfo[];
  names: string[];
  /** WGSL expression of the term at flat index `k` of row `row` (u32 variables in scope). */
  term: string;
}

function partialShader(spec: ColumnSumSpec, types: string[]): string {
  return `
struct Params { rows : u32, width : u32, chunks : u32, chunkRows : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [...spec.names.map((n, i) => [n, types[i]!, false] as [string, string, boolean]), ['out', 'f32', true]])}
var<workgroup> lanes : array<f32, ${COLS * LANES}>;
@compute @workgroup_size(${COLS * LANES})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lidv : vec3<u32>) {
  let lid = lidv.x;
  let j = wid.x * ${COLS}u + lid % ${COLS}u;
  let first = wid.y * params.chunkRows;
  let last = min(params.rows, first + params.chunkRows);
  var s = 0.0;
  if (j < params.width) {
    for (var row = first + lid / ${COLS}u; row < last; row = row + ${LANES}u) {
      let k = row * params.width + j;
      s = s + ${spec.term};
    }
  }
  lanes[lid] = s;
  workgroupBarrier();
  if (lid < ${COLS}u && j < params.width) {
    out[wid.y * params.width + j] = (lanes[lid] + lanes[lid + ${COLS}u]) + (lanes[lid + ${2 * COLS}u] + lanes[lid + ${3 * COLS}u]);
  }
}
`;
}

function finalShader(types: string[]): string {
  return `
struct Params { rows : u32, width : u32, chunks : u32, chunkRows : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['partial', types[0]!, false], ['out', 'f32', true]])}
@compute @workgroup_size(${COLS * LANES})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lidv : vec3<u32>) {
  let j = wid.x * ${COLS * LANES}u + lidv.x;
  if (j >= params.width) { return; }
  var s = 0.0;
  for (var c = 0u; c < params.chunks; c = c + 1u) { s = s + partial[c * params.width + j]; }
  out[j] = s;
}
`;
}

/**
 * @internal The `[width]` column sums of `spec.term` over `rows` rows (float32), recorded on
 * `backend`; throws when an input has no GPU buffer (callers check their inputs first).
 */
export function columnSumWebGPU(backend: WebGPUDirectBackend, spec: ColumnSumSpec, rows: number, width: number): tf.Tensor {
  const chunks = Math.max(1, Math.ceil(rows / COLUMN_CHUNK_ROWS));
  const chunkRows = Math.ceil(rows / chunks);
  const uniform = {ints: [rows, width, chunks, chunkRows], floats: []};
  const fail = (): never => { throw new Error(`${spec.key}: the webgpu column sum found no GPU buffer for its inputs`); };
  const partial = runRowKernels(backend, {inputs: spec.inputs, outputs: [chunks === 1 ? [width] : [chunks, width]], ...uniform,
    dispatches: [{key: `colSum_${spec.key}`, code: (t) => partialShader(spec, t), workgroups: [Math.ceil(width / COLS), chunks]}]}) ??
      fail();
  if (chunks === 1) return partial[0]!;
  const total = runRowKernels(backend, {inputs: [partial[0]!], outputs: [[width]], ...uniform,
    dispatches: [{key: 'colSumFinal', code: finalShader, workgroups: [Math.ceil(width / (COLS * LANES))]}]}) ?? fail();
  partial[0]!.dispose();
  return total[0]!;
}

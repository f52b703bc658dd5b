/**
 * The masked statistics (`maskedSum`, `maskedMean`, `maskedVariance`, `whiten`) on webgpu as a few
 * dispatches recorded at once (the composed ops launch 8 to 25 tfjs programs): per-row masked sums
 * and counts (one workgroup per row of the last axis, or per chunk of 2048 elements of x flat), one
 * workgroup combining them into the batch sum, count and mean, then, for the variance, the same two
 * steps over the squared deviations, and for `whiten` one elementwise pass. Same formulas as masked_stats.ts: mean =
 * sum / count (0 when count is 0), variance = sum m (x - mean)^2 / (count - 1 or count) (0 when that
 * is <= 0), whiten = m ((x - mean) rsqrt(var + epsilon) [+ mean]). Forward only: used when no
 * gradient tape records (statistics; under a tape the composed ops run). The 0/1 mask check runs
 * in the first dispatch (a failure makes the result NaN; the named error comes with the next fused
 * call).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, type RowDispatch, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu masked-statistics kernels on or off (default on). */
export function setMaskedStatsWebGPU(on: boolean): void {
  enabled = on;
}

/** @internal What to compute: a sum or mean over all axes or the last one, the variance, or whiten. */
export type MaskedStat = 'sum' | 'mean' | 'rowSum' | 'rowMean' | 'variance' | 'whiten';
/** Elements per workgroup of the all-axes statistics. */
const CHUNK = 2048;
const STATS: Record<MaskedStat, number> = {sum: 0, mean: 1, rowSum: 2, rowMean: 3, variance: 4, whiten: 5};

/** Stages: 0 row sums/counts, 1 combine (sum, count, mean), 2 row squared deviations, 3 variance, 4 whiten. */
function shader(stage: number, checks: boolean): (types: string[]) => string {
  return (types) => `
struct Params { rows : u32, cols : u32, stat : u32, unbiased : u32, n : u32, p0 : u32, p1 : u32, p2 : u32,
  epsilon : f32, shiftMean : f32, p3 : f32, p4 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['x', types[0]!, false], ['maskValues', types[1]!, false], ['out', 'f32', true], ['partial', 'f32', true],
    ...(checks ? [['checkWord', 'atomic<u32>', true] as [string, string, boolean]] : [])])}
${ROW_REDUCE_WGSL}
fn safeDiv(s : f32, n : f32) -> f32 { if (n > 0.0) { return s / max(n, 1.0); } return 0.0; }
// partial[2 r], partial[2 r + 1]: row sum and count; partial[2 rows ..]: sum, count, mean, variance.
${ROW_MAIN_WGSL}
  let lid = lidv.x;
  let S = 2u * params.rows;
  ${stage === 1 || stage === 3 ? `
  var acc = vec4<f32>(0.0);
  for (var r = lid; r < params.rows; r = r + ${ROW_WG}u) { acc = acc + vec4<f32>(partial[2u * r], partial[2u * r + 1u], 0.0, 0.0); }
  let s = rowSum4(acc, lid);
  if (lid == 0u) {
    ${stage === 1 ? `
    partial[S] = s.x;
    partial[S + 1u] = s.y;
    partial[S + 2u] = safeDiv(s.x, s.y);
    if (params.stat == 0u) { out[0] = s.x; }
    if (params.stat == 1u) { out[0] = safeDiv(s.x, s.y); }` : `
    var n = partial[S + 1u];
    if (params.unbiased == 1u) { n = n - 1.0; }
    let v = safeDiv(s.x, n);
    partial[S + 3u] = v;
    if (params.stat == 4u) { out[0] = v; }`}
  }` : `
  let row = rowIndex(wid);
  if (row >= params.rows) { return; }
  ${stage === 4 ? `
  let mean = partial[S + 2u];
  let scale = inverseSqrt(partial[S + 3u] + params.epsilon);
  for (var t = lid; t < params.cols && row * params.cols + t < params.n; t = t + ${ROW_WG}u) {
    let k = row * params.cols + t;
    var w = 0.0;
    if (f32(maskValues[k]) != 0.0) {
      w = (f32(x[k]) - mean) * scale;
      if (params.shiftMean == 0.0) { w = w + mean; }
    }
    out[k] = w;
  }` : `
  ${stage === 2 ? 'let mean = partial[S + 2u];' : ''}
  var acc = vec4<f32>(0.0);
  for (var t = lid; t < params.cols && row * params.cols + t < params.n; t = t + ${ROW_WG}u) {
    let k = row * params.cols + t;
    let m = f32(maskValues[k]);
    ${stage === 0 && checks ? 'if (m != 0.0 && m != 1.0) { acc.z = acc.z + 1.0; }' : ''}
    if (m != 0.0) {
      ${stage === 0 ? 'acc = acc + vec4<f32>(f32(x[k]), 1.0, 0.0, 0.0);' :
        'let d = f32(x[k]) - mean;\n      acc.x = acc.x + d * d;'}
    }
  }
  let s = rowSum4(acc, lid);
  if (lid == 0u) {
    var sum = s.x;
    ${stage === 0 ? `if (s.z != 0.0) { sum = f32NaN(); ${checks ? 'atomicOr(&checkWord[0], 1u);' : ''} }
    partial[2u * row + 1u] = s.y;
    if (params.stat == 2u) { out[row] = sum; }
    if (params.stat == 3u) { out[row] = safeDiv(sum, s.y); }` : ''}
    partial[2u * row] = sum;
  }`}`}
}
`;
}

/**
 * @internal A masked statistic of validated `x` and `mask` (same shape) as fused webgpu dispatches, or
 * null where they do not apply (another backend, a gradient tape recording, the kernels turned off,
 * buffers tfjs keeps elsewhere). `fn` names the public function in the mask error.
 */
export function maskedStatWebGPU(fn: string, x: tf.Tensor, mask: tf.Tensor, stat: MaskedStat,
    o: {unbiased?: boolean; epsilon?: number; shiftMean?: boolean} = {}): tf.Tensor | null {
  if (!enabled || x.size < 1 || tf.engine().isTapeOn()) return null;
  const backend = rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [x, mask]) === null) return null;
  // Row statistics reduce the last axis; the others see x flat in chunks of CHUNK (the last one partial),
  // so that a long 1-D tensor still spreads over many workgroups.
  const perRow = stat === 'rowSum' || stat === 'rowMean';
  const cols = perRow ? x.shape[x.rank - 1]! : Math.min(x.size, CHUNK);
  const rows = Math.ceil(x.size / cols);
  const checks = valueChecksEnabled();
  const grid = rowGrid(rows);
  const stage = (s: number): RowDispatch => ({key: `masked${s}_${+checks}`, code: shader(s, checks),
    workgroups: s === 1 || s === 3 ? [1] : grid});
  const code = STATS[stat];
  const stages = code <= 1 ? [0, 1] : code <= 3 ? [0] : code === 4 ? [0, 1, 2, 3] : [0, 1, 2, 3, 4];
  const shape = code <= 1 || code === 4 ? [] : code <= 3 ? x.shape.slice(0, -1) : x.shape;
  const out = runRowKernels(backend, {inputs: [x, mask], outputs: [shape],
    ints: [rows, cols, code, o.unbiased === false ? 0 : 1, x.size, 0, 0, 0], floats: [o.epsilon ?? 1e-8, o.shiftMean === false ? 0 : 1, 0, 0],
    scratchBytes: 4 * (2 * rows + 4), scratchName: 'maskedStats',
    checkMessage: checks ? () => `${fn}: 'mask' expected values in {0, 1}, got another value` : undefined,
    dispatches: stages.map(stage)});
  return out === null ? null : out[0]!;
}

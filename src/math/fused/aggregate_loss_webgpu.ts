/**
 * `aggregateLoss` on webgpu as two dispatches forward (per-row masked sums and counts, one workgroup
 * per row; then one workgroup combining the rows per mode) and one backward, where the composed ops
 * launch 6 to 10 tfjs programs each way. Same formulas as `aggregateMasked` (aggregate_loss.ts):
 * token-mean = sum(m x) / (normalizer ?? max(sum m, 1)); seq-mean-* = sum over rows of the row's loss
 * (row sum / max(row count, 1), row sum, or row sum / maxLength) / (normalizer ?? max(non-empty rows, 1)).
 * The 0/1 mask check runs in the first dispatch (a failure makes the loss NaN; the named error is
 * thrown by the next fused call).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import type {LossAggregation} from '../aggregate_loss.js';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu aggregateLoss kernels on or off (default on). */
export function setAggregateLossWebGPU(on: boolean): void {
  enabled = on;
}

const MODES: Record<LossAggregation, number> = {
  'token-mean': 0, 'seq-mean-token-mean': 1, 'seq-mean-token-sum': 2, 'seq-mean-token-sum-norm': 3,
};

const PARAMS = `
struct Params { rows : u32, cols : u32, mode : u32, hasNorm : u32, normalizer : f32, maxLength : f32, p0 : f32, p1 : f32 };
@group(0) @binding(0) var<uniform> params : Params;`;

function rowsShader(types: string[], checks: boolean): string {
  return `${PARAMS}
${storageDecls(1, [['x', types[0]!, false], ['maskValues', types[1]!, false], ['loss', 'f32', true], ['aux', 'f32', true],
    ['partial', 'f32', true], ...(checks ? [['checkWord', 'atomic<u32>', true] as [string, string, boolean]] : [])])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_WGSL}
  let row = rowIndex(wid);
  if (row >= params.rows) { return; }
  let lid = lidv.x;
  var acc = vec4<f32>(0.0);
  for (var t = lid; t < params.cols; t = t + ${ROW_WG}u) {
    let k = row * params.cols + t;
    let m = f32(maskValues[k]);
    ${checks ? 'if (m != 0.0 && m != 1.0) { acc.z = acc.z + 1.0; }' : ''}
    if (m != 0.0) { acc = acc + vec4<f32>(f32(x[k]), 1.0, 0.0, 0.0); }
  }
  let s = rowSum4(acc, lid);
  if (lid == 0u) {
    var sum = s.x;
    if (s.z != 0.0) { sum = f32NaN(); ${checks ? 'atomicOr(&checkWord[0], 1u);' : ''} }
    partial[2u * row] = sum;
    partial[2u * row + 1u] = s.y;
  }
}
`;
}

function finishShader(checks: boolean): (types: string[]) => string {
  return (types) => `${PARAMS}
${storageDecls(1, [['x', types[0]!, false], ['maskValues', types[1]!, false], ['loss', 'f32', true], ['aux', 'f32', true],
    ['partial', 'f32', true], ...(checks ? [['checkWord', 'atomic<u32>', true] as [string, string, boolean]] : [])])}
${ROW_REDUCE_WGSL}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(local_invocation_id) lidv : vec3<u32>) {
  let lid = lidv.x;
  var acc = vec4<f32>(0.0);
  for (var r = lid; r < params.rows; r = r + ${ROW_WG}u) {
    let sum = partial[2u * r];
    let count = partial[2u * r + 1u];
    var seq = sum;
    if (params.mode == 1u) { seq = sum / max(count, 1.0); }
    if (params.mode == 3u) { seq = sum / params.maxLength; }
    var nonEmpty = 0.0;
    if (count > 0.0) { nonEmpty = 1.0; }
    acc = acc + vec4<f32>(sum, count, seq, nonEmpty);
  }
  let s = rowSum4(acc, lid);
  if (lid == 0u) {
    var total = s.z;
    var denom = max(s.w, 1.0);
    if (params.mode == 0u) { total = s.x; denom = max(s.y, 1.0); }
    if (params.hasNorm == 1u) { denom = params.normalizer; }
    loss[0] = total / denom;
    aux[0] = denom;
  }
}
`;
}

function backwardShader(types: string[]): string {
  return `${PARAMS}
${storageDecls(1, [['maskValues', types[0]!, false], ['aux', types[1]!, false], ['dy', types[2]!, false], ['out', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_WGSL}
  let row = rowIndex(wid);
  if (row >= params.rows) { return; }
  let lid = lidv.x;
  var g = f32(dy[0]) / f32(aux[0]);
  if (params.mode == 1u) {
    var acc = vec4<f32>(0.0);
    for (var t = lid; t < params.cols; t = t + ${ROW_WG}u) {
      if (f32(maskValues[row * params.cols + t]) != 0.0) { acc.x = acc.x + 1.0; }
    }
    g = g / max(rowSum4(acc, lid).x, 1.0);
  }
  if (params.mode == 3u) { g = g / params.maxLength; }
  for (var t = lid; t < params.cols; t = t + ${ROW_WG}u) {
    let k = row * params.cols + t;
    var v = 0.0;
    if (f32(maskValues[k]) != 0.0) { v = g; }
    out[k] = v;
  }
}
`;
}

/**
 * @internal `aggregateLoss` on validated inputs (`[batch, time]`, options resolved) as fused webgpu
 * kernels, or null where they do not apply (another backend, the kernel turned off, buffers tfjs
 * keeps elsewhere).
 */
export function aggregateLossWebGPU(perToken: tf.Tensor2D, mask: tf.Tensor, mode: LossAggregation, maxLength: number,
    normalizer: number | undefined): tf.Scalar | null {
  const [rows, cols] = perToken.shape;
  if (!enabled || rows < 1 || cols < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [perToken, mask]) === null) return null;
  const checks = valueChecksEnabled();
  const uniform = {ints: [rows, cols, MODES[mode], normalizer === undefined ? 0 : 1],
    floats: [normalizer ?? 1, maxLength, 0, 0]};
  return runWithLazyGradients({perToken}, (save) => {
    const out = runRowKernels(backend, {inputs: [perToken, mask], outputs: [[], [1]], ...uniform,
      scratchBytes: 8 * rows, scratchName: 'aggregatePartials',
      checkMessage: checks ? () => `aggregateLoss: 'mask' expected values in {0, 1}, got another value` : undefined,
      dispatches: [{key: `aggRows${+checks}`, code: (t) => rowsShader(t, checks), workgroups: rowGrid(rows)},
        {key: `aggFinish${+checks}`, code: finishShader(checks), workgroups: [1]}]})!;
    save([mask, out[1]!]);
    return out[0] as tf.Scalar;
  }, (dy, saved) => ({
    perToken: () => {
      const out = runRowKernels(backend, {inputs: [saved[0]!, saved[1]!, dy], outputs: [[rows, cols]], ...uniform,
        dispatches: [{key: 'aggBwd', code: backwardShader, workgroups: rowGrid(rows)}]});
      if (out === null) throw new Error('aggregateLoss: the webgpu backward kernel found no GPU buffer for its inputs');
      return out[0]!;
    },
  }));
}

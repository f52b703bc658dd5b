/**
 * `klPenalty` on webgpu as one fused elementwise kernel forward and one per requested gradient (the
 * composed ops launch 3 to 6 tfjs programs each way). Same formulas and order of operations as
 * `klEstimate` (kl_penalty.ts) on the webgpu backend: d = clamp(logProbs - refLogProbs), k1 = d,
 * k2 = 0.5 d^2, k3 = (exp(-d) - 1) + d (tfjs's webgpu expm1 is exp(x) - 1), abs = |d|, then the value
 * clamp; gradients 0 where a clamp is active (ends included in the range, as tfjs's clipByValue),
 * d|d|/dd = 1 for d > 0 and -1 otherwise (tfjs's Abs gradient).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KlEstimator} from '../kl_penalty.js';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu klPenalty kernels on or off (default on). */
export function setKlPenaltyWebGPU(on: boolean): void {
  enabled = on;
}

const ESTIMATORS: Record<KlEstimator, number> = {k1: 0, k2: 1, k3: 2, abs: 3};

function shader(types: string[], backward: boolean): string {
  return `
struct Params { n : u32, estimator : u32, which : u32, p0 : u32, ratioClamp : f32, valueClamp : f32, p1 : f32, p2 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['lp', types[0]!, false], ['refValues', types[1]!, false],
    ...(backward ? [['dy', types[2]!, false] as [string, string, boolean]] : []), ['out', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_WGSL}
  let k = rowIndex(wid) * ${ROW_WG}u + lidv.x;
  if (k >= params.n) { return; }
  let raw = f32(lp[k]) - f32(refValues[k]);
  var d = raw;
  if (params.ratioClamp > 0.0) { d = clamp(raw, -params.ratioClamp, params.ratioClamp); }
  var v = d;
  switch (params.estimator) {
    case 1u: { v = 0.5 * (d * d); }
    case 2u: { v = (exp(-d) - 1.0) + d; }
    case 3u: { v = abs(d); }
    default: {}
  }
  ${backward ? `
  let g = f32(dy[k]);
  var dd = g;
  switch (params.estimator) {
    case 1u: { dd = (g * 0.5) * (d * 2.0); }
    case 2u: { dd = -(g * exp(-d)) + g; }
    case 3u: { if (d > 0.0) { dd = g; } else { dd = -g; } }
    default: {}
  }
  if (params.valueClamp > 0.0 && !(v >= -params.valueClamp && v <= params.valueClamp)) { dd = 0.0; }
  if (params.ratioClamp > 0.0 && !(raw >= -params.ratioClamp && raw <= params.ratioClamp)) { dd = 0.0; }
  if (params.which == 1u) { dd = -dd; }
  out[k] = dd;` : `
  if (params.valueClamp > 0.0) { v = clamp(v, -params.valueClamp, params.valueClamp); }
  out[k] = v;`}
}
`;
}

/**
 * @internal `klPenalty` on validated inputs as fused webgpu kernels, or null where they do not apply
 * (another backend, the kernel turned off, buffers tfjs keeps elsewhere).
 */
export function klPenaltyWebGPU(logProbs: tf.Tensor, refLogProbs: tf.Tensor,
    o: {estimator: KlEstimator; logRatioClamp?: number | undefined; valueClamp?: number | undefined}): tf.Tensor | null {
  const n = logProbs.size;
  if (!enabled || n < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [logProbs, refLogProbs]) === null) return null;
  const grid = rowGrid(Math.ceil(n / ROW_WG));
  const uniform = (which: number) => ({ints: [n, ESTIMATORS[o.estimator], which, 0],
    floats: [o.logRatioClamp ?? 0, o.valueClamp ?? 0, 0, 0]});
  const run = (inputs: tf.Tensor[], which: number, backward: boolean): tf.Tensor => {
    const out = runRowKernels(backend, {inputs, outputs: [logProbs.shape], ...uniform(which),
      dispatches: [{key: `kl${+backward}`, code: (t) => shader(t, backward), workgroups: grid}]});
    if (out === null) throw new Error('klPenalty: the webgpu kernel found no GPU buffer for its inputs');
    return out[0]!;
  };
  return runWithLazyGradients({logProbs, refLogProbs}, (save) => {
    save([logProbs, refLogProbs]);
    return run([logProbs, refLogProbs], 0, false);
  }, (dy, saved) => ({
    logProbs: () => run([saved[0]!, saved[1]!, dy], 0, true),
    refLogProbs: () => run([saved[0]!, saved[1]!, dy], 1, true),
  }));
}

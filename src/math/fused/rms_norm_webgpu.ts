/**
 * `rmsNorm` on webgpu as fused kernels recorded straight into the backend's compute pass (the
 * composed ops launch 6 tfjs programs forward and 8 backward, plus a transpose for every sum over
 * rows): one dispatch forward (one workgroup per row: the mean square, then y and the row's
 * r = 1 / sqrt(mean(x^2) + eps), kept for the backward pass), one dispatch for d x (a workgroup per
 * row: dx = r (dy w - xhat mean(dy w xhat)), xhat = x r) and one for d weight up to 2048 rows (column
 * sums of dy xhat, `column_sum_webgpu.ts`; two beyond). Each gradient is computed only when the
 * tape asks for it. Same formulas as the composed `rmsNorm` (rms_norm.ts); sums in another order, so
 * results agree to float32 rounding.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {columnSumWebGPU} from './column_sum_webgpu.js';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_BY_WIDTH_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf, type WebGPUDirectBackend} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu rmsNorm kernels on or off (default on). */
export function setRmsNormWebGPU(on: boolean): void {
  enabled = on;
}

const PARAMS = `
struct Params { rows : u32, width : u32, p3 : u32, p4 : u32, eps : f32, p0 : f32, p1 : f32, p2 : f32 };
@group(0) @binding(0) var<uniform> params : Params;`;

/** Forward: y = x r w, r = inverseSqrt(sum(x^2) / width + eps) per row (also written to `rOut`). */
function forwardShader(types: string[]): string {
  return `${PARAMS}
${storageDecls(1, [['x', types[0]!, false], ['w', types[1]!, false], ['y', 'f32', true], ['rOut', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_BY_WIDTH_WGSL}
  var s = 0.0;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) { let v = f32(x[base + j]); s = s + v * v; }
  let total = rowSum4(vec4<f32>(s, 0.0, 0.0, 0.0), lid).x;
  let r = inverseSqrt(total / f32(params.width) + params.eps);
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) { y[base + j] = (f32(x[base + j]) * r) * f32(w[j]); }
  if (lid == 0u) { rOut[row] = r; }
}
`;
}

/** d x = r (g - xhat mean(g xhat)), g = dy w, xhat = x r; one workgroup per row. */
function dxShader(types: string[]): string {
  return `${PARAMS}
${storageDecls(1, [['x', types[0]!, false], ['w', types[1]!, false], ['rIn', types[2]!, false], ['dy', types[3]!, false],
    ['dx', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_BY_WIDTH_WGSL}
  let r = f32(rIn[row]);
  var s = 0.0;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) {
    s = s + (f32(dy[base + j]) * f32(w[j])) * (f32(x[base + j]) * r);
  }
  let m = rowSum4(vec4<f32>(s, 0.0, 0.0, 0.0), lid).x / f32(params.width);
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) {
    let g = f32(dy[base + j]) * f32(w[j]);
    dx[base + j] = r * (g - (f32(x[base + j]) * r) * m);
  }
}
`;
}

function fail(): never {
  throw new Error('rmsNorm: the webgpu kernel found no GPU buffer for its inputs');
}

/** d weight = column sums of dy xhat (one dispatch up to 2048 rows). */
function dWeight(backend: WebGPUDirectBackend, x: tf.Tensor, r: tf.Tensor, dy: tf.Tensor, rows: number, width: number):
    tf.Tensor {
  return columnSumWebGPU(backend, {key: 'rmsNormDw', inputs: [x, r, dy], names: ['x', 'rIn', 'dy'],
    term: 'f32(dy[k]) * (f32(x[k]) * f32(rIn[row]))'}, rows, width);
}

/**
 * @internal `rmsNorm` on validated inputs (`x` `[..., width]` float32, `weight` `[width]`) as fused
 * webgpu kernels, or null where they do not apply (another backend, the kernels turned off, an empty
 * `x`, buffers tfjs keeps elsewhere).
 */
export function rmsNormWebGPU(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor | null {
  const width = x.shape[x.rank - 1]!;
  const rows = width === 0 ? 0 : x.size / width;
  if (!enabled || rows < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [x, weight]) === null) return null;
  const uniform = {ints: [rows, width, 0, 0], floats: [eps, 0, 0, 0]};
  const forward = (): [tf.Tensor, tf.Tensor] => {
    const out = runRowKernels(backend, {inputs: [x, weight], outputs: [x.shape, [rows]], ...uniform,
      dispatches: [{key: 'rmsNormFwd', code: forwardShader, workgroups: rowGrid(rows)}]}) ?? fail();
    return [out[0]!, out[1]!];
  };
  if (!tf.engine().isTapeOn()) {
    const [y, r] = forward();
    r.dispose();
    return y;
  }
  return runWithLazyGradients({x, weight}, (save) => {
    const [y, r] = forward();
    save([x, weight, r]);
    return y;
  }, (dy, saved) => {
    const [xs, ws, rs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    return {
      x: () => (runRowKernels(backend, {inputs: [xs, ws, rs, dy], outputs: [xs.shape], ...uniform,
        dispatches: [{key: 'rmsNormDx', code: dxShader, workgroups: rowGrid(rows)}]}) ?? fail())[0]!,
      weight: () => dWeight(backend, xs, rs, dy, rows, width),
    };
  });
}

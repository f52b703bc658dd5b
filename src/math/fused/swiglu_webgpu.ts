/**
 * The SwiGLU gate silu(g) * u on webgpu as one elementwise dispatch forward and one backward that
 * writes both gradients (tfjs autodiff launches 3 programs forward and 8 backward, plus 4 casts,
 * with an upload of the constant 1 of the sigmoid's gradient):
 *
 * y = g s u,  s = sigmoid(g) = 1 / (1 + exp(-g));
 * d g = dy u (s + g s (1 - s)),  d u = dy g s.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu SwiGLU gate on or off (default on). */
export function setSwigluWebGPU(on: boolean): void {
  enabled = on;
}

function shader(types: string[], backward: boolean): string {
  return `
struct Params { n : u32, p0 : u32, p1 : u32, p2 : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['gate', types[0]!, false], ['up', types[1]!, false],
    ...(backward ? [['dy', types[2]!, false] as [string, string, boolean], ['dGate', 'f32', true] as [string, string, boolean]] : []),
    ['out', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_WGSL}
  let k = rowIndex(wid) * ${ROW_WG}u + lidv.x;
  if (k >= params.n) { return; }
  let g = f32(gate[k]);
  let s = 1.0 / (1.0 + exp(-g));
  ${backward ? `
  let d = f32(dy[k]);
  let silu = g * s;
  dGate[k] = (d * f32(up[k])) * (s + silu * (1.0 - s));
  out[k] = d * silu;` : `
  out[k] = (g * s) * f32(up[k]);`}
}
`;
}

/**
 * @internal silu(gate) * up of validated inputs (same shape, float32) as fused webgpu kernels, or
 * null where they do not apply (another backend, the kernel turned off, an empty input, buffers tfjs
 * keeps elsewhere). Under a tape both gradients come from one backward dispatch.
 */
export function swigluWebGPU(gate: tf.Tensor, up: tf.Tensor): tf.Tensor | null {
  const n = gate.size;
  if (!enabled || n < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [gate, up]) === null) return null;
  const grid = rowGrid(Math.ceil(n / ROW_WG));
  const run = (inputs: tf.Tensor[], backward: boolean): tf.Tensor[] => {
    const out = runRowKernels(backend, {inputs, outputs: backward ? [gate.shape, gate.shape] : [gate.shape],
      ints: [n, 0, 0, 0], floats: [], dispatches: [{key: `swiglu${+backward}`, code: (t) => shader(t, backward), workgroups: grid}]});
    if (out === null) throw new Error('swigluMlp: the webgpu kernel found no GPU buffer for its inputs');
    return out;
  };
  if (!tf.engine().isTapeOn()) return run([gate, up], false)[0]!;
  return runWithLazyGradients({gate, up}, (save) => {
    save([gate, up]);
    return run([gate, up], false)[0]!;
  }, (dy, saved) => {
    // Both gradients in one dispatch, when the tape asks for the first of them; a gradient it does
    // not ask for is disposed with the backward pass's scope.
    const [dGate, dUp] = run([saved[0]!, saved[1]!, dy], true) as [tf.Tensor, tf.Tensor];
    return {gate: () => dGate, up: () => dUp};
  });
}

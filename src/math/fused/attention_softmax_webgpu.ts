/**
 * The softmax of attention scores on webgpu, scaled and masked in the same dispatch (the composed
 * ops launch a tile of the mask, a multiply by the scale, an add and the softmax forward, and 5
 * programs backward, plus an upload of the scale each way):
 *
 * p = softmax(scale * s + bias) over the last axis,  s `[B, H, T, Tk]`, bias `[B, 1, T, Tk]` read
 * for every head (no tile);
 * backward ds = scale * p * (dp - sum(dp * p)), d bias = sum over heads of p * (dp - sum(dp * p)).
 *
 * One workgroup per row (B H T rows of Tk), three passes over the row forward (max, sum of exp,
 * write), two backward. Same order of operations as the composed ops up to the sums.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_BY_WIDTH_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu attention softmax on or off (default on). */
export function setAttentionSoftmaxWebGPU(on: boolean): void {
  enabled = on;
}

const PARAMS = `
struct Params { rows : u32, width : u32, heads : u32, time : u32, scale : f32, p0 : f32, p1 : f32, p2 : f32 };
@group(0) @binding(0) var<uniform> params : Params;`;

function forwardShader(types: string[]): string {
  return `${PARAMS}
${storageDecls(1, [['s', types[0]!, false], ['bias', types[1]!, false], ['p', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_BY_WIDTH_WGSL}
  // Row (b, h, t) reads the bias row (b, t).
  let t = row % params.time;
  let b = row / (params.time * params.heads);
  let biasBase = (b * params.time + t) * params.width;
  var m = -3.402823e38;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) {
    m = max(m, f32(s[base + j]) * params.scale + f32(bias[biasBase + j]));
  }
  let mx = rowMax4(vec4<f32>(m), lid).x;
  var e = 0.0;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) {
    e = e + exp(f32(s[base + j]) * params.scale + f32(bias[biasBase + j]) - mx);
  }
  let total = rowSum4(vec4<f32>(e, 0.0, 0.0, 0.0), lid).x;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) {
    p[base + j] = exp(f32(s[base + j]) * params.scale + f32(bias[biasBase + j]) - mx) / total;
  }
}
`;
}

/** out = scale * p * (dp - sum(dp * p)) per row. */
function backwardShader(types: string[]): string {
  return `${PARAMS}
${storageDecls(1, [['p', types[0]!, false], ['dp', types[1]!, false], ['out', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_BY_WIDTH_WGSL}
  var acc = 0.0;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) { acc = acc + f32(dp[base + j]) * f32(p[base + j]); }
  let total = rowSum4(vec4<f32>(acc, 0.0, 0.0, 0.0), lid).x;
  for (var j = lid; j < params.width; j = j + ${ROW_WG}u) {
    out[base + j] = params.scale * (f32(p[base + j]) * (f32(dp[base + j]) - total));
  }
}
`;
}

function fail(): never {
  throw new Error('attention softmax: the webgpu kernel found no GPU buffer for its inputs');
}

/**
 * @internal softmax(scale * scores + bias) over the last axis as fused webgpu kernels, or null where
 * they do not apply (another backend, the kernel turned off, an empty input, buffers tfjs keeps
 * elsewhere).
 *
 * @param scores `[B, H, T, Tk]` float32.
 * @param bias `[B, 1, T, Tk]` float32 additive mask, the same for every head.
 * @param scale the factor on the scores (1 / sqrt(headDim)).
 * @returns `[B, H, T, Tk]` probabilities.
 */
export function attentionSoftmaxWebGPU(scores: tf.Tensor4D, bias: tf.Tensor4D, scale: number): tf.Tensor4D | null {
  const [B, H, T, Tk] = scores.shape;
  const rows = B * H * T;
  if (!enabled || rows < 1 || Tk < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [scores, bias]) === null) return null;
  const uniform = (k: number) => ({ints: [rows, Tk, H, T], floats: [k, 0, 0, 0]});
  const forward = (): tf.Tensor4D => (runRowKernels(backend, {inputs: [scores, bias], outputs: [scores.shape], ...uniform(scale),
    dispatches: [{key: 'attnSoftmaxFwd', code: forwardShader, workgroups: rowGrid(rows)}]}) ?? fail())[0] as tf.Tensor4D;
  if (!tf.engine().isTapeOn()) return forward();
  const backward = (p: tf.Tensor, dp: tf.Tensor, k: number): tf.Tensor => (runRowKernels(backend, {inputs: [p, dp],
    outputs: [scores.shape], ...uniform(k), dispatches: [{key: 'attnSoftmaxBwd', code: backwardShader,
      workgroups: rowGrid(rows)}]}) ?? fail())[0]!;
  return runWithLazyGradients({scores, bias}, (save) => {
    const p = forward();
    save([p]);
    return p;
  }, (dy, saved) => ({
    scores: () => backward(saved[0]!, dy, scale),
    bias: () => tf.sum(backward(saved[0]!, dy, 1), 1, true),
  })) as tf.Tensor4D;
}

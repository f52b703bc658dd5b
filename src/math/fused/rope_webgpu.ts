/**
 * Rotary position embeddings on webgpu as one elementwise dispatch forward and one backward (the
 * composed `applyRope` launches 8 tfjs programs forward, split, negate, concat, two tiles, two
 * multiplies and an add, and 6 backward). The kernel also reads its input in either head layout,
 * `[batch, heads, time, dim]` or `[batch, time, heads, dim]` (the projection's output, so the head
 * transpose before RoPE costs nothing), and de-interleaves adjacent pairs on the fly.
 *
 * With h = dim / 2 and xr the (de-interleaved) features of one head at one position:
 * y_i = xr_i cos_i - xr_{i+h} sin_i (i < h),  y_i = xr_i cos_i + xr_{i-h} sin_i (i >= h);
 * backward dxr_j = dy_j cos_j + dy_{j+h} sin_{j+h} (j < h),  dxr_j = dy_j cos_j - dy_{j-h} sin_{j-h} (j >= h),
 * written back to x's layout. Gradients w.r.t. the tables (rarely asked for) are composed ops:
 * d cos = sum over heads of dy xr, d sin = sum over heads of dy rotateHalf(xr).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu RoPE kernel on or off (default on). */
export function setRopeWebGPU(on: boolean): void {
  enabled = on;
}

/** @internal Layout of the input of {@link ropeWebGPU}: head-major `[B, H, T, d]` or time-major `[B, T, H, d]`. */
export type RopeInputLayout = 'bhtd' | 'bthd';

function shader(types: string[], backward: boolean): string {
  return `
struct Params { batch : u32, heads : u32, time : u32, dim : u32, timeMajor : u32, interleaved : u32, n : u32, p0 : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['src', types[0]!, false], ['cosT', types[1]!, false], ['sinT', types[2]!, false], ['out', 'f32', true]])}
${ROW_REDUCE_WGSL}
// Offset in the input (x, or dx) of feature i (rotate-half order) of head h at (b, t).
fn inOffset(b : u32, h : u32, t : u32, i : u32) -> u32 {
  let half = params.dim / 2u;
  var f = i;
  if (params.interleaved == 1u) { if (i < half) { f = 2u * i; } else { f = 2u * (i - half) + 1u; } }
  if (params.timeMajor == 1u) { return ((b * params.time + t) * params.heads + h) * params.dim + f; }
  return ((b * params.heads + h) * params.time + t) * params.dim + f;
}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_id) lidv : vec3<u32>) {
  let k = rowIndex(wid) * ${ROW_WG}u + lidv.x;
  if (k >= params.n) { return; }
  let d = params.dim;
  let half = d / 2u;
  let i = k % d;
  let t = (k / d) % params.time;
  let h = (k / (d * params.time)) % params.heads;
  let b = k / (d * params.time * params.heads);
  let tab = (b * params.time + t) * d;
  ${backward ? `
  // src = dy in [B, H, T, d]; out = dx in the input's layout.
  let row = k - i;
  var v = f32(src[k]) * f32(cosT[tab + i]);
  if (i < half) { v = v + f32(src[row + i + half]) * f32(sinT[tab + i + half]); }
  else { v = v - f32(src[row + i - half]) * f32(sinT[tab + i - half]); }
  out[inOffset(b, h, t, i)] = v;` : `
  var p = 0.0;
  if (i < half) { p = -f32(src[inOffset(b, h, t, i + half)]); } else { p = f32(src[inOffset(b, h, t, i - half)]); }
  out[k] = f32(src[inOffset(b, h, t, i)]) * f32(cosT[tab + i]) + p * f32(sinT[tab + i]);`}
}
`;
}

/** The input `x` in rotate-half `[B, H, T, d]` order, composed (for the tables' gradients). */
function headMajor(x: tf.Tensor, layout: RopeInputLayout, interleaved: boolean): tf.Tensor4D {
  let t = layout === 'bthd' ? tf.transpose(x, [0, 2, 1, 3]) : x;
  const [B, H, T, d] = t.shape as [number, number, number, number];
  if (interleaved) t = tf.reshape(tf.transpose(tf.reshape(t, [B, H, T, d / 2, 2]), [0, 1, 2, 4, 3]), [B, H, T, d]);
  return t as tf.Tensor4D;
}

/**
 * @internal RoPE of validated inputs as fused webgpu kernels, or null where they do not apply
 * (another backend, the kernel turned off, an empty input, buffers tfjs keeps elsewhere).
 *
 * @param x `[B, H, T, d]` (`layout` 'bhtd') or `[B, T, H, d]` ('bthd') float32, d even.
 * @param cos `[B, T, d]`; @param sin `[B, T, d]`.
 * @returns `[B, H, T, d]` rotated (rotate-half order).
 */
export function ropeWebGPU(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, layout: RopeInputLayout, interleaved: boolean):
    tf.Tensor4D | null {
  const n = x.size;
  if (!enabled || n < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [x, cos, sin]) === null) return null;
  const [B, a, c, d] = x.shape as [number, number, number, number];
  const [H, T] = layout === 'bhtd' ? [a, c] : [c, a];
  const ints = [B, H, T, d, layout === 'bthd' ? 1 : 0, interleaved ? 1 : 0, n, 0];
  const run = (inputs: tf.Tensor[], backward: boolean, shape: number[]): tf.Tensor => {
    const out = runRowKernels(backend, {inputs, outputs: [shape], ints, floats: [],
      dispatches: [{key: `rope${+backward}`, code: (types) => shader(types, backward), workgroups: rowGrid(Math.ceil(n / ROW_WG))}]});
    if (out === null) throw new Error('applyRope: the webgpu kernel found no GPU buffer for its inputs');
    return out[0]!;
  };
  const outShape = [B, H, T, d];
  if (!tf.engine().isTapeOn()) return run([x, cos, sin], false, outShape) as tf.Tensor4D;
  return runWithLazyGradients({x, cos, sin}, (save) => {
    save([x, cos, sin]);
    return run([x, cos, sin], false, outShape);
  }, (dy, saved) => {
    const [xs, cs, ss] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const tables = (rotate: boolean): tf.Tensor => {
      let xr: tf.Tensor = headMajor(xs, layout, interleaved);
      if (rotate) {
        const [x1, x2] = tf.split(xr, 2, 3);
        xr = tf.concat([tf.neg(x2!), x1!], 3);
      }
      return tf.sum(tf.mul(dy, xr), 1);
    };
    return {
      x: () => run([dy, cs, ss], true, xs.shape),
      cos: () => tables(false),
      sin: () => tables(true),
    };
  }) as tf.Tensor4D;
}

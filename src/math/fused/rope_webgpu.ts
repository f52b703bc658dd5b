/**
 * Rotary position embeddings on webgpu as one elementwise dispatch forward and one backward (the
 * composed `applyRope` launches 8 tfjs programs forward, split, negate, concat, two tiles, two
 * multiplies and an add, and 6 backward). The kernel also reads its input in either head layout,
 * `[batch, heads, time, dim]` or `[batch, time, heads, dim]` (the projection's output, so the head
 * transpose before RoPE costs nothing), de-interleaves adjacent pairs on the fly, and may add the
 * projection's bias first ({@link projectedHeadsWebGPU}: also the values' transpose + bias, without
 * rotation).
 *
 * With h = dim / 2 and xr the (de-interleaved) features of one head at one position (plus the bias):
 * y_i = xr_i cos_i - xr_{i+h} sin_i (i < h),  y_i = xr_i cos_i + xr_{i-h} sin_i (i >= h);
 * backward dxr_j = dy_j cos_j + dy_{j+h} sin_{j+h} (j < h),  dxr_j = dy_j cos_j - dy_{j-h} sin_{j-h} (j >= h),
 * written back to x's layout; d bias = column sums of dx (`column_sum_webgpu.ts`). Gradients w.r.t.
 * the tables (rarely asked for) are composed ops: d cos = sum over heads of dy xr, d sin = sum over
 * heads of dy rotateHalf(xr).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {columnSumWebGPU} from './column_sum_webgpu.js';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu RoPE kernel on or off (default on). */
export function setRopeWebGPU(on: boolean): void {
  enabled = on;
}

/** @internal Layout of the input of {@link ropeWebGPU}: head-major `[B, H, T, d]` or time-major `[B, T, H, d]`. */
export type RopeInputLayout = 'bhtd' | 'bthd';

/** Compile-time variant of the kernel. */
interface Variant {backward: boolean; rotate: boolean; bias: boolean}

function shader(types: string[], v: Variant): string {
  const list: Array<[string, string, boolean]> = [['src', types[0]!, false]];
  if (v.bias && !v.backward) list.push(['bias', types[list.length]!, false]);
  if (v.rotate) list.push(['cosT', types[list.length]!, false], ['sinT', types[list.length + 1]!, false]);
  list.push(['out', 'f32', true]);
  const value = (i: string) => `(f32(src[inOffset(b, h, t, ${i})])${v.bias ? ` + f32(bias[h * d + feature(${i})])` : ''})`;
  let body: string;
  if (v.backward && v.rotate) {
    body = `
  // src = dy in [B, H, T, d]; out = dx in the input's layout.
  let row = k - i;
  var g = f32(src[k]) * f32(cosT[tab + i]);
  if (i < half) { g = g + f32(src[row + i + half]) * f32(sinT[tab + i + half]); }
  else { g = g - f32(src[row + i - half]) * f32(sinT[tab + i - half]); }
  out[inOffset(b, h, t, i)] = g;`;
  } else if (v.backward) {
    body = `
  out[inOffset(b, h, t, i)] = f32(src[k]);`;
  } else if (v.rotate) {
    body = `
  var p = 0.0;
  if (i < half) { p = -${value('i + half')}; } else { p = ${value('i - half')}; }
  out[k] = ${value('i')} * f32(cosT[tab + i]) + p * f32(sinT[tab + i]);`;
  } else {
    body = `
  out[k] = ${value('i')};`;
  }
  return `
struct Params { batch : u32, heads : u32, time : u32, dim : u32, timeMajor : u32, interleaved : u32, n : u32, p0 : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, list)}
${ROW_REDUCE_WGSL}
// The input feature (in x's last axis) of feature i in rotate-half order.
fn feature(i : u32) -> u32 {
  let half = params.dim / 2u;
  if (params.interleaved == 1u) { if (i < half) { return 2u * i; } return 2u * (i - half) + 1u; }
  return i;
}
// Offset in the input (x, or dx) of feature i (rotate-half order) of head h at (b, t).
fn inOffset(b : u32, h : u32, t : u32, i : u32) -> u32 {
  let f = feature(i);
  if (params.timeMajor == 1u) { return ((b * params.time + t) * params.heads + h) * params.dim + f; }
  return ((b * params.heads + h) * params.time + t) * params.dim + f;
}
${ROW_MAIN_WGSL}
  let k = rowIndex(wid) * ${ROW_WG}u + lidv.x;
  if (k >= params.n) { return; }
  let d = params.dim;
  let half = d / 2u;
  let i = k % d;
  let t = (k / d) % params.time;
  let h = (k / (d * params.time)) % params.heads;
  let b = k / (d * params.time * params.heads);
  let tab = (b * params.time + t) * d;${body}
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

interface HeadsCall {
  x: tf.Tensor;
  bias: tf.Tensor | null;
  tables: {cos: tf.Tensor; sin: tf.Tensor} | null;
  layout: RopeInputLayout;
  interleaved: boolean;
}

/** The fused kernels of a {@link HeadsCall}, or null where they do not apply. */
function headsKernel(c: HeadsCall): tf.Tensor4D | null {
  const {x, bias, tables, layout, interleaved} = c;
  const n = x.size;
  if (!enabled || n < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  const given = [x, ...(bias === null ? [] : [bias]), ...(tables === null ? [] : [tables.cos, tables.sin])];
  if (backend === null || gpuBuffersOf(backend, given) === null) return null;
  const [B, a, cc, d] = x.shape as [number, number, number, number];
  const [H, T] = layout === 'bhtd' ? [a, cc] : [cc, a];
  const ints = [B, H, T, d, layout === 'bthd' ? 1 : 0, interleaved ? 1 : 0, n, 0];
  const rotate = tables !== null;
  const run = (inputs: tf.Tensor[], backward: boolean, shape: number[]): tf.Tensor => {
    const v: Variant = {backward, rotate, bias: bias !== null};
    const out = runRowKernels(backend, {inputs, outputs: [shape], ints, floats: [], dispatches: [{
      key: `heads${+backward}${+rotate}${+(bias !== null)}`, code: (types) => shader(types, v),
      workgroups: rowGrid(Math.ceil(n / ROW_WG))}]});
    if (out === null) throw new Error('applyRope: the webgpu kernel found no GPU buffer for its inputs');
    return out[0]!;
  };
  const outShape = [B, H, T, d];
  if (!tf.engine().isTapeOn()) return run(given, false, outShape) as tf.Tensor4D;
  const inputs: Record<string, tf.Tensor> = {x};
  if (bias !== null) inputs['bias'] = bias;
  if (tables !== null) Object.assign(inputs, tables);
  return runWithLazyGradients(inputs, (save) => {
    save(given);
    return run(given, false, outShape);
  }, (dy, saved) => {
    const xs = saved[0]!;
    const bs = bias === null ? null : saved[1]!;
    const ts = tables === null ? [] : saved.slice(saved.length - 2);
    const dx = (): tf.Tensor => run([dy, ...ts], true, xs.shape);
    const grads: Record<string, () => tf.Tensor> = {x: dx};
    if (bs !== null) {
      // d x and d bias from one backward dispatch (plus the column sums), when the tape asks for them.
      const g = dx();
      grads['x'] = () => g;
      grads['bias'] = () => columnSumWebGPU(backend, {key: 'headsBias', inputs: [g], names: ['g'], term: 'f32(g[k])'},
          n / bs.size, bs.size);
    }
    if (tables !== null) {
      const tableGrad = (rot: boolean): tf.Tensor => {
        const pre = bs === null ? xs : tf.add(xs, tf.reshape(bs, [H, d]));
        let xr: tf.Tensor = headMajor(pre, layout, interleaved);
        if (rot) {
          const [x1, x2] = tf.split(xr, 2, 3);
          xr = tf.concat([tf.neg(x2!), x1!], 3);
        }
        return tf.sum(tf.mul(dy, xr), 1);
      };
      grads['cos'] = () => tableGrad(false);
      grads['sin'] = () => tableGrad(true);
    }
    return grads;
  }) as tf.Tensor4D;
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
  return headsKernel({x, bias: null, tables: {cos, sin}, layout, interleaved});
}

/**
 * @internal Projected heads `[B, T, H, d]` (a linear layer's output, before its bias) to head-major
 * `[B, H, T, d]`, plus `bias` `[H * d]` when given, rotated by RoPE when `tables` are given: one
 * fused dispatch each way, or null where the kernels do not apply.
 */
export function projectedHeadsWebGPU(x: tf.Tensor4D, bias: tf.Tensor1D | undefined,
    tables: {cos: tf.Tensor3D; sin: tf.Tensor3D} | null): tf.Tensor4D | null {
  return headsKernel({x, bias: bias ?? null, tables, layout: 'bthd', interleaved: false});
}

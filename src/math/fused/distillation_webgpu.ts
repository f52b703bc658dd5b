/**
 * `distillationLoss` on webgpu as fused row kernels (the composed ops run about 15 tfjs programs per
 * chunk of rows: 58 ms against PyTorch CUDA's 7 ms at [4, 512, 32000] on an H200).
 *
 * Forward, one workgroup per `[batch * time]` row: an online max / sum-exp pass over the student and
 * teacher logits (x = s / T, y = t / T) gives lse_x and lse_y; a second pass forms lq = x - lse_x,
 * lp = y - lse_y, q = e^lq, p = e^lp and sums the row's divergence D, the same terms as the composed
 * path (distillation_loss.ts): forward KL p (lp - lq), reverse KL q (lq - lp), JSD
 * beta p (lp - lm) + (1 - beta) q (lq - lm) with lm = log(beta p + (1 - beta) q) = max(lp, lq) +
 * log1p(w expm1(-|lp - lq|)). It writes D per row (0 on masked rows, whatever their logits) and
 * `[lse_x, lse_y, G, keep]` with G = sum_v q_v g_v. The loss, sum D / max(1, sum mask), is two tfjs ops.
 *
 * Backward, row segments of 1024 elements: d D / d x_v = q_v - p_v (forward KL) or q_v (g_v - G) with
 * g = lq - lp (reverse KL; G = D) or g = (1 - beta)(lq - lm) (JSD: the terms in d m / d q cancel),
 * times dy_row / T. In-kernel value checks (on by default): non-finite logits on unmasked rows and
 * mask values other than 0/1 make that row's D NaN and give the named error at the next fused call.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {
  ROW_MAIN_BY_WIDTH_WGSL, ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf, type WebGPUDirectBackend} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu distillationLoss kernels on or off (default on). */
export function setDistillationWebGPU(on: boolean): void {
  enabled = on;
}

/** @internal Divergence codes of the shaders. */
const DIVERGENCES = {'forward-kl': 0, 'reverse-kl': 1, jsd: 2} as const;
/** Elements per thread of the backward pass. */
const BWD_ITER = 4;

const PARAMS = 'struct Params { rows : u32, width : u32, divergence : u32, p0 : u32, invT : f32, beta : f32, p1 : f32, p2 : f32 };';

/** Per-element log-probs and the divergence's term and gradient factor g (see the module comment). */
const TERMS_WGSL = `
fn expm1Neg(x : f32) -> f32 {
  // e^x - 1 for x <= 0 without cancellation near 0: (e^x - 1) x / log(e^x).
  let e = exp(x);
  if (e == 1.0) { return x; }
  let em1 = e - 1.0;
  if (em1 == -1.0) { return -1.0; }
  return em1 * x / log(e);
}
fn log1pSmall(u : f32) -> f32 {
  // log(1 + u) for u in (-1, 0]: log(1 + u) u / ((1 + u) - 1).
  let w = 1.0 + u;
  if (w == 1.0) { return u; }
  return log(w) * u / (w - 1.0);
}
fn logMix(lp : f32, lq : f32, beta : f32) -> f32 {
  let d = lp - lq;
  var w = 1.0 - beta;
  if (d <= 0.0) { w = beta; }
  return max(lp, lq) + log1pSmall(w * expm1Neg(-abs(d)));
}
// vec2(term of D, g) for one element.
fn terms(lq : f32, lp : f32) -> vec2<f32> {
  let q = exp(lq);
  if (params.divergence == 0u) { return vec2<f32>(exp(lp) * (lp - lq), 0.0); }
  if (params.divergence == 1u) { return vec2<f32>(q * (lq - lp), lq - lp); }
  let lm = logMix(lp, lq, params.beta);
  let b = params.beta;
  return vec2<f32>(b * exp(lp) * (lp - lm) + (1.0 - b) * q * (lq - lm), (1.0 - b) * (lq - lm));
}`;

function forwardShader(checks: boolean): (types: string[]) => string {
  return (types) => `
${PARAMS}
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['s', types[0]!, false], ['t', types[1]!, false], ['mask', types[2]!, false], ['perRow', 'f32', true],
    ['rowStats', 'f32', true], ...(checks ? [['checkWord', 'atomic<u32>', true] as [string, string, boolean]] : [])])}
${ROW_REDUCE_WGSL}
${TERMS_WGSL}
${ROW_MAIN_BY_WIDTH_WGSL}
  let m = f32(mask[row]);
  ${checks ? 'if (lid == 0u && m != 0.0 && m != 1.0) { atomicOr(&checkWord[0], 4u); }' : ''}
  if (m == 0.0) {
    if (lid == 0u) { perRow[row] = 0.0; for (var k = 0u; k < 4u; k = k + 1u) { rowStats[row * 4u + k] = 0.0; } }
    return;
  }
  var mx = -3.4e38; var sx = 0.0; var my = -3.4e38; var sy = 0.0;
  var bad = false;
  for (var i = lid; i < params.width; i = i + ${ROW_WG}u) {
    let sv = f32(s[base + i]);
    let tv = f32(t[base + i]);
    // On the loaded bits: drivers may assume computed floats are finite (no NaN/Inf preservation).
    ${checks ? 'if (notFinite(sv)) { bad = true; } if (notFinite(tv)) { bad = true; }' : ''}
    let x = sv * params.invT;
    let y = tv * params.invT;
    if (x > mx) { sx = sx * exp(mx - x) + 1.0; mx = x; } else { sx = sx + exp(x - mx); }
    if (y > my) { sy = sy * exp(my - y) + 1.0; my = y; } else { sy = sy + exp(y - my); }
  }
  let big = rowMax4(vec4<f32>(mx, my, 0.0, 0.0), lid);
  let tot = rowSum4(vec4<f32>(sx * exp(mx - big.x), sy * exp(my - big.y), 0.0, 0.0), lid);
  let lseX = big.x + log(tot.x);
  let lseY = big.y + log(tot.y);
  var acc = vec2<f32>(0.0);
  for (var i = lid; i < params.width; i = i + ${ROW_WG}u) {
    let lq = f32(s[base + i]) * params.invT - lseX;
    let lp = f32(t[base + i]) * params.invT - lseY;
    let tg = terms(lq, lp);
    acc = acc + vec2<f32>(tg.x, exp(lq) * tg.y);
  }
  ${checks ? 'if (bad) { atomicOr(&checkWord[0], 1u); acc.x = f32NaN(); }' : ''}
  let r = rowSum4(vec4<f32>(acc, 0.0, 0.0), lid);
  if (lid == 0u) {
    perRow[row] = select(r.x, 0.0, r.x < 0.0); // D >= 0 up to rounding (the composed path's relu); NaN stays NaN
    rowStats[row * 4u] = lseX; rowStats[row * 4u + 1u] = lseY; rowStats[row * 4u + 3u] = 1.0;
    if (params.divergence == 1u) { rowStats[row * 4u + 2u] = r.x; } else { rowStats[row * 4u + 2u] = r.y; }
  }
}`;
}

function backwardShader(types: string[]): string {
  return `
${PARAMS}
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['s', types[0]!, false], ['t', types[1]!, false], ['rowStats', types[2]!, false], ['dy', types[3]!, false],
    ['grad', 'f32', true]])}
${ROW_REDUCE_WGSL}
${TERMS_WGSL}
${ROW_MAIN_WGSL}
  let row = wid.y;
  let base = row * params.width;
  let keep = rowStats[row * 4u + 3u] != 0.0;
  let lseX = rowStats[row * 4u]; let lseY = rowStats[row * 4u + 1u]; let G = rowStats[row * 4u + 2u];
  let factor = f32(dy[row]) * params.invT;
  for (var k = 0u; k < ${BWD_ITER}u; k = k + 1u) {
    let i = (wid.x * ${BWD_ITER}u + k) * ${ROW_WG}u + lidv.x;
    if (i >= params.width) { return; }
    if (!keep) { grad[base + i] = 0.0; continue; }
    let lq = f32(s[base + i]) * params.invT - lseX;
    let lp = f32(t[base + i]) * params.invT - lseY;
    let q = exp(lq);
    var g = q - exp(lp);
    if (params.divergence != 0u) { g = q * (terms(lq, lp).y - G); }
    grad[base + i] = g * factor;
  }
}`;
}

/** @internal The options the kernels take (validated by `distillationLoss`). */
export interface DistillationWebGPUOptions {
  divergence: keyof typeof DIVERGENCES;
  beta: number;
  temperature: number;
}

function forward(backend: WebGPUDirectBackend, s: tf.Tensor3D, t: tf.Tensor3D, mask: tf.Tensor2D, o: DistillationWebGPUOptions):
    {perRow: tf.Tensor1D; rowStats: tf.Tensor2D} | null {
  const [batch, time, vocab] = s.shape;
  const rows = batch * time;
  const checks = valueChecksEnabled();
  const out = runRowKernels(backend, {
    inputs: [s, t, mask], outputs: [[rows], [rows, 4]], ints: [rows, vocab, DIVERGENCES[o.divergence], 0],
    floats: [1 / o.temperature, o.beta, 0, 0],
    checkMessage: checks ? (bits) => (bits & 4) !== 0 ? `distillationLoss: 'mask' expected values in {0, 1}, got another value` :
      `distillationLoss: 'studentLogits' and 'teacherLogits' expected finite values on unmasked tokens, got NaN or Infinity` : undefined,
    dispatches: [{key: `distillFwd${+checks}`, code: forwardShader(checks), workgroups: rowGrid(rows)}],
  });
  return out === null ? null : {perRow: out[0] as tf.Tensor1D, rowStats: out[1] as tf.Tensor2D};
}

function backward(backend: WebGPUDirectBackend, s: tf.Tensor, t: tf.Tensor, rowStats: tf.Tensor, dy: tf.Tensor,
    o: DistillationWebGPUOptions): tf.Tensor {
  const [rows, vocab] = [rowStats.shape[0]!, s.shape[2]!];
  const out = runRowKernels(backend, {
    inputs: [s, t, rowStats, dy], outputs: [s.shape], ints: [rows, vocab, DIVERGENCES[o.divergence], 0],
    floats: [1 / o.temperature, o.beta, 0, 0],
    dispatches: [{key: 'distillBwd', code: backwardShader, workgroups: [Math.ceil(vocab / (ROW_WG * BWD_ITER)), rows]}],
  });
  if (out === null) throw new Error('distillationLoss: the fused webgpu backward lost its GPU buffers; use setDistillationWebGPU(false)');
  return out[0]!;
}

/**
 * @internal `distillationLoss` of validated inputs on webgpu, or null where the kernels do not apply
 * (another backend, turned off, more than 65535 rows, buffers tfjs keeps elsewhere): the caller runs
 * the composed ops then. Gradients flow to `studentLogits` only.
 */
export function distillationLossWebGPU(studentLogits: tf.Tensor3D, teacherLogits: tf.Tensor3D, mask: tf.Tensor2D,
    o: DistillationWebGPUOptions): tf.Scalar | null {
  const [batch, time] = studentLogits.shape;
  if (!enabled || batch * time > 65535 || lazyGradientsAdapterMissing().length > 0) return null;
  const backend = rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [studentLogits, teacherLogits, mask]) === null) return null;
  return tf.tidy(() => {
    const perRow = tf.engine().isTapeOn()
      ? runWithLazyGradients({studentLogits}, (save) => {
        const r = forward(backend, studentLogits, teacherLogits, mask, o)!;
        // The backward reads the logits again: saved, since an enclosing tidy may dispose them.
        save([r.rowStats, studentLogits, teacherLogits]);
        return r.perRow;
      }, (dy, saved) => ({
        studentLogits: () => backward(backend, saved[1]!, saved[2]!, saved[0]!, dy, o),
      }))
      : forward(backend, studentLogits, teacherLogits, mask, o)!.perRow; // rowStats: disposed by the tidy
    const count = tf.maximum(tf.sum(tf.cast(mask, 'float32')), 1);
    return tf.div(tf.sum(perRow), count) as tf.Scalar;
  });
}

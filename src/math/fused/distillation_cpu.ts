/**
 * `distillationLoss` on the `cpu` and `wasm` backends as a JavaScript loop over the rows (the chunked
 * tfjs ops run about 20 ops per chunk forward and as many backward: 457 ms at [1, 16, 32000] on wasm
 * on this project's 2-core machine).
 *
 * Per `[batch * time]` row with mask 1 (masked rows are skipped: they add 0, whatever their logits):
 * x = s / T and y = t / T, lse by max-shifted sums in float64, lq = x - lse_x, lp = y - lse_y, then the
 * row's divergence D (forward KL sum p (lp - lq), reverse KL sum q (lq - lp), JSD beta sum p (lp - lm)
 * + (1 - beta) sum q (lq - lm), lm = log(beta p + (1 - beta) q), shifted by max(lp, lq) where it could underflow)
 * and G = sum q g (g = lq - lp for reverse KL, (1 - beta)(lq - lm) for the JSD). The loss is
 * sum max(0, D) / max(1, sum mask) (D >= 0 up to rounding). The gradient, computed only when the tape asks for it, is
 * dy / (T count) times q - p (forward KL) or q (g - G): the formulas of the composed path
 * (distillation_loss.ts) and of the webgpu kernels (distillation_webgpu.ts).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {fmtShape} from '../assert.js';
import {fastExp} from './fast_exp.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {isCpuLoopBackend, rowMaxLogSum} from './log_probs_cpu.js';
import {type NumericArray, valuesInPlace} from './wasm_backend_adapter.js';

let enabled = true;

/** @internal Turns the cpu/wasm distillationLoss loop on or off (default on; off: the chunked tfjs ops). */
export function setDistillationCpu(on: boolean): void {
  enabled = on;
}

type Divergence = 'forward-kl' | 'reverse-kl' | 'jsd';
/**
 * log(beta p + (1 - beta) q) for p = e^lp, q = e^lq: exactly lq when lp = lq; one `log` of the sum
 * while it cannot underflow (float64), else the shifted form max + log1p(w expm1(-|lp - lq|)).
 */
function logMix(lp: number, lq: number, p: number, q: number, beta: number): number {
  if (lp === lq) return lq;
  if (lp > -700 || lq > -700) return Math.log(beta * p + (1 - beta) * q);
  const d = lp - lq;
  return d <= 0 ? lq + Math.log1p(beta * Math.expm1(d)) : lp + Math.log1p((1 - beta) * Math.expm1(-d));
}

/** Per row: lse_x, lse_y and G (NaN on masked rows: they are skipped). */
interface RowStats {lseX: Float64Array; lseY: Float64Array; g: Float64Array}

function rowLse(v: NumericArray, base: number, vocab: number, invT: number): number {
  const [m, logSum] = rowMaxLogSum(v, base, vocab, invT);
  return m + logSum;
}

function forward(s: NumericArray, t: NumericArray, mask: NumericArray, rows: number, vocab: number,
    divergence: Divergence, beta: number, invT: number): {total: number; count: number; stats: RowStats} {
  const stats: RowStats = {lseX: new Float64Array(rows), lseY: new Float64Array(rows), g: new Float64Array(rows)};
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    count += mask[r]!;
    if (mask[r] === 0) continue;
    const base = r * vocab;
    const lseX = rowLse(s, base, vocab, invT);
    const lseY = rowLse(t, base, vocab, invT);
    let d = 0;
    let g = 0;
    for (let i = 0; i < vocab; i++) {
      const lq = s[base + i]! * invT - lseX;
      const lp = t[base + i]! * invT - lseY;
      if (divergence === 'forward-kl') {
        d += fastExp(lp) * (lp - lq);
      } else if (divergence === 'reverse-kl') {
        d += fastExp(lq) * (lq - lp);
      } else {
        const q = fastExp(lq);
        const p = fastExp(lp);
        const lm = logMix(lp, lq, p, q, beta);
        d += beta * p * (lp - lm) + (1 - beta) * q * (lq - lm);
        g += q * (1 - beta) * (lq - lm);
      }
    }
    stats.lseX[r] = lseX;
    stats.lseY[r] = lseY;
    stats.g[r] = divergence === 'reverse-kl' ? d : g;
    total += Math.max(0, d); // D >= 0; rounding can leave -1e-44 (the composed path's relu; NaN stays NaN)
  }
  return {total, count, stats};
}

function gradient(s: NumericArray, t: NumericArray, mask: NumericArray, rows: number, vocab: number,
    divergence: Divergence, beta: number, invT: number, stats: RowStats, factor: number): Float32Array {
  const out = new Float32Array(rows * vocab); // masked rows stay 0
  for (let r = 0; r < rows; r++) {
    if (mask[r] === 0) continue;
    const base = r * vocab;
    const [lseX, lseY, G] = [stats.lseX[r]!, stats.lseY[r]!, stats.g[r]!];
    for (let i = 0; i < vocab; i++) {
      const lq = s[base + i]! * invT - lseX;
      const lp = t[base + i]! * invT - lseY;
      const q = fastExp(lq);
      const gi = divergence === 'forward-kl' ? q - fastExp(lp)
        : q * ((divergence === 'reverse-kl' ? lq - lp : (1 - beta) * (lq - logMix(lp, lq, fastExp(lp), q, beta))) - G);
      out[base + i] = gi * factor;
    }
  }
  return out;
}

/** @internal Whether {@link distillationLossCpu} serves the active backend (then it runs the value checks itself). */
export function distillationCpuApplies(): boolean {
  return enabled && isCpuLoopBackend();
}

/**
 * The value checks of `distillationLoss` in one pass (the composed path's tfjs-op checks cost 5 to 10
 * times the loss here): mask values in {0, 1}, then finite student and teacher logits on unmasked
 * rows, with the composed path's messages.
 */
function checkValues(s: NumericArray, t: NumericArray, mask: NumericArray, rows: number, vocab: number, shape: number[]): void {
  for (let r = 0; r < rows; r++) {
    const m = mask[r]!;
    if (m !== 0 && m !== 1) {
      throw new Error(`distillationLoss: 'mask' expected values in {0, 1}, got ${m} (shape ${fmtShape(shape)})`);
    }
  }
  for (const [v, name] of [[s, 'studentLogits'], [t, 'teacherLogits']] as const) {
    for (let r = 0; r < rows; r++) {
      if (mask[r] === 0) continue;
      let bad = 0;
      for (let i = r * vocab, end = i + vocab; i < end; i++) bad += v[i]! - v[i]!; // NaN for NaN and +-Infinity
      if (bad !== 0) throw new Error(`distillationLoss: '${name}' expected finite values on unmasked tokens, got NaN or Infinity`);
    }
  }
}

/**
 * @internal `distillationLoss` of shape-validated inputs on `cpu` / `wasm`, or null where
 * {@link distillationCpuApplies} is false. With `checks`, runs the value checks first (named errors).
 * Gradients flow to `studentLogits` only.
 */
export function distillationLossCpu(studentLogits: tf.Tensor3D, teacherLogits: tf.Tensor3D, mask: tf.Tensor2D,
    o: {divergence: Divergence; beta: number; temperature: number; checks: boolean}): tf.Scalar | null {
  if (!distillationCpuApplies()) return null;
  const [batch, time, vocab] = studentLogits.shape;
  const rows = batch * time;
  const invT = 1 / o.temperature;
  if (o.checks) checkValues(valuesInPlace(studentLogits), valuesInPlace(teacherLogits), valuesInPlace(mask), rows, vocab, mask.shape);
  const run = (s: tf.Tensor, t: tf.Tensor, m: tf.Tensor) =>
    forward(valuesInPlace(s), valuesInPlace(t), valuesInPlace(m), rows, vocab, o.divergence, o.beta, invT);
  if (!tf.engine().isTapeOn()) {
    const {total, count} = run(studentLogits, teacherLogits, mask);
    return tf.scalar(total / Math.max(1, count));
  }
  let stats: RowStats | null = null;
  let count = 0;
  return runWithLazyGradients({studentLogits}, (save) => {
    const r = run(studentLogits, teacherLogits, mask);
    stats = r.stats;
    count = r.count;
    // The backward reads the logits and the mask again: saved, since an enclosing tidy may dispose them.
    save([studentLogits, teacherLogits, mask]);
    return tf.scalar(r.total / Math.max(1, count));
  }, (dy, saved) => ({
    studentLogits: () => {
      const [s, t, m] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const factor = dy.dataSync()[0]! * invT / Math.max(1, count);
      return tf.tensor(gradient(valuesInPlace(s), valuesInPlace(t), valuesInPlace(m), rows, vocab, o.divergence, o.beta, invT, stats!, factor),
          [batch, time, vocab]);
    },
  })) as tf.Scalar;
}

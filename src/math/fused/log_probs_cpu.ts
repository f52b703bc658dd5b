/**
 * `tokenLogProbs` and `entropyFromLogits` on the `cpu` and `wasm` backends as JavaScript loops over the
 * rows (the chunked tfjs ops take 1.8-2.6 s for fwd+bwd at [1, 64, 32000] on the cpu backend of this
 * project's 2-core machine, PyTorch CPU 12-20 ms; on wasm 114-172 ms).
 *
 * Per `[batch * time]` row, z = logits / T: max and log-sum-exp in float64 (max-shifted, so logits of
 * +-1000 are exact), log p = (z_y - max) - log sum_v e^(z_v - max). The gradient, computed only when
 * the tape asks for it, is (onehot(y) - softmax(z)) dy / T, the composed path's formula
 * (token_log_probs.ts `chunkLogProbsGrad`), with the softmax recomputed from the saved max and sum.
 * The entropy: H = max + log S - E_p[z] (S = sum_v e^(z_v - max)); dH/dz_v = p_v (E_p[z] - z_v),
 * times dy / T (entropy_from_logits.ts).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFiniteValues, valueChecksEnabled} from '../assert.js';
import {fastExp} from './fast_exp.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {type NumericArray, valuesInPlace} from './wasm_backend_adapter.js';

let enabled = true;

/** @internal Turns the cpu/wasm tokenLogProbs and entropyFromLogits loops on or off (default on; off: the chunked tfjs ops). */
export function setLogProbsCpu(on: boolean): void {
  enabled = on;
}

/** @internal Whether the active backend is one the JavaScript loops serve (`cpu`, `wasm`; also distillation_cpu.ts). */
export function isCpuLoopBackend(): boolean {
  const name = tf.getBackend();
  return name === 'cpu' || name === 'wasm';
}

/**
 * @internal Max and log sum_v e^(z_v - max) of z = x[base .. base + vocab) * invT, in float64: the
 * row statistics of every loop here and of distillation_cpu.ts.
 */
export function rowMaxLogSum(x: NumericArray, base: number, vocab: number, invT: number): [max: number, logSum: number] {
  let m = -Infinity;
  for (let i = 0; i < vocab; i++) { const z = x[base + i]! * invT; if (z > m) m = z; }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += fastExp(x[base + i]! * invT - m);
  return [m, Math.log(sum)];
}

/** Row max and log-sum-exp (of z - max) of `[rows, vocab]` logits times `invT`. */
function rowStats(x: NumericArray, rows: number, vocab: number, invT: number): {max: Float64Array; logSum: Float64Array} {
  const max = new Float64Array(rows);
  const logSum = new Float64Array(rows);
  for (let r = 0; r < rows; r++) [max[r], logSum[r]] = rowMaxLogSum(x, r * vocab, vocab, invT);
  return {max, logSum};
}

/** Under value checks: every logit finite (`fn` names the public function), one pass over the values. */
function checkLogits(logits: tf.Tensor, fn: string): void {
  if (valueChecksEnabled()) assertFiniteValues(valuesInPlace(logits), fn, 'logits', logits.shape);
}

/**
 * @internal `tokenLogProbs` of validated inputs (tokens int32 in [0, vocab)) on `cpu` / `wasm`, or null
 * on other backends or when turned off; checks the logits are finite first (value checks; errors name
 * `fn`). Gradients flow to `logits` (tokens get zeros).
 */
export function tokenLogProbsCpu(logits: tf.Tensor3D, tokens: tf.Tensor2D, temperature: number, fn = 'tokenLogProbs'):
    tf.Tensor2D | null {
  if (!enabled || !isCpuLoopBackend()) return null;
  checkLogits(logits, fn);
  const [batch, time, vocab] = logits.shape;
  const rows = batch * time;
  const invT = 1 / temperature;
  const forward = (): {value: Float32Array; max: Float64Array; logSum: Float64Array} => {
    const tok = tokens.dataSync();
    const x = valuesInPlace(logits);
    const s = rowStats(x, rows, vocab, invT);
    const value = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const y = tok[r]!;
      // Out-of-range ids (value checks off) give NaN, as they never index another row.
      value[r] = y >= 0 && y < vocab ? (x[r * vocab + y]! * invT - s.max[r]!) - s.logSum[r]! : NaN;
    }
    return {value, ...s};
  };
  if (!tf.engine().isTapeOn()) return tf.tensor2d(forward().value, [batch, time]);
  let stats: {max: Float64Array; logSum: Float64Array} | null = null;
  return runWithLazyGradients({logits, tokens}, (save) => {
    const f = forward();
    stats = f;
    // The backward reads the logits again: saved, since an enclosing tidy may dispose them.
    save([logits, tokens]);
    return tf.tensor2d(f.value, [batch, time]);
  }, (dy, saved) => ({
    logits: () => {
      const [lg, tk] = saved as [tf.Tensor, tf.Tensor];
      const d = dy.dataSync();
      const tok = tk.dataSync();
      const x = valuesInPlace(lg);
      const {max, logSum} = stats!;
      const grad = new Float32Array(rows * vocab);
      for (let r = 0; r < rows; r++) {
        const base = r * vocab;
        const scale = d[r]! * invT;
        if (scale === 0) continue;
        const shift = max[r]! + logSum[r]!;
        for (let i = 0; i < vocab; i++) grad[base + i] = -fastExp(x[base + i]! * invT - shift) * scale;
        const y = tok[r]!;
        if (y >= 0 && y < vocab) grad[base + y] = grad[base + y]! + scale;
      }
      return tf.tensor3d(grad, [batch, time, vocab]);
    },
    tokens: () => tf.zeros(tokens.shape, 'float32'),
  })) as tf.Tensor2D;
}

/**
 * @internal `entropyFromLogits` of validated logits on `cpu` / `wasm`, or null on other backends or
 * when turned off; checks the logits are finite first (value checks).
 */
export function entropyFromLogitsCpu(logits: tf.Tensor3D, temperature: number): tf.Tensor2D | null {
  if (!enabled || !isCpuLoopBackend()) return null;
  checkLogits(logits, 'entropyFromLogits');
  const [batch, time, vocab] = logits.shape;
  const rows = batch * time;
  const invT = 1 / temperature;
  const forward = (): {value: Float32Array; max: Float64Array; sum: Float64Array; mean: Float64Array} => {
    const x = valuesInPlace(logits);
    const value = new Float32Array(rows);
    const [max, sum, mean] = [new Float64Array(rows), new Float64Array(rows), new Float64Array(rows)];
    for (let r = 0; r < rows; r++) {
      const base = r * vocab;
      let m = -Infinity;
      for (let i = 0; i < vocab; i++) { const z = x[base + i]! * invT; if (z > m) m = z; }
      let s = 0;
      let sz = 0;
      for (let i = 0; i < vocab; i++) { const z = x[base + i]! * invT; const e = fastExp(z - m); s += e; sz += e * z; }
      max[r] = m;
      sum[r] = s;
      mean[r] = sz / s; // E_p[z]
      value[r] = m + Math.log(s) - mean[r]!;
    }
    return {value, max, sum, mean};
  };
  if (!tf.engine().isTapeOn()) return tf.tensor2d(forward().value, [batch, time]);
  let stats: {max: Float64Array; sum: Float64Array; mean: Float64Array} | null = null;
  return runWithLazyGradients({logits}, (save) => {
    const f = forward();
    stats = f;
    save([logits]);
    return tf.tensor2d(f.value, [batch, time]);
  }, (dy, saved) => ({
    logits: () => {
      const d = dy.dataSync();
      const x = valuesInPlace(saved[0]!);
      const {max, sum, mean} = stats!;
      const grad = new Float32Array(rows * vocab);
      for (let r = 0; r < rows; r++) {
        const base = r * vocab;
        const scale = d[r]! * invT;
        if (scale === 0) continue;
        const [m, inv, e] = [max[r]!, 1 / sum[r]!, mean[r]!];
        for (let i = 0; i < vocab; i++) {
          const z = x[base + i]! * invT;
          grad[base + i] = fastExp(z - m) * inv * (e - z) * scale;
        }
      }
      return tf.tensor3d(grad, [batch, time, vocab]);
    },
  })) as tf.Tensor2D;
}

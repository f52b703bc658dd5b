/**
 * `pairwiseRewardLoss` on the `cpu` and `wasm` backends as one JavaScript loop over the pairs (the
 * composed ops run about 20 tiny tfjs programs and three value-check read-backs: 2.2 ms on cpu and
 * 0.73 ms on wasm at 4096 pairs on this project's 2-core machine, PyTorch CPU 0.06 ms).
 *
 * Per pair i: gap_i = c_i - r_i - m_i, L = (1/n) sum_i softplus(-gap_i) + coef (1/n) sum_i (c_i + r_i)^2
 * with softplus(x) = max(x, 0) + log1p(e^-|x|) (float64 sums). The gradient, computed only when the
 * tape asks for it (from sigmoid(-gap_i) and c_i + r_i kept from the forward pass): d L / d c_i = (-sigmoid(-gap_i) + 2 coef (c_i + r_i)) / n, d L / d r_i =
 * (sigmoid(-gap_i) + 2 coef (c_i + r_i)) / n, d L / d m_i = sigmoid(-gap_i) / n, times dy: the
 * formulas of the composed path (pairwise_reward_loss.ts). The value checks (finite rewards and
 * margin) run in the same pass, with the composed path's messages.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFiniteValues, valueChecksEnabled} from '../assert.js';
import {fastExp} from './fast_exp.js';
import {isCpuLoopBackend} from './log_probs_cpu.js';
import {runWithLazyGradients} from './run_with_lazy_gradients.js';
import {type NumericArray, valuesInPlace} from './wasm_backend_adapter.js';

let enabled = true;

/** @internal Turns the cpu/wasm pairwiseRewardLoss loop on or off (default on; off: the composed ops). */
export function setPairwiseCpu(on: boolean): void {
  enabled = on;
}

/** The margin of pair i: a tensor's values or one number. */
type Margin = NumericArray | number;
const marginAt = (m: Margin, i: number): number => (typeof m === 'number' ? m : m[i]!);

/**
 * @internal `pairwiseRewardLoss` of shape- and dtype-validated inputs on `cpu` / `wasm`, or null on
 * other backends or when turned off. Runs the value checks first (finite rewards and margin; errors
 * name `fn`). Gradients flow to both rewards and to a tensor margin.
 */
export function pairwiseRewardLossCpu(chosen: tf.Tensor1D, rejected: tf.Tensor1D, margin: number | tf.Tensor1D,
    centerCoefficient: number, fn: string): tf.Scalar | null {
  if (!enabled || !isCpuLoopBackend()) return null;
  const n = chosen.shape[0];
  const read = (c: tf.Tensor, r: tf.Tensor, m: tf.Tensor | number) =>
    [valuesInPlace(c), valuesInPlace(r), typeof m === 'number' ? m : valuesInPlace(m)] as const;
  if (valueChecksEnabled()) {
    const [c, r, m] = read(chosen, rejected, margin);
    assertFiniteValues(c, fn, 'chosenRewards', chosen.shape);
    assertFiniteValues(r, fn, 'rejectedRewards', rejected.shape);
    if (typeof m !== 'number') assertFiniteValues(m, fn, 'margin', [n]);
  }
  /** The loss and, per pair, sigmoid(-gap_i) (e = e^-|gap| once: softplus(-gap) = max(-gap, 0) + log1p(e)). */
  const forward = (): {loss: number; sig: Float64Array; sum: Float64Array} => {
    const [c, r, m] = read(chosen, rejected, margin);
    const sig = new Float64Array(n);
    const sum = new Float64Array(n);
    let sp = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const gap = c[i]! - r[i]! - marginAt(m, i);
      const e = fastExp(-Math.abs(gap));
      sp += Math.max(-gap, 0) + Math.log1p(e);
      sig[i] = gap >= 0 ? e / (1 + e) : 1 / (1 + e);
      const t = c[i]! + r[i]!;
      sum[i] = t;
      sq += t * t;
    }
    return {loss: sp / n + (centerCoefficient > 0 ? centerCoefficient * (sq / n) : 0), sig, sum};
  };
  if (!tf.engine().isTapeOn()) return tf.scalar(forward().loss);
  const inputs: Record<string, tf.Tensor> = {chosenRewards: chosen, rejectedRewards: rejected};
  if (typeof margin !== 'number') inputs['margin'] = margin;
  // Per pair sigmoid(-gap) and c + r from the forward pass (n numbers each; the inputs are immutable).
  let stats: {sig: Float64Array; sum: Float64Array} | null = null;
  const grad = (dy: tf.Tensor, sign: -1 | 1 | 0): tf.Tensor1D => {
    const {sig, sum} = stats!;
    const scale = dy.dataSync()[0]! / n;
    const center = sign === 0 ? 0 : 2 * centerCoefficient;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (sign * sig[i]! + (sign === 0 ? sig[i]! : center * sum[i]!)) * scale;
    return tf.tensor1d(out);
  };
  return runWithLazyGradients(inputs, () => {
    const f = forward();
    stats = f;
    return tf.scalar(f.loss);
  }, (dy) => ({
    chosenRewards: () => grad(dy, -1),
    rejectedRewards: () => grad(dy, 1),
    margin: () => grad(dy, 0),
  })) as tf.Scalar;
}

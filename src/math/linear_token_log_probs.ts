/**
 * Token log-probabilities straight from the last hidden states and the LM-head weight, computing
 * the logits chunk by chunk so that the full `[batch, time, vocab]` logits tensor never exists.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFinite, assertKnownOptions, assertRank, assertShape, check, fmtShape, syncValueChecksEnabled} from './assert.js';
import {
  anyFlagSet, assertTokensInVocab, chunkLogProbs, chunkLogProbsGrad, chunkNotFinite, joinChunks, readChunkOptions,
} from './token_log_probs.js';

/** Options of {@link linearTokenLogProbs}. */
export interface LinearTokenLogProbsOptions {
  /** Divide the logits by this first (the sampling temperature); default `1`. Must be > 0. */
  temperature?: number;
  /**
   * Rows of the flattened `[batch * time]` axis whose logits are computed at once (forward and
   * backward); peak extra memory is a few `[chunkSize, vocab]` tensors. Default
   * `max(1, floor(4194304 / vocab))`; any integer >= 1.
   */
  chunkSize?: number;
  /**
   * `false` (default): `weight` is `[hidden, vocab]` (logits = hidden @ weight, the layout of a
   * tfjs dense kernel). `true`: `weight` is `[vocab, hidden]` (logits = hidden @ weight^T, the
   * layout of an embedding matrix, for tied input/output embeddings and PyTorch `nn.Linear`).
   */
  transposeWeight?: boolean;
}

/**
 * Reads the chunks' non-finite flags back (one read); when one is set, names the input with a NaN or
 * ±Infinity (the `assertFinite` error), or says the logits overflowed when both are finite.
 */
function throwIfLogitsNotFinite(flags: tf.Scalar[], hidden: tf.Tensor, weight: tf.Tensor, fn: string): void {
  if (!anyFlagSet(flags)) return;
  assertFinite(hidden, fn, 'hidden');
  assertFinite(weight, fn, 'weight');
  throw new Error(`${fn}: the logits 'hidden' @ 'weight' expected finite values, got NaN or Infinity ` +
      `(float32 overflow; shapes ${fmtShape(hidden.shape)} and ${fmtShape(weight.shape)})`);
}

/**
 * Log-probability of each chosen token from hidden states and the LM-head weight, without ever
 * materialising the `[batch, time, vocab]` logits (forward or backward).
 *
 * $$\log p_{b,t} = z_{y_{b,t}} - \log \sum_v e^{z_v}, \qquad z = h_{b,t} W / \tau$$
 * ($h$ = `hidden`, $W$ = `weight`, $y$ = `tokens`, $\tau$ = `temperature`).
 * Same values and gradients as `tokenLogProbs(tf.matMul(hidden, W), tokens)`, but the rows of the
 * flattened `[batch * time]` axis are processed in chunks of `chunkSize` inside `tf.customGrad`:
 * the forward keeps only the inputs and two `[batch * time]` vectors (row max, log-sum-exp); the backward recomputes each
 * chunk's logits and softmax, G = (onehot(token) - softmax(z)) * dy / temperature, and accumulates
 * d hidden = G @ W^T and d W = hidden^T @ G chunk by chunk. The idea behind Liger-Kernel's fused
 * linear cross-entropy (Hsu et al. 2024, arXiv:2410.10989), written with plain tfjs ops. The largest
 * intermediates are `[chunkSize, vocab]` and the `[hidden, vocab]` weight gradient.
 *
 * @param hidden `[batch, time, hidden]` float32 final hidden states (after the last norm).
 * @param weight `[hidden, vocab]` float32 LM-head weight, or `[vocab, hidden]` with
 *   `transposeWeight: true`. No bias (LM heads of current models have none).
 * @param tokens `[batch, time]` int32 chosen token ids, each in [0, vocab).
 * @param options.temperature divide the logits by this first; default `1`.
 * @param options.chunkSize rows of `[batch * time]` per chunk; default `max(1, floor(4194304 / vocab))`.
 * @param options.transposeWeight `weight` is `[vocab, hidden]`; default `false`.
 * @returns `[batch, time]` float32 log-probabilities (<= 0).
 * @throws on wrong ranks, shapes or dtypes, token ids outside [0, vocab), NaN or ±Infinity in
 *   `hidden` or `weight` (or logits that overflow), or bad options. The finiteness check is a value
 *   check on the logits of each chunk, one flag per chunk and one read (skipped when value checks
 *   are off); on a failure it names the tensor that holds the bad value.
 * @example
 * const hidden = tf.randomNormal([2, 8, 16]) as tf.Tensor3D;
 * const weight = tf.randomNormal([16, 100]) as tf.Tensor2D;
 * const tokens = tf.randomUniformInt([2, 8], 0, 100) as tf.Tensor2D;
 * const logp = linearTokenLogProbs(hidden, weight, tokens, {chunkSize: 4}); // [2, 8]
 */
export function linearTokenLogProbs(
    hidden: tf.Tensor3D, weight: tf.Tensor2D, tokens: tf.Tensor2D,
    options: LinearTokenLogProbsOptions = {}): tf.Tensor2D {
  const fn = 'linearTokenLogProbs';
  assertKnownOptions(options, ['temperature', 'chunkSize', 'transposeWeight'], fn);
  const {transposeWeight = false} = options;
  check(typeof transposeWeight === 'boolean', fn, () =>
    `'transposeWeight' expected a boolean, got ${String(transposeWeight)}`);
  assertRank(hidden, 3, fn, 'hidden', ['batch', 'time', 'hidden'], 'float32');
  const [batch, time, width] = hidden.shape;
  const axes = transposeWeight ? ['vocab', 'hidden'] : ['hidden', 'vocab'];
  assertRank(weight, 2, fn, 'weight', axes, 'float32');
  const vocab = transposeWeight ? weight.shape[0] : weight.shape[1];
  const weightHidden = transposeWeight ? weight.shape[1] : weight.shape[0];
  check(weightHidden === width, fn, () =>
    `'weight' expected shape [${axes.join(', ')}] with hidden=${width} (from 'hidden' ` +
    `${fmtShape(hidden.shape)}), got ${fmtShape(weight.shape)}` +
    (weight.shape[transposeWeight ? 0 : 1] === width ? '; pass transposeWeight to flip the layout' : ''));
  check(vocab > 0, fn, () => `'weight' expected a vocab axis of size >= 1, got ${fmtShape(weight.shape)}`);
  assertShape(tokens, [batch, time], fn, 'tokens', ['batch', 'time']);
  assertTokensInVocab(tokens, vocab, fn, `'weight' ${fmtShape(weight.shape)}`);
  const {temperature, chunkSize} = readChunkOptions(options, vocab, fn);
  const rows = batch * time;

  /** Logits of rows [start, start + n) of h2 `[rows, hidden]`, divided by the temperature. */
  const chunkLogits = (h2: tf.Tensor2D, w: tf.Tensor2D, start: number, n: number): tf.Tensor2D => {
    const z = tf.matMul(tf.slice(h2, [start, 0], [n, width]), w, false, transposeWeight) as tf.Tensor2D;
    return temperature === 1 ? z : (tf.div(z, temperature) as tf.Tensor2D);
  };

  if (rows === 0) return tf.zeros([batch, time]);
  const checks = syncValueChecksEnabled();
  return tf.tidy(() => {
    const flatTokens = tf.reshape(tokens, [rows]) as tf.Tensor1D;
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [h, w, save] = args as [tf.Tensor, tf.Tensor2D, tf.GradSaveFunc];
      const h2 = tf.reshape(h, [rows, width]) as tf.Tensor2D;
      const logps: tf.Tensor1D[] = [];
      const maxes: tf.Tensor1D[] = [];
      const logSums: tf.Tensor1D[] = [];
      const flags: tf.Scalar[] = [];
      for (let start = 0; start < rows; start += chunkSize) {
        const n = Math.min(chunkSize, rows - start);
        const [logp, max, logSum, flag] = tf.tidy(() => {
          const z = chunkLogits(h2, w, start, n);
          return [...chunkLogProbs(z, tf.slice(flatTokens, [start], [n])), ...(checks ? [chunkNotFinite(z)] : [])];
        });
        logps.push(logp!);
        maxes.push(max!);
        logSums.push(logSum!);
        if (flag !== undefined) flags.push(flag as tf.Scalar);
      }
      if (checks) throwIfLogitsNotFinite(flags, h, w, fn);
      save([h, w, joinChunks(maxes), joinChunks(logSums), flatTokens]);
      const value = tf.reshape(joinChunks(logps), [batch, time]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [hs, ws, maxAll, logSumAll, tok] =
            saved as [tf.Tensor, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const hs2 = tf.reshape(hs, [rows, width]) as tf.Tensor2D;
        const dyFlat = tf.reshape(dy, [rows]) as tf.Tensor1D;
        const dHidden: tf.Tensor2D[] = [];
        let dWeight: tf.Tensor2D | undefined;
        for (let start = 0; start < rows; start += chunkSize) {
          const n = Math.min(chunkSize, rows - start);
          const [dh, dw] = tf.tidy(() => {
            const g = chunkLogProbsGrad(chunkLogits(hs2, ws, start, n), tf.slice(tok, [start], [n]),
                tf.slice(maxAll, [start], [n]), tf.slice(logSumAll, [start], [n]),
                tf.div(tf.slice(dyFlat, [start], [n]), temperature));
            const hc = tf.slice(hs2, [start, 0], [n, width]);
            // W [hidden, vocab]: dh = G W^T, dW = h^T G.  W [vocab, hidden]: dh = G W, dW = G^T h.
            const dhc = tf.matMul(g, ws, false, !transposeWeight);
            const dwc = transposeWeight ? tf.matMul(g, hc, true, false) : tf.matMul(hc, g, true, false);
            g.dispose();
            if (dWeight === undefined) return [dhc, dwc] as [tf.Tensor2D, tf.Tensor2D];
            const sum = tf.add(dWeight, dwc);
            dWeight.dispose();
            return [dhc, sum] as [tf.Tensor2D, tf.Tensor2D];
          });
          dWeight = dw;
          dHidden.push(dh);
        }
        return [tf.reshape(joinChunks(dHidden), [batch, time, width]), dWeight!];
      };
      return {value, gradFunc};
    });
    return op(hidden, weight) as tf.Tensor2D;
  });
}

/**
 * Per-token log-probabilities of chosen tokens under softmax(logits / temperature), computed chunk by
 * chunk so that no full-size log-softmax (forward) or softmax (backward) tensor is ever held.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {tokenLogProbsCpu} from './fused/log_probs_cpu.js';
import {logProbsWebGPUBackend, tokenLogProbsWebGPU} from './fused/log_probs_webgpu.js';
import {ensureWebGPUFastPaths} from './fused/webgpu_fast_paths.js';
import {
  assertDtype, assertFinite, assertKnownOptions, assertNumber, assertRank, assertShape, check, fmtShape, syncValueChecksEnabled,
} from './assert.js';

/** Options of {@link tokenLogProbs}. */
export interface TokenLogProbsOptions {
  /**
   * Sampling temperature; the log-probs are those of softmax(logits / temperature), as the sampler
   * used. Default `1`. Must be > 0.
   */
  temperature?: number;
  /**
   * Rows of the flattened `[batch * time]` axis processed at once (forward and backward). Default
   * `max(1, floor(4194304 / vocab))`, about 16 MiB of float32 logits per chunk. Any integer >= 1; it
   * does not need to divide `batch * time`.
   */
  chunkSize?: number;
}

/** @internal Default rows per chunk: about 4 Mi logits (16 MiB float32) per chunk. */
export function defaultChunkRows(vocab: number): number {
  return Math.max(1, Math.floor(4_194_304 / Math.max(vocab, 1)));
}

/** @internal Validates `chunkSize` and `temperature` options shared by the log-prob functions. */
export function readChunkOptions(
    options: {temperature?: number; chunkSize?: number}, vocab: number, fn: string): {temperature: number; chunkSize: number} {
  const {temperature = 1, chunkSize = defaultChunkRows(vocab)} = options;
  assertNumber(temperature, fn, 'temperature', {min: 0, minExclusive: true});
  assertNumber(chunkSize, fn, 'chunkSize', {min: 1, integer: true});
  return {temperature, chunkSize};
}

/**
 * @internal Asserts `tokens` is an int32 tensor with values in [0, vocab) (the range part is a value
 * check, skipped when value checks are off). `vocabFrom` names where the vocabulary size comes from.
 */
export function assertTokensInVocab(tokens: tf.Tensor, vocab: number, fn: string, vocabFrom: string, name = 'tokens'): void {
  assertDtype(tokens, 'int32', fn, name);
  if (!syncValueChecksEnabled() || tokens.size === 0) return;
  const bad = tf.tidy(() => tf.any(tf.logicalOr(tf.less(tokens, 0), tf.greaterEqual(tokens, vocab))));
  const isBad = bad.dataSync()[0] !== 0;
  bad.dispose();
  if (!isBad) return;
  const data = tokens.dataSync();
  let index = 0;
  while (index < data.length && data[index]! >= 0 && data[index]! < vocab) index++;
  throw new Error(`${fn}: '${name}' expected values in [0, ${vocab}) (vocab size from ${vocabFrom}), ` +
      `got ${data[index]} at flat index ${index} (shape ${fmtShape(tokens.shape)})`);
}

/** @internal Whether a chunk of logits holds a NaN or an infinity (a bool scalar; one chunk-size temporary). */
export function chunkNotFinite(x: tf.Tensor): tf.Scalar {
  return tf.any(tf.logicalNot(tf.isFinite(x)));
}

/**
 * @internal Reads the chunks' {@link chunkNotFinite} flags back (one read) and, when one is set, throws
 * {@link assertFinite}'s error for `logits`: the chunked paths' finiteness value check, no full-size temporary.
 */
export function throwIfNotFinite(flags: tf.Scalar[], logits: tf.Tensor, fn: string): void {
  if (anyFlagSet(flags)) assertFinite(logits, fn, 'logits');
}

/** @internal Whether any of the chunks' {@link chunkNotFinite} flags is set: one read; disposes the flags. */
export function anyFlagSet(flags: tf.Scalar[]): boolean {
  if (flags.length === 0) return false;
  const any = tf.tidy(() => tf.any(tf.stack(flags)));
  const bad = any.dataSync()[0] !== 0;
  tf.dispose([any, ...flags]);
  return bad;
}

/**
 * @internal Log-softmax of the chosen entries of one chunk: `x` `[n, vocab]` already divided by the
 * temperature, `tok` `[n]` int32. Returns `[logp, max, logSum]`, each `[n]`, with
 * logp = (x[tok] - max) - logSum and logSum = log sum_v exp(x_v - max). Subtracting the max before
 * anything else keeps logits of ±1000 exact (x[tok] - max is exact when they are close).
 */
export function chunkLogProbs(x: tf.Tensor2D, tok: tf.Tensor1D): [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D] {
  const [n, vocab] = x.shape;
  const max = tf.max(x, 1, true);
  const shifted = tf.sub(x, max);
  const logSum = tf.log(tf.sum(tf.exp(shifted), 1)) as tf.Tensor1D;
  const flatIndex = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), tok);
  const picked = tf.gather(tf.reshape(shifted, [n * vocab]), flatIndex) as tf.Tensor1D;
  return [tf.sub(picked, logSum), tf.reshape(max, [n]) as tf.Tensor1D, logSum];
}

/**
 * @internal d logp / d x for one chunk times the upstream gradient: (onehot(tok) - softmax(x)) * dy,
 * with the softmax recomputed from the saved row max and log-sum. `x` `[n, vocab]`; `max`,
 * `logSum`, `dy` `[n]`. Consumes `x` (disposes it once used) and frees each temporary as soon as
 * possible, so at most about three `[n, vocab]` tensors are alive at once.
 */
export function chunkLogProbsGrad(
    x: tf.Tensor2D, tok: tf.Tensor1D, max: tf.Tensor1D, logSum: tf.Tensor1D, dy: tf.Tensor1D): tf.Tensor2D {
  const vocab = x.shape[1];
  const shifted = tf.sub(x, tf.expandDims(max, 1));
  x.dispose();
  const logP = tf.sub(shifted, tf.expandDims(logSum, 1));
  shifted.dispose();
  const p = tf.exp(logP);
  logP.dispose();
  // int32 then cast: the wasm backend's OneHot kernel returns zeros when asked for float32 directly.
  const onehotInt = tf.oneHot(tok, vocab);
  const onehot = tf.cast(onehotInt, 'float32');
  onehotInt.dispose();
  const diff = tf.sub(onehot, p);
  onehot.dispose();
  p.dispose();
  const grad = tf.mul(diff, tf.expandDims(dy, 1)) as tf.Tensor2D;
  diff.dispose();
  return grad;
}

/** @internal Concatenates chunk results along axis 0 (no copy for a single chunk). */
export function joinChunks<T extends tf.Tensor>(parts: T[]): T {
  return parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
}

/**
 * Log-probability of each chosen token under softmax(logits / temperature), memory-bounded.
 *
 * $$\log p_{b,t} = z_{b,t,y_{b,t}} - \log \sum_v e^{z_{b,t,v}}, \qquad z = \text{logits} / \tau$$
 * ($y$ = `tokens`, $\tau$ = `temperature`).
 * Same values as `tf.gather(tf.logSoftmax(z), tokens)`, but computed over the flattened
 * `[batch * time]` rows in chunks of `chunkSize` with `tf.customGrad`: the forward keeps only the
 * input and two `[batch * time]` vectors (row max and log-sum-exp), and the backward recomputes each chunk's softmax,
 * d logp / d logits = (onehot(token) - softmax(z)) * dy / temperature. No full-size log-softmax or
 * softmax intermediate is ever held; besides the input, the only full-size tensor is the gradient.
 * Stable for large logits (±1000): the log-sum-exp is max-shifted. Logits must be finite (a value
 * check: NaN or ±Infinity is a named error, on webgpu from the kernel's own pass). On `cpu` /
 * `wasm` one JavaScript loop over the rows computes the same (float64 sums; `chunkSize` unused), on
 * webgpu two fused kernels.
 *
 * @param logits `[batch, time, vocab]` float32.
 * @param tokens `[batch, time]` int32 chosen token ids, each in [0, vocab).
 * @param options.temperature divide the logits by this first; default `1`.
 * @param options.chunkSize rows of `[batch * time]` per chunk; default `max(1, floor(4194304 / vocab))`.
 * @returns `[batch, time]` float32 log-probabilities (<= 0). Padding positions are computed like any
 *   other; mask them downstream.
 * @throws on wrong ranks, shapes or dtypes, token ids outside [0, vocab), non-finite logits, or bad options.
 * @example
 * const logits = tf.tensor3d([[[0, 0], [Math.log(3), 0]]]); // [1, 2, 2]
 * const tokens = tf.tensor2d([[0, 1]], [1, 2], 'int32');
 * tokenLogProbs(logits, tokens); // [[log(1/2), log(1/4)]] = [[-0.693, -1.386]]
 */
export function tokenLogProbs(
    logits: tf.Tensor3D, tokens: tf.Tensor2D, options: TokenLogProbsOptions = {}): tf.Tensor2D {
  return tokenLogProbsAs({fn: 'tokenLogProbs', tokens: 'tokens'}, logits, tokens, options);
}

/**
 * @internal {@link tokenLogProbs} whose errors name the calling function `names.fn` and its token-id
 * argument `names.tokens` (e.g. `sftLoss` and `'labels'`).
 */
export function tokenLogProbsAs(names: {fn: string; tokens: string},
    logits: tf.Tensor3D, tokens: tf.Tensor2D, options: TokenLogProbsOptions = {}): tf.Tensor2D {
  const {fn} = names;
  ensureWebGPUFastPaths();
  assertKnownOptions(options, ['temperature', 'chunkSize'], fn);
  assertRank(logits, 3, fn, 'logits', ['batch', 'time', 'vocab'], 'float32');
  const [batch, time, vocab] = logits.shape;
  assertShape(tokens, [batch, time], fn, names.tokens, ['batch', 'time']);
  check(vocab > 0, fn, () => `'logits' expected a vocab axis of size >= 1, got ${fmtShape(logits.shape)}`);
  const {temperature, chunkSize} = readChunkOptions(options, vocab, fn);
  const rows = batch * time;
  // webgpu: two fused kernels (src/math/fused/log_probs_webgpu.ts), token ids and logits checked in the kernel.
  if (logProbsWebGPUBackend(rows, vocab) !== null) {
    assertDtype(tokens, 'int32', fn, names.tokens);
    const fused = tokenLogProbsWebGPU(logits, tokens, temperature, names);
    if (fused !== null) return fused;
  }
  assertTokensInVocab(tokens, vocab, fn, `'logits' ${fmtShape(logits.shape)}`, names.tokens);
  const scale = (x: tf.Tensor2D): tf.Tensor2D => (temperature === 1 ? x : tf.div(x, temperature));

  if (rows === 0) return tf.zeros([batch, time]);
  // cpu / wasm: one JavaScript loop over the rows (src/math/fused/log_probs_cpu.ts).
  const loop = tokenLogProbsCpu(logits, tokens, temperature, fn);
  if (loop !== null) return loop;
  const checks = syncValueChecksEnabled();
  return tf.tidy(() => {
    const flatTokens = tf.reshape(tokens, [rows]) as tf.Tensor1D;
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const x2 = tf.reshape(x, [rows, vocab]) as tf.Tensor2D;
      const logps: tf.Tensor1D[] = [];
      const maxes: tf.Tensor1D[] = [];
      const logSums: tf.Tensor1D[] = [];
      const flags: tf.Scalar[] = [];
      for (let start = 0; start < rows; start += chunkSize) {
        const n = Math.min(chunkSize, rows - start);
        const [logp, max, logSum, flag] = tf.tidy(() => {
          const chunk = tf.slice(x2, [start, 0], [n, vocab]);
          return [...chunkLogProbs(scale(chunk), tf.slice(flatTokens, [start], [n])), ...(checks ? [chunkNotFinite(chunk)] : [])];
        });
        logps.push(logp!);
        maxes.push(max!);
        logSums.push(logSum!);
        if (flag !== undefined) flags.push(flag as tf.Scalar);
      }
      if (checks) throwIfNotFinite(flags, x, fn);
      save([x, joinChunks(maxes), joinChunks(logSums), flatTokens]);
      const value = tf.reshape(joinChunks(logps), [batch, time]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const [xs, maxAll, logSumAll, tok] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const xs2 = tf.reshape(xs, [rows, vocab]) as tf.Tensor2D;
        const dyFlat = tf.reshape(dy, [rows]) as tf.Tensor1D;
        const parts: tf.Tensor2D[] = [];
        for (let start = 0; start < rows; start += chunkSize) {
          const n = Math.min(chunkSize, rows - start);
          parts.push(tf.tidy(() => chunkLogProbsGrad(
              scale(tf.slice(xs2, [start, 0], [n, vocab])), tf.slice(tok, [start], [n]),
              tf.slice(maxAll, [start], [n]), tf.slice(logSumAll, [start], [n]),
              tf.div(tf.slice(dyFlat, [start], [n]), temperature))));
        }
        return tf.reshape(joinChunks(parts), [batch, time, vocab]);
      };
      return {value, gradFunc};
    });
    return op(logits) as tf.Tensor2D;
  });
}

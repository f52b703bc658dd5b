/**
 * Autoregressive sampling of completions with a key/value cache.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, assertShape, check} from '../math/assert.js';
import {mulberry32} from './mulberry32.js';
import {disposeKvCache, type KvCache, type TransformerPolicy} from './transformer_policy.js';

/** Options of {@link sampleCompletions}. */
export interface SampleCompletionsOptions {
  /** Most tokens generated per row (required, >= 1). */
  maxNewTokens: number;
  /** Id that ends a completion; it is kept (mask 1) and nothing after it is. Default: none. */
  stopToken?: number;
  /** Id written after the stop token; default `0`. */
  padToken?: number;
  /** Softmax temperature; `0` means greedy (argmax). Default `1`. */
  temperature?: number;
  /** Sample only among the `topK` most likely tokens (renormalised); `0` = no limit. Default `0`. */
  topK?: number;
  /** Seed of the draws; default `0`. Same seed, same completions. */
  seed?: number;
}

/** Output of {@link sampleCompletions}; the caller disposes the tensors. */
export interface SampledCompletions {
  /** `[batch, completionTime]` int32 sampled ids, `padToken` after the stop token. */
  tokens: tf.Tensor2D;
  /**
   * `[batch, completionTime]` float32 log pi(y_t | prefix) of each sampled token under the full
   * temperature-scaled softmax (before top-k truncation; temperature 1 when greedy), 0 where masked.
   * Equals `tokenLogProbs(logits, tokens, {temperature})` of a full forward pass.
   */
  logProbs: tf.Tensor2D;
  /** `[batch, completionTime]` float32, 1 up to and including the stop token, 0 after. */
  mask: tf.Tensor2D;
  /** Per row: the number of completion tokens (mask sum). */
  lengths: number[];
  /** Per row: whether the stop token was produced. */
  stopped: boolean[];
}

const FN = 'sampleCompletions';
const KNOWN = ['maxNewTokens', 'stopToken', 'padToken', 'temperature', 'topK', 'seed'];

/**
 * Samples a completion for every prompt row at once, one token per step, reusing a key/value cache
 * (one prefill pass over the prompts, then one single-token pass per step). Rows that produced the
 * stop token are padded and masked; the loop ends early when every row has stopped. Draws use a
 * seeded JS generator (mulberry32), so results are reproducible on every backend.
 *
 * @param policy the policy.
 * @param prompts `{tokens, mask}` `[batch, promptTime]`, left-padded (see {@link encodePrompts}).
 * @param options.maxNewTokens most tokens per row (required).
 * @param options.stopToken stop id; default none.
 * @param options.padToken id after the stop; default `0`.
 * @param options.temperature default `1`; `0` greedy.
 * @param options.topK default `0` (all tokens).
 * @param options.seed default `0`.
 * @returns `{tokens, logProbs, mask, lengths, stopped}`.
 * @throws when the prompt plus `maxNewTokens` exceeds the context, shapes disagree, or an option is
 *   out of range.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const prompts = encodePrompts(tok, ['1+2'], {contextLength: 16, maxNewTokens: 4});
 * const out = sampleCompletions(policy, prompts, {maxNewTokens: 4, stopToken: tok.eosId, seed: 1});
 * tok.decode(out.tokens.arraySync()[0]!);
 * tf.dispose([out.tokens, out.logProbs, out.mask, prompts.tokens, prompts.mask]);
 * policy.dispose();
 */
export function sampleCompletions(
    policy: TransformerPolicy, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D},
    options: SampleCompletionsOptions): SampledCompletions {
  assertKnownOptions(options, KNOWN, FN);
  const {maxNewTokens, stopToken, padToken = 0, temperature = 1, topK = 0, seed = 0} = options;
  const {vocabSize: V, contextLength} = policy.config;
  assertNumber(maxNewTokens, FN, 'maxNewTokens', {integer: true, min: 1});
  assertNumber(temperature, FN, 'temperature', {min: 0});
  assertNumber(topK, FN, 'topK', {integer: true, min: 0});
  assertNumber(seed, FN, 'seed', {integer: true});
  assertNumber(padToken, FN, 'padToken', {integer: true, min: 0, max: V - 1});
  if (stopToken !== undefined) assertNumber(stopToken, FN, 'stopToken', {integer: true, min: 0, max: V - 1});
  check(prompts !== null && typeof prompts === 'object', FN, () => `'prompts' expected {tokens, mask}`);
  const [B, P] = prompts.tokens.shape;
  assertShape(prompts.tokens, [B!, P!], FN, 'prompts.tokens', ['batch', 'promptTime']);
  assertShape(prompts.mask, [B!, P!], FN, 'prompts.mask', ['batch', 'promptTime']);
  check(P! + maxNewTokens <= contextLength, FN, () =>
    `prompt length ${P} + maxNewTokens ${maxNewTokens} exceeds the policy's contextLength ${contextLength}`);

  const batch = B!;
  const random = mulberry32(seed);
  const maskData = prompts.mask.dataSync();
  const nextPos = new Int32Array(batch);
  for (let b = 0; b < batch; b++) for (let t = 0; t < P!; t++) nextPos[b]! += maskData[b * P! + t]! > 0 ? 1 : 0;
  let keyMask: number[] = Array.from(maskData, (v) => (v > 0 ? 1 : 0));

  const outTokens: number[][] = Array.from({length: batch}, () => []);
  const outLogProbs: number[][] = Array.from({length: batch}, () => []);
  const outMask: number[][] = Array.from({length: batch}, () => []);
  const done = new Array<boolean>(batch).fill(false);
  const stopped = new Array<boolean>(batch).fill(false);
  const scale = temperature === 0 ? 1 : temperature;

  // Prefill.
  let cache: KvCache | null = null;
  let lastLogProbs: Float32Array;
  {
    const out = tidyOut(() => {
      const positions = tf.cast(tf.relu(tf.sub(tf.cumsum(tf.cast(prompts.mask, 'float32'), 1), 1)), 'int32') as tf.Tensor2D;
      const keys = tf.tensor2d(keyMask, [batch, P!]);
      const r = policy.applyWithCache({tokens: tf.cast(prompts.tokens, 'int32') as tf.Tensor2D, positions, keyMask: keys, cache: null});
      const last = tf.reshape(tf.slice(r.logits, [0, P! - 1, 0], [batch, 1, V]), [batch, V]);
      return {logp: tf.logSoftmax(tf.div(last, scale)), cache: r.cache};
    });
    cache = out.cache;
    lastLogProbs = out.logp.dataSync() as Float32Array;
    out.logp.dispose();
  }

  let steps = 0;
  const order = new Int32Array(V);
  try {
    for (let t = 0; t < maxNewTokens; t++) {
      steps++;
      const next = new Int32Array(batch);
      for (let b = 0; b < batch; b++) {
        if (done[b]) {
          next[b] = padToken;
          outTokens[b]!.push(padToken); outLogProbs[b]!.push(0); outMask[b]!.push(0);
          continue;
        }
        const row = lastLogProbs.subarray(b * V, (b + 1) * V);
        const token = temperature === 0 ? argmax(row) : drawToken(row, topK, random, order);
        next[b] = token;
        outTokens[b]!.push(token); outLogProbs[b]!.push(row[token]!); outMask[b]!.push(1);
        if (token === stopToken) { done[b] = true; stopped[b] = true; }
      }
      if (t === maxNewTokens - 1 || done.every((d) => d)) break;
      // One cached step for every row (finished rows feed padding; their outputs are unused).
      const width = keyMask.length / batch + 1;
      const grown: number[] = [];
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < width - 1; j++) grown.push(keyMask[b * (width - 1) + j]!);
        grown.push(1);
      }
      keyMask = grown;
      const prev: KvCache = cache!;
      const out = tidyOut(() => {
        const r = policy.applyWithCache({
          tokens: tf.tensor2d(next, [batch, 1], 'int32'),
          positions: tf.tensor2d(Int32Array.from(nextPos), [batch, 1], 'int32'),
          keyMask: tf.tensor2d(keyMask, [batch, width]),
          cache: prev,
        });
        return {logp: tf.logSoftmax(tf.div(tf.reshape(r.logits, [batch, V]), scale)), cache: r.cache};
      });
      disposeKvCache(prev);
      cache = out.cache;
      for (let b = 0; b < batch; b++) nextPos[b]!++;
      lastLogProbs = out.logp.dataSync() as Float32Array;
      out.logp.dispose();
    }
  } finally {
    disposeKvCache(cache);
  }
  const flat = (rows: number[][]): number[] => rows.flat();
  return {
    tokens: tf.tensor2d(flat(outTokens), [batch, steps], 'int32'),
    logProbs: tf.tensor2d(flat(outLogProbs), [batch, steps]),
    mask: tf.tensor2d(flat(outMask), [batch, steps]),
    lengths: outMask.map((r) => r.reduce((s, v) => s + v, 0)),
    stopped,
  };
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Draws from softmax(row) restricted to its `topK` largest entries (all when 0). */
function drawToken(row: Float32Array, topK: number, random: () => number, order: Int32Array): number {
  const V = row.length;
  let candidates: ArrayLike<number>;
  let count = V;
  if (topK > 0 && topK < V) {
    for (let i = 0; i < V; i++) order[i] = i;
    const sorted = Array.from(order).sort((a, b) => row[b]! - row[a]! || a - b);
    candidates = sorted;
    count = topK;
  } else {
    for (let i = 0; i < V; i++) order[i] = i;
    candidates = order;
  }
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, row[candidates[i]!]!);
  let total = 0;
  for (let i = 0; i < count; i++) total += Math.exp(row[candidates[i]!]! - max);
  let u = random() * total;
  for (let i = 0; i < count; i++) {
    u -= Math.exp(row[candidates[i]!]! - max);
    if (u <= 0) return candidates[i]!;
  }
  return candidates[count - 1]!;
}

/** `tf.tidy` for a `{logp, cache}` result (interfaces are not `TensorContainer`s to the type checker). */
function tidyOut(f: () => {logp: tf.Tensor; cache: KvCache}): {logp: tf.Tensor; cache: KvCache} {
  return tf.tidy(f as unknown as () => tf.TensorContainer) as unknown as {logp: tf.Tensor; cache: KvCache};
}

/**
 * Autoregressive sampling of completions from any {@link Policy}, with its key/value cache when it
 * has one.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownInputs, assertKnownOptions, assertNumber, assertRank, assertShape, check, valueChecksEnabled} from '../math/assert.js';
import {assertLeftPaddedMaskValues, markBinaryMask, markLeftPaddedMask} from './checked_masks.js';
import {mulberry32} from './mulberry32.js';
import type {Policy, PolicyCachedOutput} from './policy.js';
import {drawToken} from './draw_token.js';

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
  /**
   * Nucleus sampling (Holtzman et al. 2019, arXiv:1904.09751): sample only among the most likely
   * tokens whose cumulative probability first reaches `topP` (after `topK`, renormalised), in (0, 1].
   * Default `1` (off).
   */
  topP?: number;
  /** Seed of the draws; default `0`. Same seed, same completions. */
  seed?: number;
}

/** Output of {@link sampleCompletions}; the caller disposes the tensors. */
export interface SampledCompletions {
  /** `[batch, completionTime]` int32 sampled ids, `padToken` after the stop token. */
  tokens: tf.Tensor2D;
  /**
   * `[batch, completionTime]` float32 log pi(y_t | prefix) of each sampled token under the full
   * temperature-scaled softmax (before top-k / top-p truncation; temperature 1 when greedy), 0 where
   * masked. Equals `tokenLogProbs(logits, tokens, {temperature})` of a full forward pass.
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
const KNOWN = ['maxNewTokens', 'stopToken', 'padToken', 'temperature', 'topK', 'topP', 'seed'];

/**
 * Samples a completion for every prompt row at once, one token per step. With
 * `policy.applyWithCache` it runs one prefill pass over the prompts and then one single-token pass
 * per step; without it, it re-runs `policy.apply` on the whole prefix (prompt + tokens so far) each
 * step, which gives the same tokens at a higher cost. Rows that produced the stop token are padded
 * and masked; the loop ends early when every row has stopped.
 *
 * Every row draws its own token from its own uniform number of a seeded JS generator
 * (mulberry32), so results are reproducible on every backend and identical prompt rows (a
 * GRPO group) get independent completions. (`tf.multinomial` on the cpu backend of tfjs 4.22 draws
 * the same token for identical rows: every group would tie and GRPO would learn nothing.)
 *
 * @param policy any {@link Policy}.
 * @param prompts `{tokens, mask}` `[batch, promptTime]`, left-padded (see {@link encodePrompts}).
 * @param options.maxNewTokens most tokens per row (required).
 * @param options.stopToken stop id; default none (callers with a tokenizer pass its `eosId`).
 * @param options.padToken id after the stop; default `0`.
 * @param options.temperature default `1`; `0` greedy.
 * @param options.topK default `0` (all tokens).
 * @param options.topP default `1` (off).
 * @param options.seed default `0`.
 * @returns `{tokens, logProbs, mask, lengths, stopped}`.
 * @throws when the prompt plus `maxNewTokens` exceeds the context, shapes disagree, `prompts` has a
 *   key other than `tokens` and `mask`, `prompts.tokens` is not int32, an option is out of range or
 *   unknown, or (a value check, on the mask values the sampler reads anyway) `prompts.mask` holds a
 *   value other than 0 and 1, is right-padded, or has a row without a prompt token.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const prompts = encodePrompts(tok, ['1+2'], {contextLength: 16, maxNewTokens: 4});
 * const out = sampleCompletions(policy, prompts, {maxNewTokens: 4, stopToken: tok.eosId, seed: 1, topP: 0.95});
 * tok.decode(out.tokens.arraySync()[0]!);
 * tf.dispose([out.tokens, out.logProbs, out.mask, prompts.tokens, prompts.mask]);
 * policy.dispose();
 */
export function sampleCompletions<Cache>(
    policy: Policy<Cache>, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D},
    options: SampleCompletionsOptions): SampledCompletions {
  const plan = planSampling(policy, prompts, options);
  const loop = samplingLoop(policy, prompts, plan, checkPromptMask(prompts, prompts.mask.dataSync()));
  try {
    for (let r = loop.next(); ; ) {
      if (r.done) return r.value;
      const data = r.value.dataSync() as Float32Array;
      r.value.dispose();
      r = loop.next(data);
    }
  } finally {
    loop.return(undefined as unknown as SampledCompletions);
  }
}

/**
 * {@link sampleCompletions} with asynchronous read-back (`await tensor.data()`), for backends
 * without a synchronous one (webgpu in Node.js, where `dataSync` throws). Same draws, same result.
 * The training steps and `evaluatePolicy` sample through it.
 *
 * @param policy any {@link Policy}.
 * @param prompts `{tokens, mask}` `[batch, promptTime]`, left-padded (see {@link encodePrompts}).
 * @param options see {@link SampleCompletionsOptions}.
 * @returns a promise of `{tokens, logProbs, mask, lengths, stopped}`.
 * @throws (rejects) as {@link sampleCompletions}; the mask value check runs on webgpu too (on the
 *   values read asynchronously).
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const prompts = encodePrompts(tok, ['1+2'], {contextLength: 16, maxNewTokens: 4});
 * const out = await sampleCompletionsAsync(policy, prompts, {maxNewTokens: 4, stopToken: tok.eosId, seed: 1});
 * tf.dispose([out.tokens, out.logProbs, out.mask, prompts.tokens, prompts.mask]);
 * policy.dispose();
 */
export async function sampleCompletionsAsync<Cache>(
    policy: Policy<Cache>, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D},
    options: SampleCompletionsOptions): Promise<SampledCompletions> {
  const plan = planSampling(policy, prompts, options);
  const loop = samplingLoop(policy, prompts, plan, checkPromptMask(prompts, await prompts.mask.data()));
  try {
    for (let r = loop.next(); ; ) {
      if (r.done) return r.value;
      const data = await r.value.data() as Float32Array;
      r.value.dispose();
      r = loop.next(data);
    }
  } finally {
    loop.return(undefined as unknown as SampledCompletions);
  }
}

/** Validated options of one sampling call. */
interface SamplingPlan {
  batch: number; vocab: number; maxNewTokens: number; stopToken: number | undefined; padToken: number;
  temperature: number; topK: number; topP: number; seed: number;
}

/** Validates the arguments of {@link sampleCompletions} / {@link sampleCompletionsAsync}. */
function planSampling<Cache>(
    policy: Policy<Cache>, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D}, options: SampleCompletionsOptions): SamplingPlan {
  assertKnownOptions(options, KNOWN, FN);
  check(options !== null && typeof options === 'object', FN, () => `'options' expected {maxNewTokens, ...}`);
  const {maxNewTokens, stopToken, padToken = 0, temperature = 1, topK = 0, topP = 1, seed = 0} = options;
  check(policy !== null && typeof policy === 'object' && typeof policy.apply === 'function', FN, () =>
    `'policy' expected a Policy (an object with apply(tokens)), got ${String(policy)}`);
  const {vocabSize: V, contextLength} = policy;
  assertNumber(maxNewTokens, FN, 'maxNewTokens', {integer: true, min: 1});
  assertNumber(temperature, FN, 'temperature', {min: 0});
  assertNumber(topK, FN, 'topK', {integer: true, min: 0});
  assertNumber(topP, FN, 'topP', {min: 0, minExclusive: true, max: 1});
  assertNumber(seed, FN, 'seed', {integer: true});
  assertNumber(padToken, FN, 'padToken', {integer: true, min: 0, max: V - 1});
  if (stopToken !== undefined) assertNumber(stopToken, FN, 'stopToken', {integer: true, min: 0, max: V - 1});
  assertKnownInputs(prompts, ['tokens', 'mask'], FN, 'prompts');
  assertRank(prompts.tokens, 2, FN, 'prompts.tokens', ['batch', 'promptTime'], 'int32');
  const [B, P] = prompts.tokens.shape;
  assertShape(prompts.mask, [B!, P!], FN, 'prompts.mask', ['batch', 'promptTime']);
  check(P! + maxNewTokens <= contextLength, FN, () =>
    `prompt length ${P} + maxNewTokens ${maxNewTokens} exceeds the policy's contextLength ${contextLength}`);

  return {batch: B!, vocab: V, maxNewTokens, stopToken, padToken, temperature, topK, topP, seed};
}

/**
 * The value check of `prompts.mask` on the values the sampler reads anyway (no extra read-back, on
 * every backend): binary, left-padded, at least one prompt token per row. Returns `maskData`.
 */
function checkPromptMask(prompts: {mask: tf.Tensor2D}, maskData: ArrayLike<number>): ArrayLike<number> {
  if (!valueChecksEnabled()) return maskData;
  const [B, P] = prompts.mask.shape;
  assertLeftPaddedMaskValues(maskData, [B, P], FN, 'prompts.mask', 'prompts are left-padded, see encodePrompts');
  markLeftPaddedMask(prompts.mask);
  return maskData;
}

/**
 * The sampling loop. Yields each step's `[batch, vocab]` log-prob tensor and receives its values
 * (the driver reads and disposes it), so one loop serves the synchronous and the asynchronous reads.
 */
function* samplingLoop<Cache>(
    policy: Policy<Cache>, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D}, plan: SamplingPlan,
    maskData: ArrayLike<number>): Generator<tf.Tensor, SampledCompletions, Float32Array> {
  const {batch, vocab: V, maxNewTokens, stopToken, padToken, temperature, topK, topP, seed} = plan;
  const random = mulberry32(seed);
  const scale = temperature === 0 ? 1 : temperature;
  const decoder = policy.applyWithCache !== undefined ? cachedDecoder(policy, prompts, scale, maskData) : fullDecoder(policy, prompts, scale);
  const outTokens: number[][] = Array.from({length: batch}, () => []);
  const outLogProbs: number[][] = Array.from({length: batch}, () => []);
  const outMask: number[][] = Array.from({length: batch}, () => []);
  const done = new Array<boolean>(batch).fill(false);
  const stopped = new Array<boolean>(batch).fill(false);
  let steps = 0;
  try {
    let lastLogProbs: Float32Array = yield decoder.first();
    check(lastLogProbs.length === batch * V, FN, () =>
      `the policy's logits have ${lastLogProbs.length / batch} entries per row, expected its vocabSize ${V}`);
    const scratch = {order: new Int32Array(V), weights: new Float64Array(V)};
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
        const token = temperature === 0 ? argmax(row) : drawToken(row, topK, topP, random(), scratch);
        next[b] = token;
        outTokens[b]!.push(token); outLogProbs[b]!.push(row[token]!); outMask[b]!.push(1);
        if (token === stopToken) { done[b] = true; stopped[b] = true; }
      }
      if (t === maxNewTokens - 1 || done.every((d) => d)) break;
      lastLogProbs = yield decoder.next(next);
    }
  } finally {
    decoder.dispose();
  }
  return {
    tokens: tf.tensor2d(outTokens.flat(), [batch, steps], 'int32'),
    logProbs: tf.tensor2d(outLogProbs.flat(), [batch, steps]),
    mask: tf.tensor2d(outMask.flat(), [batch, steps]),
    lengths: outMask.map((r) => r.reduce((s, v) => s + v, 0)),
    stopped,
  };
}

/** Next-token log-probs `[batch, vocab]` after the prompt (`first`) and after each appended token (`next`). */
interface Decoder {
  first(): tf.Tensor;
  next(tokens: Int32Array): tf.Tensor;
  dispose(): void;
}

/** `[batch, vocab]` logits as temperature-scaled log-probs (disposes the logits). */
function readLogProbs(logits: tf.Tensor, scale: number): tf.Tensor {
  const logp = tf.tidy(() => tf.logSoftmax(tf.div(logits, scale)));
  logits.dispose();
  return logp;
}

/** Prefill once, then one cached single-token pass per step. */
function cachedDecoder<Cache>(
    policy: Policy<Cache>, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D}, scale: number,
    maskData: ArrayLike<number>): Decoder {
  const [batch, P] = prompts.tokens.shape;
  const V = policy.vocabSize;
  const disposeCache = (c: Cache | null): void => {
    if (c === null) return;
    if (policy.disposeCache) policy.disposeCache(c);
    else tf.dispose(c as unknown as tf.TensorContainer);
  };
  const nextPos = new Int32Array(batch);
  for (let b = 0; b < batch; b++) for (let t = 0; t < P; t++) nextPos[b]! += maskData[b * P + t]! > 0 ? 1 : 0;
  let keyMask: number[] = Array.from(maskData, (v) => (v > 0 ? 1 : 0));
  let cache: Cache | null = null;
  const step = (tokens: tf.Tensor2D, positions: tf.Tensor2D, keys: tf.Tensor2D): tf.Tensor => {
    const prev = cache;
    let r: PolicyCachedOutput<Cache>;
    // Built from the checked prompt mask and ones: the policy's applyWithCache does not read it back.
    markBinaryMask(keys, [prompts.mask]);
    try {
      r = policy.applyWithCache!({tokens, positions, keyMask: keys, cache: prev});
    } finally {
      tf.dispose([tokens, positions, keys]);
    }
    r.hidden?.dispose();
    cache = r.cache;
    disposeCache(prev);
    const T = r.logits.shape[1];
    const last = tf.tidy(() => tf.reshape(tf.slice(r.logits, [0, T - 1, 0], [batch, 1, V]), [batch, V]));
    r.logits.dispose();
    return readLogProbs(last, scale);
  };
  return {
    first: () => step(
        tf.cast(prompts.tokens, 'int32') as tf.Tensor2D,
        tf.tidy(() => tf.cast(tf.relu(tf.sub(tf.cumsum(tf.cast(prompts.mask, 'float32'), 1), 1)), 'int32') as tf.Tensor2D),
        tf.tensor2d(keyMask, [batch, P])),
    next: (tokens) => {
      const width = keyMask.length / batch + 1;
      const grown: number[] = [];
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < width - 1; j++) grown.push(keyMask[b * (width - 1) + j]!);
        grown.push(1);
      }
      keyMask = grown;
      const out = step(tf.tensor2d(tokens, [batch, 1], 'int32'), tf.tensor2d(Int32Array.from(nextPos), [batch, 1], 'int32'),
          tf.tensor2d(keyMask, [batch, width]));
      for (let b = 0; b < batch; b++) nextPos[b]!++;
      return out;
    },
    dispose: () => { disposeCache(cache); cache = null; },
  };
}

/** No cache: `apply` on the whole prefix each step (finished rows keep feeding padding, unused). */
function fullDecoder(policy: Policy, prompts: {tokens: tf.Tensor2D; mask: tf.Tensor2D}, scale: number): Decoder {
  const [batch, P] = prompts.tokens.shape;
  const V = policy.vocabSize;
  const generated: Int32Array[] = [];
  const run = (): tf.Tensor => {
    const last = tf.tidy(() => {
      const extra = generated.length;
      const appended = extra === 0 ? null : tf.tensor2d(interleave(generated, batch), [batch, extra], 'int32');
      const tokens = (appended ? tf.concat([tf.cast(prompts.tokens, 'int32'), appended], 1) : tf.cast(prompts.tokens, 'int32')) as tf.Tensor2D;
      const maskF = tf.cast(prompts.mask, 'float32');
      const attentionMask = (appended ? tf.concat([maskF, tf.ones([batch, extra])], 1) : maskF) as tf.Tensor2D;
      markBinaryMask(attentionMask, [prompts.mask]); // checked once above: no read-back per step in apply
      const {logits} = policy.apply(tokens, {attentionMask});
      check(logits.rank === 3 && logits.shape[0] === batch && logits.shape[1] === P + extra && logits.shape[2] === V, FN, () =>
        `the policy's apply returned logits of shape [${logits.shape.join(',')}], expected [${batch},${P + extra},${V}]`);
      return tf.reshape(tf.slice(logits, [0, P + extra - 1, 0], [batch, 1, V]), [batch, V]);
    });
    return readLogProbs(last, scale);
  };
  return {
    first: run,
    next: (tokens) => { generated.push(Int32Array.from(tokens)); return run(); },
    dispose: () => {},
  };
}

/** `[time][batch]` columns to a row-major `[batch, time]` array. */
function interleave(columns: Int32Array[], batch: number): Int32Array {
  const T = columns.length;
  const out = new Int32Array(batch * T);
  for (let t = 0; t < T; t++) for (let b = 0; b < batch; b++) out[b * T + t] = columns[t]![b]!;
  return out;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

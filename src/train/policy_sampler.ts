/**
 * A {@link CompletionSampler} drawing from a policy, for rejection sampling and distillation.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {encodePrompts} from '../models/encode_prompts.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import {sampleCompletionsAsync} from '../models/sample_completions.js';
import {checkTokenizer, decodeCompletion} from './collect_rollout.js';
import type {CompletionSampler} from './rejection_sample.js';

/** Options of {@link policySampler}. */
export interface PolicySamplerOptions {
  /** Most completion tokens (required). */
  maxNewTokens: number;
  /** Sampling temperature; default `0.6` (DeepSeek-R1's evaluation and sampling setting). */
  temperature?: number;
  /** Nucleus sampling threshold; default `0.95` (R1's). */
  topP?: number;
  /** Stop token id; default the tokenizer's `eosId`. */
  stopToken?: number;
  /** Prompts per forward batch; default `64`. */
  batchSize?: number;
}

/**
 * Wraps a policy and its tokenizer as a {@link CompletionSampler}: encodes the prompts, samples with
 * `sampleCompletions` batch by batch (seed `seed + batch start`), decodes, and reports each
 * completion's token count (so `rejectionSample`'s overlong filter and `tokensKept` count tokens).
 *
 * @param policy any {@link Policy} (e.g. the teacher, for sequence-level distillation).
 * @param tokenizer its tokenizer (vocabulary size must match the policy's).
 * @param options see {@link PolicySamplerOptions}.
 * @returns a sampler.
 * @throws when the tokenizer does not fit the policy or an option is out of range.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const sampler = policySampler(policy, tok, {maxNewTokens: 4});
 * const completions = await sampler(['1+2', '1+2'], {seed: 0}); // [{completion, tokens}, ...]
 * policy.dispose();
 */
export function policySampler(policy: Policy, tokenizer: Tokenizer, options: PolicySamplerOptions): CompletionSampler {
  const fn = 'policySampler';
  check(options !== null && typeof options === 'object', fn, () => `'options' expected {maxNewTokens, ...}`);
  assertKnownOptions(options, ['maxNewTokens', 'temperature', 'topP', 'stopToken', 'batchSize'], fn);
  const {maxNewTokens, temperature = 0.6, topP = 0.95, stopToken = tokenizer.eosId, batchSize = 64} = options;
  assertNumber(maxNewTokens, fn, 'maxNewTokens', {integer: true, min: 1});
  assertNumber(batchSize, fn, 'batchSize', {integer: true, min: 1});
  checkTokenizer(policy, tokenizer, fn);
  return async (prompts, {seed}) => {
    const out: {completion: string; tokens: number}[] = [];
    for (let start = 0; start < prompts.length; start += batchSize) {
      const chunk = prompts.slice(start, start + batchSize);
      const encoded = encodePrompts(tokenizer, chunk, {contextLength: policy.contextLength, maxNewTokens});
      const sampled = await sampleCompletionsAsync(policy, encoded, {
        maxNewTokens, stopToken, padToken: tokenizer.padId, temperature, topP, seed: seed + start,
      });
      const rows = (await sampled.tokens.array()) as number[][];
      tf.dispose([encoded.tokens, encoded.mask, sampled.tokens, sampled.logProbs, sampled.mask]);
      rows.forEach((r, b) => out.push({completion: decodeCompletion(tokenizer, r, sampled.lengths[b]!), tokens: sampled.lengths[b]!}));
    }
    return out;
  };
}

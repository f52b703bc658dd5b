/**
 * A {@link CompletionSampler} drawing from a policy, for rejection sampling and distillation.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {assertOptionsObject, assertSamplingOptions, describeValue} from './assert_step_inputs.js';
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
 * @throws when the options are not an object, a key is unknown, an option is out of range
 *   (`maxNewTokens`, `batchSize` integers >= 1, `temperature` >= 0, `topP` in (0, 1], `stopToken` an id
 *   below the policy's `vocabSize`) or the tokenizer does not fit the policy; the sampler throws
 *   (rejects) when `prompts` is not an array or its second argument is not `{seed: integer}`.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const sampler = policySampler(policy, tok, {maxNewTokens: 4});
 * const completions = await sampler(['1+2', '1+2'], {seed: 0}); // [{completion, tokens}, ...]
 * policy.dispose();
 */
export function policySampler(policy: Policy, tokenizer: Tokenizer, options: PolicySamplerOptions): CompletionSampler {
  const fn = 'policySampler';
  assertOptionsObject(options, fn, '{maxNewTokens, ...}');
  assertKnownOptions(options, ['maxNewTokens', 'temperature', 'topP', 'stopToken', 'batchSize'], fn);
  checkTokenizer(policy, tokenizer, fn);
  const {maxNewTokens, temperature = 0.6, topP = 0.95, stopToken = tokenizer.eosId, batchSize = 64} = options;
  // The ranges sampleCompletions enforces, here so that the error names policySampler and comes
  // when the sampler is built, not at its first call.
  assertSamplingOptions({maxNewTokens, temperature, topP, stopToken}, fn, policy.vocabSize);
  assertNumber(batchSize, fn, 'batchSize', {integer: true, min: 1});
  return async (prompts, sampleOptions) => {
    check(Array.isArray(prompts), fn, () => `sampler 'prompts' expected an array of strings, got ${describeValue(prompts)}`);
    check(sampleOptions !== null && typeof sampleOptions === 'object', fn, () =>
      `sampler options expected {seed: integer}, got ${describeValue(sampleOptions)}`);
    const seed: unknown = sampleOptions.seed;
    check(typeof seed === 'number' && Number.isInteger(seed), fn, () =>
      `sampler 'seed' expected an integer, got ${describeValue(seed)}`);
    const out: {completion: string; tokens: number}[] = [];
    for (let start = 0; start < prompts.length; start += batchSize) {
      const chunk = prompts.slice(start, start + batchSize);
      const encoded = encodePrompts(tokenizer, chunk, {contextLength: policy.contextLength, maxNewTokens});
      let rows: number[][];
      let lengths: readonly number[];
      try {
        const sampled = await sampleCompletionsAsync(policy, encoded, {
          maxNewTokens, stopToken, padToken: tokenizer.padId, temperature, topP, seed: seed + start,
        });
        lengths = sampled.lengths;
        try {
          rows = (await sampled.tokens.array()) as number[][];
        } finally {
          tf.dispose([sampled.tokens, sampled.logProbs, sampled.mask]);
        }
      } finally {
        tf.dispose([encoded.tokens, encoded.mask]);
      }
      rows.forEach((r, b) => out.push({completion: decodeCompletion(tokenizer, r, lengths[b]!), tokens: lengths[b]!}));
    }
    return out;
  };
}

/**
 * Prompt batches for the policy: tokenize and left-pad.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {markLeftPaddedMask} from './checked_masks.js';
import type {Tokenizer} from './policy.js';

/** A left-padded batch of prompts. */
export interface PromptBatch {
  /** `[batch, promptTime]` int32 ids, left-padded with the tokenizer's `padId`. */
  tokens: tf.Tensor2D;
  /** `[batch, promptTime]` float32, 1 on prompt tokens, 0 on padding. */
  mask: tf.Tensor2D;
}

/** Options of {@link encodePrompts}. */
export interface EncodePromptsOptions {
  /** The policy's context length: a prompt must leave room for `maxNewTokens` (required). */
  contextLength: number;
  /** Tokens the sampler will append; the prompt plus these must fit the context. Default `0`. */
  maxNewTokens?: number;
}

/**
 * Tokenizes prompts and left-pads them to the longest one, so that every row's last prompt token is
 * at the same index and sampling appends in lockstep.
 *
 * @param tokenizer any {@link Tokenizer} (its `padId` pads).
 * @param prompts prompt texts, at least one, none empty.
 * @param options.contextLength the policy's context (required).
 * @param options.maxNewTokens completion tokens to leave room for; default `0`.
 * @returns `{tokens, mask}` `[batch, promptTime]`; the caller disposes them.
 * @throws when a prompt is empty, an option is unknown, or the longest prompt plus `maxNewTokens`
 *   exceeds `contextLength`.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const {tokens, mask} = encodePrompts(tok, ['1+2', '10+20'], {contextLength: 16});
 * // tokens [2, 5]: [[0, 0, '1', '+', '2'], ['1', '0', '+', '2', '0']] as ids; mask [[0,0,1,1,1],[1,1,1,1,1]]
 * tf.dispose([tokens, mask]);
 */
export function encodePrompts(
    tokenizer: Tokenizer, prompts: readonly string[], options: EncodePromptsOptions): PromptBatch {
  const fn = 'encodePrompts';
  assertKnownOptions(options, ['contextLength', 'maxNewTokens'], fn);
  const {contextLength, maxNewTokens = 0} = options ?? ({} as EncodePromptsOptions);
  check(Array.isArray(prompts) && prompts.length > 0, fn, () => `'prompts' expected a non-empty array of strings`);
  assertNumber(contextLength, fn, 'contextLength', {integer: true, min: 1});
  assertNumber(maxNewTokens, fn, 'maxNewTokens', {integer: true, min: 0});
  const ids = prompts.map((p, i) => {
    check(typeof p === 'string' && p.length > 0, fn, () => `'prompts[${i}]' expected a non-empty string, got ${JSON.stringify(p)}`);
    return tokenizer.encode(p);
  });
  const width = Math.max(...ids.map((r) => r.length));
  const longest = ids.findIndex((r) => r.length === width);
  check(width + maxNewTokens <= contextLength, fn, () =>
    `'prompts[${longest}]' has ${width} tokens; with maxNewTokens=${maxNewTokens} that exceeds contextLength=${contextLength}`);
  const tokens = new Int32Array(prompts.length * width).fill(tokenizer.padId);
  const mask = new Float32Array(prompts.length * width);
  ids.forEach((row, b) => {
    const offset = b * width + width - row.length;
    tokens.set(row, offset);
    mask.fill(1, offset, offset + row.length);
  });
  const maskTensor = tf.tensor2d(mask, [prompts.length, width]);
  markLeftPaddedMask(maskTensor); // left-padded, no empty row, by construction: not read back by the checks
  return {tokens: tf.tensor2d(tokens, [prompts.length, width], 'int32'), mask: maskTensor};
}

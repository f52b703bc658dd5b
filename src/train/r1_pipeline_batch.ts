/**
 * The SFT batches of `runR1Pipeline`'s stages (completions always end with the stop token).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, check} from '../math/assert.js';
import {encodePrompts} from '../models/encode_prompts.js';
import type {Tokenizer} from '../models/policy.js';
import {describeValue} from './assert_step_inputs.js';
import type {SftBatch} from './sft_step.js';

/**
 * @internal The SFT batch of a pipeline stage: like `encodeSftBatch`, but every completion ends with
 * `stopToken` (appended when its text does not already end with it). Without it a stage fine-tunes
 * on completions that never stop: `policySampler` strips the EOS it stopped on, and extra data such
 * as `{prompt, completion: 'yes'}` carries no stop token, so the fine-tuned policy would run on to
 * `maxNewTokens` after them.
 * @throws when `pairs` is not a non-empty array of `{prompt: string, completion: string}` or
 *   `stopToken` is not an id below the tokenizer's `vocabSize` (then from `encodePrompts`: a prompt
 *   too long for `contextLength`).
 */
export function encodeStageBatch(tokenizer: Tokenizer, pairs: ReadonlyArray<{prompt: string; completion: string}>, stopToken: number,
    contextLength: number): SftBatch {
  const fn = 'encodeStageBatch';
  check(Array.isArray(pairs) && pairs.length > 0, fn, () =>
    `'pairs' expected a non-empty array of {prompt, completion}, got ${describeValue(pairs)}`);
  pairs.forEach((p: unknown, i) => {
    const q = p as {prompt?: unknown; completion?: unknown} | null;
    check(q !== null && typeof q === 'object' && typeof q.prompt === 'string' && typeof q.completion === 'string', fn, () =>
      `'pairs[${i}]' expected {prompt: string, completion: string}, got ${describeValue(p)}`);
  });
  assertNumber(stopToken, fn, 'stopToken', {integer: true, min: 0, max: tokenizer.vocabSize - 1});
  const completions = pairs.map((p) => {
    let ids = tokenizer.encode(p.completion);
    if (tokenizer.bosId !== undefined && ids[0] === tokenizer.bosId) ids = ids.slice(1);
    return ids[ids.length - 1] === stopToken ? ids : [...ids, stopToken];
  });
  const C = Math.max(...completions.map((c) => c.length));
  const prompts = encodePrompts(tokenizer, pairs.map((p) => p.prompt), {contextLength, maxNewTokens: C - 1});
  const tokens = new Int32Array(pairs.length * C).fill(tokenizer.padId);
  const mask = new Float32Array(pairs.length * C);
  completions.forEach((c, b) => { tokens.set(c, b * C); mask.fill(1, b * C, b * C + c.length); });
  return {promptTokens: prompts.tokens, promptMask: prompts.mask,
    completionTokens: tf.tensor2d(tokens, [pairs.length, C], 'int32'), completionMask: tf.tensor2d(mask, [pairs.length, C])};
}

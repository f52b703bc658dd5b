/**
 * Cold-start supervised fine-tuning: masked cross-entropy on completion tokens.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertGradientsRegistered, assertKnownInputs, assertKnownOptions, assertRank, assertShape, check} from '../math/assert.js';
import {resolveSftLossOptions, sftLossChecked, type SftLossOptions} from '../math/sft_loss.js';
import {applyClippedGradients} from './apply_clipped_gradients.js';
import {completionForward} from '../models/completion_forward.js';
import {encodePrompts} from '../models/encode_prompts.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import {assertBinaryMaskOnce} from '../models/checked_masks.js';
import {assertOptimizer, assertOptionsObject, assertPolicy, describeValue} from './assert_step_inputs.js';
import {HookMetrics, withAuxLoss} from './update_hooks.js';

/** A batch of prompts with target completions. The caller disposes the tensors. */
export interface SftBatch {
  /** `[batch, promptTime]` int32 left-padded prompt ids. */
  promptTokens: tf.Tensor2D;
  /** `[batch, promptTime]` 1 on prompt tokens. */
  promptMask: tf.Tensor2D;
  /** `[batch, completionTime]` int32 right-padded completion ids. */
  completionTokens: tf.Tensor2D;
  /** `[batch, completionTime]` float32, 1 on completion tokens (the loss counts only these). */
  completionMask: tf.Tensor2D;
}

/**
 * Tokenizes prompt/completion pairs into an {@link SftBatch} (prompts left-padded, completions
 * right-padded with `padId`). A leading `bosId` that the tokenizer puts on the completion is dropped.
 *
 * @param tokenizer any {@link Tokenizer}.
 * @param pairs `{prompt, completion}` texts, at least one.
 * @param options.contextLength the policy's context; prompt + completion - 1 must fit (required).
 * @returns the batch tensors.
 * @throws when `options` has an unknown key, `pairs` is empty or an entry is not `{prompt, completion}`
 *   strings, a pair does not fit the context, or a text has unknown characters.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+=', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
 * const batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '<think>1+2=3</think><answer>3</answer>'}], {contextLength: 48});
 * tf.dispose(Object.values(batch));
 */
export function encodeSftBatch(
    tokenizer: Tokenizer, pairs: ReadonlyArray<{prompt: string; completion: string}>,
    options: {contextLength: number}): SftBatch {
  const fn = 'encodeSftBatch';
  assertOptionsObject(options, fn, '{contextLength}');
  assertKnownOptions(options, ['contextLength'], fn);
  const {contextLength} = options;
  check(Array.isArray(pairs) && pairs.length > 0, fn, () => `'pairs' expected a non-empty array`);
  pairs.forEach((p, i) => check(p !== null && typeof p === 'object' && typeof p.prompt === 'string' &&
      typeof p.completion === 'string', fn, () => `'pairs[${i}]' expected {prompt: string, completion: string}, got ${describeValue(p)}`));
  // A tokenizer that prepends BOS to every text: the completion continues the prompt, so no BOS.
  const completions = pairs.map((p) => {
    const ids = tokenizer.encode(p.completion);
    return tokenizer.bosId !== undefined && ids[0] === tokenizer.bosId ? ids.slice(1) : ids;
  });
  const C = Math.max(...completions.map((c) => c.length));
  check(C >= 1, fn, () => `'pairs' expected non-empty completions`);
  const prompts = encodePrompts(tokenizer, pairs.map((p) => p.prompt), {contextLength, maxNewTokens: C - 1});
  const tokens = new Int32Array(pairs.length * C).fill(tokenizer.padId);
  const mask = new Float32Array(pairs.length * C);
  completions.forEach((c, b) => { tokens.set(c, b * C); mask.fill(1, b * C, b * C + c.length); });
  return {
    promptTokens: prompts.tokens, promptMask: prompts.mask,
    completionTokens: tf.tensor2d(tokens, [pairs.length, C], 'int32'),
    completionMask: tf.tensor2d(mask, [pairs.length, C]),
  };
}

/**
 * The cold-start SFT loss of a policy on a batch: {@link sftLoss} (masked cross-entropy, optional
 * label smoothing, `aggregation`) of the policy's completion logits against the completion tokens,
 * plus the policy's `auxLoss` when its forward pass returns one. With the defaults,
 * L = -sum_{b,t} m_{b,t} log pi(y_{b,t} | x_b, y_{b,<t}) / sum m, as DeepSeek-R1's cold-start SFT
 * before RL (DeepSeek-AI 2025, arXiv:2501.12948). Prompt tokens and padding are not scored.
 *
 * @param policy any {@link Policy}.
 * @param batch see {@link SftBatch}.
 * @param options see {@link SftLossOptions}: `labelSmoothing` (default 0), `aggregation` (default
 *   `'token-mean'`), `maxLength`, `normalizer`.
 * @returns float32 scalar; 0 (plus `auxLoss`) when the mask is empty.
 * @throws when shapes disagree, the mask is not 0/1, or an option is out of range.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '3'}], {contextLength: 16});
 * sftBatchLoss(policy, batch, {labelSmoothing: 0.1}); // about log(13) = 2.56 at initialisation
 * tf.dispose(Object.values(batch)); policy.dispose();
 */
export function sftBatchLoss(policy: Policy, batch: SftBatch, options: SftLossOptions = {}): tf.Scalar {
  const fn = 'sftBatchLoss';
  assertKnownInputs(batch, ['promptTokens', 'promptMask', 'completionTokens', 'completionMask'], fn, 'batch');
  assertShape(batch.completionMask, batch.completionTokens.shape, fn, 'completionMask', ['batch', 'completionTime']);
  return batchLoss(policy, batch, options, false);
}

/** {@link sftBatchLoss} without its batch checks; `maskChecked`: the completion mask's values were checked. */
function batchLoss(policy: Policy, batch: SftBatch, options: SftLossOptions, maskChecked: boolean): tf.Scalar {
  const {promptTokens, promptMask, completionTokens, completionMask} = batch;
  return tf.tidy(() => {
    const {logits, auxLoss} = completionForward(policy, {promptTokens, promptMask, completionTokens});
    return withAuxLoss(sftLossChecked({logits, labels: completionTokens, mask: completionMask}, options, maskChecked), auxLoss);
  });
}

/**
 * Checks an {@link SftBatch} before the gradient tape (an error thrown inside it would keep the tape's
 * saved tensors): known keys, rank-2 tensors, masks shaped as their tokens, one batch size; and (a
 * value check, once per mask) `completionMask` in {0, 1}.
 */
function assertSftBatch(batch: SftBatch, fn: string): void {
  assertKnownInputs(batch, ['promptTokens', 'promptMask', 'completionTokens', 'completionMask'], fn, 'batch');
  const {promptTokens, promptMask, completionTokens, completionMask} = batch;
  assertRank(promptTokens, 2, fn, 'batch.promptTokens', ['batch', 'promptTime']);
  assertShape(promptMask, promptTokens.shape, fn, 'batch.promptMask', ['batch', 'promptTime']);
  assertRank(completionTokens, 2, fn, 'batch.completionTokens', ['batch', 'completionTime']);
  assertShape(completionTokens, [promptTokens.shape[0], completionTokens.shape[1]], fn, 'batch.completionTokens',
      ['batch', 'completionTime']);
  assertShape(completionMask, completionTokens.shape, fn, 'batch.completionMask', ['batch', 'completionTime']);
  assertBinaryMaskOnce(completionMask, fn, 'batch.completionMask');
}

/** Result of {@link sftStep}; the metrics of the policy's `afterOptimizerStep` are merged in by name. */
export interface SftStepResult {
  /** Loss before the update (including the policy's `auxLoss`, if any). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Metrics of the policy's `afterOptimizerStep` (JS numbers). */
  [metric: string]: number;
}

/** Options of {@link sftStep}: the loss options of {@link sftLoss} plus the gradient clip. */
export interface SftStepOptions extends SftLossOptions {
  /** Clip the global gradient norm to this value; default `1`. `Infinity` turns it off. */
  maxGradNorm?: number;
}

/**
 * One optimizer step on {@link sftBatchLoss} (gradients of the policy's trainable variables, global-norm
 * clipped, applied by `optimizer`).
 *
 * @param policy the (trainable) policy.
 * @param optimizer a tfjs optimizer, e.g. `tf.train.adam(1e-3)`.
 * @param batch see {@link SftBatch}.
 * @param options `maxGradNorm` (gradient clip; default `1`) and the loss options of {@link sftLoss}
 *   (`labelSmoothing`, `aggregation`, `maxLength`, `normalizer`, with its defaults).
 * @returns the loss before the update and the gradient norm (JS numbers), plus the policy's
 *   `afterOptimizerStep` metrics.
 * @throws when `policy` is not a Policy or is frozen, `optimizer` is not a tf.Optimizer, an option is
 *   unknown or out of range (the loss options too, named `sftStep`), or the batch is malformed: a key
 *   is unknown or missing, a tensor is not rank 2, the masks' shapes differ from their tokens', the
 *   completion rows differ from the prompt rows, or (a value check, one read-back per mask)
 *   `completionMask` is not 0/1.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+=', specialTokens: ['<answer>', '</answer>']});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 24, layers: 1, width: 16, heads: 2});
 * const batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '<answer>3</answer>'}], {contextLength: 24});
 * const optimizer = tf.train.adam(1e-2);
 * for (let i = 0; i < 20; i++) await sftStep(policy, optimizer, batch); // loss 2.79 -> 0.23
 * tf.dispose(Object.values(batch));
 * policy.dispose();
 */
export async function sftStep(
    policy: Policy, optimizer: tf.Optimizer, batch: SftBatch,
    options: SftStepOptions = {}): Promise<SftStepResult> {
  const fn = 'sftStep';
  assertKnownOptions(options, ['maxGradNorm', 'labelSmoothing', 'aggregation', 'maxLength', 'normalizer'], fn);
  assertGradientsRegistered(fn);
  assertPolicy(policy, fn, 'policy', true);
  assertOptimizer(optimizer, fn);
  const {maxGradNorm = 1, ...lossOptions} = options;
  check(typeof maxGradNorm === 'number' && maxGradNorm > 0, fn, () => `'maxGradNorm' expected a number > 0 (Infinity: no clip), got ${maxGradNorm}`);
  // Loss options fail here, named by the step, not inside the gradient tape (tfjs keeps the saved
  // tensors of a forward pass that throws).
  resolveSftLossOptions(lossOptions, fn);
  // Checks the completion mask's values once (a value check); the loss inside the tape does not read it again.
  assertSftBatch(batch, fn);
  const {loss, gradNorms} = applyClippedGradients(
      optimizer, () => batchLoss(policy, batch, lossOptions, true), [policy.variables()], maxGradNorm);
  const hooks = new HookMetrics();
  hooks.after([['', policy]]);
  const [l, n] = await Promise.all([loss.data(), gradNorms[0]!.data()]);
  tf.dispose([loss, ...gradNorms]);
  return hooks.mergeInto({loss: l[0]!, gradNorm: n[0]!}, fn);
}

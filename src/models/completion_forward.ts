/**
 * The policy's outputs at the completion positions of prompt + completion sequences.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownInputs, assertRank, assertShape, check} from '../math/assert.js';
import {ensureWebGPUFastPaths} from '../math/fused/webgpu_fast_paths.js';
import type {Policy, PolicyForward} from './policy.js';
import {assertBinaryMaskOnce, markBinaryMask} from './checked_masks.js';

/** Inputs of {@link completionForward}. */
export interface CompletionForwardInputs {
  /** `[batch, promptTime]` int32 left-padded prompt ids. */
  promptTokens: tf.Tensor2D;
  /** `[batch, promptTime]` 1 on prompt tokens, 0 on padding. */
  promptMask: tf.Tensor2D;
  /** `[batch, completionTime]` int32 completion ids (padding after the stop token is fine). */
  completionTokens: tf.Tensor2D;
}

/**
 * Runs the policy on `prompt ++ completion[:-1]` and returns the logits (and hidden states, when the
 * policy exposes them) that predict each completion token: row t of the result is the model's output
 * at the position just before completion token t (the last prompt token for t = 0). Feed `logits`
 * and `completionTokens` to `tokenLogProbs`, and `hidden` to a value head (V of the state in which
 * token t is chosen). The policy's `auxLoss` of this forward pass, if any, is passed through.
 *
 * @param policy any {@link Policy}.
 * @param inputs see {@link CompletionForwardInputs}.
 * @returns `{logits: [batch, completionTime, vocab], hidden?: [batch, completionTime, width], auxLoss?}`.
 * @throws when shapes disagree, prompt + completion - 1 exceeds the context, the policy's logits
 *   are not `[batch, time, vocabSize]`, or (a value check, one read-back the first time a mask is
 *   seen) `promptMask` holds a value other than 0 and 1.
 * @example
 * const policy = TransformerPolicy.create({vocabSize: 8, contextLength: 8, layers: 1, width: 8, heads: 2});
 * const promptTokens = tf.tensor2d([[2, 3]], [1, 2], 'int32');
 * const promptMask = tf.ones([1, 2]) as tf.Tensor2D;
 * const completionTokens = tf.tensor2d([[4, 5, 1]], [1, 3], 'int32');
 * const {logits, hidden} = completionForward(policy, {promptTokens, promptMask, completionTokens}); // [1,3,8], [1,3,8]
 * tf.dispose([logits, hidden!, promptTokens, promptMask, completionTokens]);
 * policy.dispose();
 */
export function completionForward(
    policy: Policy, inputs: CompletionForwardInputs): PolicyForward {
  const fn = 'completionForward';
  ensureWebGPUFastPaths();
  assertKnownInputs(inputs, ['promptTokens', 'promptMask', 'completionTokens'], fn);
  const {promptTokens, promptMask, completionTokens} = inputs;
  assertRank(promptTokens, 2, fn, 'promptTokens', ['batch', 'promptTime'], 'int32');
  assertShape(promptMask, promptTokens.shape, fn, 'promptMask', ['batch', 'promptTime']);
  assertBinaryMaskOnce(promptMask, fn, 'promptMask');
  assertRank(completionTokens, 2, fn, 'completionTokens', ['batch', 'completionTime'], 'int32');
  const [B, P] = promptTokens.shape;
  const [Bc, C] = completionTokens.shape;
  const V = policy.vocabSize;
  check(Bc === B, fn, () => `'completionTokens' expected batch ${B} (of 'promptTokens'), got ${Bc}`);
  check(C >= 1, fn, () => `'completionTokens' expected at least one token, got shape [${Bc},${C}]`);
  check(P + C - 1 <= policy.contextLength, fn, () =>
    `prompt (${P}) + completion (${C}) - 1 tokens exceed the policy's contextLength ${policy.contextLength}`);
  return tf.tidy(() => {
    const input = C > 1 ? tf.concat([promptTokens, tf.slice(completionTokens, [0, 0], [B, C - 1])], 1) : promptTokens;
    const mask = C > 1 ? tf.concat([tf.cast(promptMask, 'float32'), tf.ones([B, C - 1])], 1) : tf.cast(promptMask, 'float32');
    markBinaryMask(mask, [promptMask]); // checked above: the policy's apply does not read it back again
    const {logits, hidden, auxLoss} = policy.apply(input as tf.Tensor2D, {attentionMask: mask as tf.Tensor2D});
    const T = P + C - 1;
    check(logits.rank === 3 && logits.shape[0] === B && logits.shape[1] === T && logits.shape[2] === V, fn, () =>
      `the policy's apply returned logits of shape [${logits.shape.join(',')}], expected [${B},${T},${V}] (vocabSize ${V})`);
    const out: PolicyForward = {logits: tf.slice(logits, [0, P - 1, 0], [B, C, V])};
    if (hidden !== undefined) out.hidden = tf.slice(hidden, [0, P - 1, 0], [B, C, hidden.shape[2]]);
    if (auxLoss !== undefined) out.auxLoss = auxLoss;
    return out as unknown as tf.TensorContainer;
  }) as unknown as PolicyForward;
}

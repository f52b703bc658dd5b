// The input checks of the model layer's forward and sampling entry points: prompt / attention /
// reward masks (binary, left padding where the function requires it, each mask read back once),
// unknown option and input keys, and embedding ids out of range. Each message pinned; each value
// check skipped with configureValidation({valueChecks: false}).
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {completionForward} from '../../src/models/completion_forward.js';
import {embeddingLookup} from '../../src/models/embedding_lookup.js';
import {encodePrompts} from '../../src/models/encode_prompts.js';
import {RewardModel} from '../../src/models/reward_model.js';
import {sampleCompletions, sampleCompletionsAsync} from '../../src/models/sample_completions.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {policyFromFunction} from '../../src/models/policy_from_function.js';

const tok = charTokenizer({alphabet: '0123456789+'});
const make = (): TransformerPolicy =>
  TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 8, heads: 2, seed: 1});
const ids = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

/** Runs `f` with value checks off, restoring the previous setting. */
function withoutValueChecks<T>(f: () => T): T {
  const prev = configureValidation({valueChecks: false});
  try {
    return f();
  } finally {
    configureValidation(prev);
  }
}

describe('sampleCompletions input checks', () => {
  const opts = {maxNewTokens: 2, seed: 1};

  it('rejects float32 prompt tokens, unknown prompt keys, and prompt masks that are not binary or not left-padded', async () => {
    const policy = make();
    const tokens = ids([[2, 3, 4]]);
    const floatTokens = tf.tensor2d([[2, 3, 4]]);
    const masks = {half: tf.tensor2d([[0, 0.5, 1]]), two: tf.tensor2d([[1, 2, 1]]), right: tf.tensor2d([[1, 1, 0]]),
      empty: tf.tensor2d([[0, 0, 0]]), ok: tf.tensor2d([[0, 1, 1]])};
    const before = tf.memory().numTensors;
    expect(() => sampleCompletions(policy, {tokens: floatTokens, mask: masks.ok}, opts)).toThrow(
        'sampleCompletions: \'prompts.tokens\' expected dtype int32, got float32');
    expect(() => sampleCompletions(policy, {tokens, mask: masks.ok, attentionMask: masks.ok} as never, opts)).toThrow(
        "sampleCompletions: unknown key of 'prompts' 'attentionMask'; expected one of 'tokens', 'mask'");
    expect(() => sampleCompletions(policy, {tokens, mask: masks.half}, opts)).toThrow(
        "sampleCompletions: 'prompts.mask' expected values in {0, 1}, got 0.5 (shape [1,3])");
    expect(() => sampleCompletions(policy, {tokens, mask: masks.two}, opts)).toThrow(
        "sampleCompletions: 'prompts.mask' expected values in {0, 1}, got 2 (shape [1,3])");
    expect(() => sampleCompletions(policy, {tokens, mask: masks.right}, opts)).toThrow(
        "sampleCompletions: 'prompts.mask' expected left padding (0s before 1s in each row; prompts are left-padded, " +
        'see encodePrompts), got a 0 after a 1 in row 0 at time 2 (right padding?)');
    expect(() => sampleCompletions(policy, {tokens, mask: masks.empty}, opts)).toThrow(
        "sampleCompletions: 'prompts.mask' expected at least one 1 in each row (left padding: the last position is a " +
        'real token), got an all-padding row 0');
    // The asynchronous sampler checks the values it reads (on every backend).
    await expect(sampleCompletionsAsync(policy, {tokens, mask: masks.right}, opts)).rejects.toThrow(
        "sampleCompletions: 'prompts.mask' expected left padding");
    expect(tf.memory().numTensors).toBe(before);
    const out = sampleCompletions(policy, {tokens, mask: masks.ok}, opts);
    expect(out.tokens.shape).toEqual([1, 2]);
    tf.dispose([out.tokens, out.logProbs, out.mask]);
    // Value checks off: the mask values are not checked (the sampler runs).
    const unchecked = withoutValueChecks(() => sampleCompletions(policy, {tokens, mask: masks.right}, opts));
    expect(unchecked.tokens.shape).toEqual([1, 2]);
    tf.dispose([unchecked.tokens, unchecked.logProbs, unchecked.mask, tokens, floatTokens, ...Object.values(masks)]);
    policy.dispose();
  });

  it('without a cache, the per-step forward passes do not read the mask back again', () => {
    const policy = make();
    let applied = 0;
    const noCache = policyFromFunction({
      apply: (t: tf.Tensor2D, o) => { applied++; return policy.apply(t, o).logits; }, variables: policy.variables(),
      vocabSize: policy.vocabSize, contextLength: policy.contextLength,
    });
    const prompts = encodePrompts(tok, ['1+2', '7'], {contextLength: 16, maxNewTokens: 4});
    const reads: string[] = [];
    const original = tf.Tensor.prototype.dataSync;
    tf.Tensor.prototype.dataSync = function (this: tf.Tensor) { reads.push(fmt(this.shape)); return original.call(this) as never; };
    try {
      const out = sampleCompletions(noCache, prompts, {maxNewTokens: 4, seed: 3});
      tf.dispose([out.tokens, out.logProbs, out.mask]);
    } finally {
      tf.Tensor.prototype.dataSync = original;
    }
    // Reads: the prompt mask once, and per step the tokens' range (assertPolicyTokens) and the log-probs.
    expect(applied).toBe(4);
    expect(reads.filter((r) => r === '[2]').length).toBe(4); // the token-range pair [min, max] per forward
    expect(reads.length).toBe(1 + 4 + 4);
    tf.dispose([prompts.tokens, prompts.mask]);
    policy.dispose();
  });
});

const fmt = (shape: readonly number[]): string => `[${shape.join(',')}]`;

describe('TransformerPolicy.apply input checks', () => {
  it("rejects an unknown option (attention_mask) and a mask that is not binary; the check is skipped with valueChecks off", () => {
    const policy = make();
    const x = ids([[2, 3, 4]]);
    const half = tf.tensor2d([[1, 0.5, 1]]);
    const two = tf.tensor2d([[1, 1, 2]]);
    const before = tf.memory().numTensors;
    expect(() => policy.apply(x, {attention_mask: half} as never)).toThrow(
        "TransformerPolicy.apply: unknown option 'attention_mask'; expected one of 'attentionMask'; did you mean 'attentionMask'?");
    expect(() => policy.apply(x, {attentionMask: half})).toThrow(
        "TransformerPolicy.apply: 'attentionMask' expected values in {0, 1}, got 0.5 (shape [1,3])");
    expect(() => policy.apply(x, {attentionMask: two})).toThrow(
        "TransformerPolicy.apply: 'attentionMask' expected values in {0, 1}, got 2 (shape [1,3])");
    expect(tf.memory().numTensors).toBe(before);
    const out = withoutValueChecks(() => policy.apply(x, {attentionMask: half}));
    expect(out.logits.shape).toEqual([1, 3, tok.vocabSize]);
    tf.dispose([out.logits, out.hidden, x, half, two]);
    policy.dispose();
  });
});

describe('completionForward input checks', () => {
  it("rejects a promptMask that is not binary (skipped with valueChecks off)", () => {
    const policy = make();
    const promptTokens = ids([[2, 3]]);
    const completionTokens = ids([[4, 5]]);
    const half = tf.tensor2d([[0.5, 1]]);
    const two = tf.tensor2d([[2, 1]]);
    const before = tf.memory().numTensors;
    expect(() => completionForward(policy, {promptTokens, promptMask: half, completionTokens})).toThrow(
        "completionForward: 'promptMask' expected values in {0, 1}, got 0.5 (shape [1,2])");
    expect(() => completionForward(policy, {promptTokens, promptMask: two, completionTokens})).toThrow(
        "completionForward: 'promptMask' expected values in {0, 1}, got 2 (shape [1,2])");
    expect(tf.memory().numTensors).toBe(before);
    const out = withoutValueChecks(() => completionForward(policy, {promptTokens, promptMask: half, completionTokens}));
    expect(out.logits.shape).toEqual([1, 2, tok.vocabSize]);
    tf.dispose([out.logits, out.hidden!, promptTokens, completionTokens, half, two]);
    policy.dispose();
  });
});

describe('one read-back per mask', () => {
  it('completionForward reads its promptMask once across calls; the policy does not re-read the joined mask', () => {
    const policy = make();
    const promptTokens = ids([[2, 3]]);
    const promptMask = tf.tensor2d([[0, 1]]);
    const completionTokens = ids([[4, 5, 6]]);
    const reads = countReads(() => {
      for (let i = 0; i < 3; i++) {
        const out = completionForward(policy, {promptTokens, promptMask, completionTokens});
        tf.dispose([out.logits, out.hidden!]);
      }
    });
    expect(reads).toEqual(['[]', '[2]', '[2]', '[2]']); // the mask flag once, the token range per forward
    tf.dispose([promptTokens, promptMask, completionTokens]);
    policy.dispose();
  });

  it('RewardModel.scoreTexts builds its left-padded mask itself: no mask read-back', () => {
    const policy = make();
    const rm = RewardModel.fromPolicy(policy);
    let scores: tf.Tensor1D | undefined;
    const reads = countReads(() => { scores = rm.scoreTexts(tok, ['1+2', '7']); });
    expect(reads).toEqual(['[2]']); // the token range only
    tf.dispose(scores!);
    rm.dispose();
    policy.dispose();
  });
});

/** The shapes of the tensors `f` reads back synchronously. */
function countReads(f: () => void): string[] {
  const reads: string[] = [];
  const original = tf.Tensor.prototype.dataSync;
  tf.Tensor.prototype.dataSync = function (this: tf.Tensor) { reads.push(fmt(this.shape)); return original.call(this) as never; };
  try {
    f();
  } finally {
    tf.Tensor.prototype.dataSync = original;
  }
  return reads;
}

describe('encodePrompts input checks', () => {
  it('rejects unknown option keys', () => {
    expect(() => encodePrompts(tok, ['1+2'], {contextLength: 16, max_new_tokens: 4} as never)).toThrow(
        "encodePrompts: unknown option 'max_new_tokens'; expected one of 'contextLength', 'maxNewTokens'; did you mean 'maxNewTokens'?");
  });
});

describe('RewardModel.score input checks', () => {
  it('rejects a mask that is not binary, right-padded or with an all-padding row (skipped with valueChecks off)', () => {
    const policy = make();
    const rm = RewardModel.fromPolicy(policy);
    const tokens = ids([[2, 3, 4], [5, 6, 7]]);
    const masks = {half: tf.tensor2d([[1, 1, 1], [0, 0.5, 1]]), right: tf.tensor2d([[1, 1, 1], [1, 1, 0]]),
      empty: tf.tensor2d([[1, 1, 1], [0, 0, 0]]), ok: tf.tensor2d([[1, 1, 1], [0, 1, 1]])};
    const before = tf.memory().numTensors;
    expect(() => rm.score(tokens, masks.half)).toThrow(
        "RewardModel.score: 'mask' expected values in {0, 1}, got 0.5 (shape [2,3])");
    expect(() => rm.score(tokens, masks.right)).toThrow(
        "RewardModel.score: 'mask' expected left padding (0s before 1s in each row; the score is read at the last " +
        'position), got a 0 after a 1 in row 1 at time 2 (right padding?)');
    expect(() => rm.score(tokens, masks.empty)).toThrow(
        "RewardModel.score: 'mask' expected at least one 1 in each row (left padding: the last position is a real " +
        'token), got an all-padding row 1');
    expect(tf.memory().numTensors).toBe(before);
    const ok = rm.score(tokens, masks.ok);
    expect(ok.shape).toEqual([2]);
    const unchecked = withoutValueChecks(() => rm.score(tokens, masks.right));
    expect(unchecked.shape).toEqual([2]);
    tf.dispose([ok, unchecked, tokens, ...Object.values(masks)]);
    rm.dispose();
    policy.dispose();
  });
});

describe('embeddingLookup input checks', () => {
  it('names ids outside [0, vocab) (skipped with valueChecks off)', () => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const bad = tf.tensor1d([0, 7, 1], 'int32');
    const negative = tf.tensor1d([-1], 'int32');
    const before = tf.memory().numTensors;
    expect(() => embeddingLookup(table, bad)).toThrow(
        "embeddingLookup: 'ids' expected values in [0, 3) (vocab size from 'table' [3,2]), got 7 at flat index 1 (shape [3])");
    expect(() => embeddingLookup(table, negative)).toThrow(
        "embeddingLookup: 'ids' expected values in [0, 3) (vocab size from 'table' [3,2]), got -1 at flat index 0 (shape [1])");
    expect(tf.memory().numTensors).toBe(before);
    // Value checks off: no read-back, tfjs's gather gets the ids (cpu: its own range error).
    expect(() => withoutValueChecks(() => embeddingLookup(table, bad))).toThrow(/GatherV2/);
    tf.dispose([table, bad, negative]);
  });
});

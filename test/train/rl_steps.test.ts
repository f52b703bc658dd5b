import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {ValueHead} from '../../src/models/value_head.js';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {named} from '../../src/rewards/named.js';
import {weighted} from '../../src/rewards/weighted.js';
import {additionProblems, additionTokenizer} from '../../examples/tasks/addition_task.js';
import {loadCheckpointFiles, saveCheckpointFiles} from '../../src/train/checkpoint_files.js';
import {grpoStep} from '../../src/train/grpo_step.js';
import {ppoStep} from '../../src/train/ppo_step.js';
import {rlLoop} from '../../src/train/rl_loop.js';

const tok = additionTokenizer();
const reward = weighted([[named('accuracy', gate(formatReward(), accuracyReward())), 1], [named('format', formatReward()), 0.1]]);
const problems = additionProblems(2, {seed: 1});
const tiny = (): TransformerPolicy =>
  TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 26, layers: 1, width: 16, heads: 2, seed: 0});

describe('grpoStep', () => {
  it('runs, reports metrics, changes the policy, and leaks no tensors across steps (rlLoop)', async () => {
    const policy = tiny();
    const reference = policy.copy();
    const optimizer = tf.train.adam(1e-2);
    // A dense reward (count of '1' characters) so that groups have non-zero advantages.
    const ones = (samples: readonly {completion: string}[]): number[] => samples.map((s) => s.completion.split('1').length - 1);
    const before = Array.from(policy.weights.get('tok_emb')!.dataSync());
    const records = await rlLoop({
      steps: 4,
      step: (i) => grpoStep({policy, reference, optimizer, tokenizer: tok, reward: ones}, problems,
          {groupSize: 4, maxNewTokens: 21, seed: i, mu: 2}),
    });
    expect(records).toHaveLength(4);
    expect(records[0]!.samples).toBe(8);
    expect(records[0]!.peakBytes).toBeGreaterThan(0);
    expect(records[3]!.numTensors).toBe(records[1]!.numTensors);
    expect(records.every((r) => Number.isFinite(r.loss) && r.kl >= 0)).toBe(true);
    expect(Array.from(policy.weights.get('tok_emb')!.dataSync())).not.toEqual(before);
    policy.dispose(); reference.dispose(); optimizer.dispose();
  });

  it('throws named errors on bad input', async () => {
    const policy = tiny();
    const optimizer = tf.train.adam(1e-3);
    const ctx = {policy, optimizer, tokenizer: tok, reward};
    await expect(grpoStep(ctx, problems, {groupSize: 1, maxNewTokens: 21})).rejects.toThrow(/grpoStep: 'groupSize' expected >= 2, got 1/);
    await expect(grpoStep(ctx, problems, {groupSize: 2, maxNewTokens: 21})).rejects.toThrow(/grpoStep: 'reference' is required when beta > 0 \(got beta 0.04\)/);
    const other = charTokenizer({alphabet: '0123456789+=,abcdefghij'});
    await expect(grpoStep({...ctx, tokenizer: other}, problems, {groupSize: 2, maxNewTokens: 21, loss: {beta: 0}})).rejects.toThrow(
        /grpoStep: 'tokenizer' has vocabSize 25 but the policy's vocabSize is 19/);
    await expect(grpoStep(ctx, problems, {groupSize: 2, maxNewTokens: 30, loss: {beta: 0}})).rejects.toThrow(
        /encodePrompts: 'prompts\[0\]' has 5 tokens; with maxNewTokens=30 that exceeds contextLength=26/);
    policy.dispose(); optimizer.dispose();
  });
});

describe('ppoStep', () => {
  it.each(['shared', 'separate'] as const)('runs with a %s critic and leaks no tensors across steps', async (layout) => {
    const policy = tiny();
    const reference = policy.copy();
    const critic = {trunk: layout === 'shared' ? policy : policy.copy({trainable: true}), head: new ValueHead(16, {seed: 0})};
    const optimizer = tf.train.adam(1e-3);
    const headBefore = Array.from(critic.head.kernel.dataSync());
    const records = await rlLoop({
      steps: 3,
      step: (i) => ppoStep({policy, reference, critic, optimizer, tokenizer: tok, reward}, problems, {groupSize: 2, maxNewTokens: 21, seed: i}),
    });
    expect(records[2]!.numTensors).toBe(records[1]!.numTensors);
    expect(records.every((r) => Number.isFinite(r.loss) && Number.isFinite(r.valueLoss))).toBe(true);
    expect(Array.from(critic.head.kernel.dataSync())).not.toEqual(headBefore);
    if (critic.trunk !== policy) critic.trunk.dispose();
    critic.head.dispose(); policy.dispose(); reference.dispose(); optimizer.dispose();
  });

  it('rejects a value head of the wrong size', async () => {
    const policy = tiny();
    const head = new ValueHead(8);
    await expect(ppoStep({policy, critic: {trunk: policy, head}, optimizer: tf.train.adam(1e-3), tokenizer: tok, reward},
        problems, {groupSize: 2, maxNewTokens: 21, beta: 0})).rejects.toThrow(/ppoStep: 'critic.head' expected hiddenSize 16/);
    head.dispose(); policy.dispose();
  });
});

describe('checkpoint files', () => {
  it('round-trip a policy through model.json + weights.bin', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tfjs-grpo-'));
    const policy = tiny();
    await saveCheckpointFiles(policy, dir, {tokenizer: tok.options});
    const {policy: loaded, metadata} = await loadCheckpointFiles(dir);
    expect(metadata).toEqual({tokenizer: tok.options});
    const x = tf.tensor2d([[3, 4, 5]], [1, 3], 'int32');
    expect(Array.from(loaded.apply(x).logits.dataSync())).toEqual(Array.from(policy.apply(x).logits.dataSync()));
    x.dispose(); policy.dispose(); loaded.dispose();
    await rm(dir, {recursive: true});
  });
});

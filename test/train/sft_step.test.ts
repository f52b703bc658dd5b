import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {additionProblems, additionTokenizer} from '../../examples/tasks/addition_task.js';
import {encodeSftBatch, sftBatchLoss, sftStep} from '../../src/train/sft_step.js';

const tok = additionTokenizer();

describe('sftStep', () => {
  it('decreases the loss on a tiny set, with no tensor leak across steps', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 26, layers: 1, width: 16, heads: 2, seed: 0});
    const pairs = additionProblems(4, {seed: 1}).map((p) => ({prompt: p.prompt, completion: p.demonstration}));
    const batch = encodeSftBatch(tok, pairs, {contextLength: 26});
    const optimizer = tf.train.adam(1e-2);
    const losses: number[] = [];
    let count = 0;
    for (let i = 0; i < 25; i++) {
      losses.push((await sftStep(policy, optimizer, batch)).loss);
      if (i === 1) count = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(count);
    expect(losses[24]!).toBeLessThan(0.6 * losses[0]!);
    tf.dispose(Object.values(batch));
    optimizer.dispose();
    policy.dispose();
  });

  it('counts only completion tokens: padding after the completion changes nothing', () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 26, layers: 1, width: 16, heads: 2, seed: 0});
    const short = {prompt: '12+34', completion: '<think>2+4=6</think>'};
    const long = {prompt: '99+99', completion: '<think>9+9=18,9+9+1=19</think><answer>198</answer>'};
    const alone = encodeSftBatch(tok, [short], {contextLength: 26});
    const padded = encodeSftBatch(tok, [short, long], {contextLength: 26});
    const l1 = sftBatchLoss(policy, alone).dataSync()[0]!;
    // Row 0 of the padded batch alone: mask out row 1.
    const m = padded.completionMask.arraySync() as number[][];
    const onlyFirst = {...padded, completionMask: tf.tensor2d([m[0]!, m[1]!.map(() => 0)])};
    expect(sftBatchLoss(policy, onlyFirst).dataSync()[0]!).toBeCloseTo(l1, 4);
    tf.dispose([...Object.values(alone), ...Object.values(padded), onlyFirst.completionMask]);
    policy.dispose();
  });

  it('sftStep takes the sftLoss options: its loss is sftBatchLoss with them (label smoothing, aggregation)', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 26, layers: 1, width: 16, heads: 2, seed: 0});
    const pairs = additionProblems(3, {seed: 2}).map((p) => ({prompt: p.prompt, completion: p.demonstration}));
    const batch = encodeSftBatch(tok, pairs, {contextLength: 26});
    const options = {labelSmoothing: 0.2, aggregation: 'seq-mean-token-sum' as const};
    const want = sftBatchLoss(policy, batch, options).dataSync()[0]!;
    expect(want).not.toBeCloseTo(sftBatchLoss(policy, batch).dataSync()[0]!, 2);
    const {loss} = await sftStep(policy, tf.train.sgd(0.1), batch, options);
    expect(loss).toBeCloseTo(want, 4);
    await expect(sftStep(policy, tf.train.sgd(0.1), batch, {labelSmoothing: 2})).rejects.toThrow("sftStep: 'labelSmoothing' expected <= 1, got 2");
    tf.dispose(Object.values(batch));
    policy.dispose();
  });

  it('throws named errors', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 8, layers: 1, width: 8, heads: 2});
    expect(() => encodeSftBatch(tok, [{prompt: '12+34', completion: '<think>2+4=6</think>'}], {contextLength: 8})).toThrow(
        /encodePrompts: 'prompts\[0\]' has 5 tokens; with maxNewTokens=6 that exceeds contextLength=8/);
    const frozen = policy.copy();
    const batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '<think>3'}], {contextLength: 8});
    await expect(sftStep(frozen, tf.train.sgd(0.1), batch)).rejects.toThrow(/applyClippedGradients: 'groups' expected non-empty groups of trainable variables/);
    tf.dispose(Object.values(batch));
    policy.dispose(); frozen.dispose();
  });
});

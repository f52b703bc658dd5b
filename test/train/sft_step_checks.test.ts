import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it, vi} from 'vitest';
import {additionTokenizer} from '../../examples/tasks/addition_task.js';
import {configureValidation} from '../../src/math/assert.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {encodeSftBatch, sftStep} from '../../src/train/sft_step.js';

const tok = additionTokenizer();

/** Runs `f` and counts the read-backs made by assertBinaryMask (by stack frame). */
async function maskReads(f: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const original = tf.Tensor.prototype.dataSync;
  const spy = vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: tf.Tensor) {
    if ((new Error().stack ?? '').includes('assertBinaryMask')) n++;
    return original.call(this) as never;
  });
  try {
    await f();
  } finally {
    spy.mockRestore();
  }
  return n;
}

describe('sftStep option and mask checks', () => {
  it('names the loss options by sftStep, before the tape, with no tensor left', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 8, heads: 2});
    const batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '<think>3'}], {contextLength: 16});
    const opt = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    try {
      const step = (o: unknown) => sftStep(policy, opt, batch, o as never);
      await expect(step({labelSmoothing: NaN})).rejects.toThrow("sftStep: 'labelSmoothing' expected a finite number, got NaN");
      await expect(step({aggregation: 'mean'})).rejects.toThrow(
          "sftStep: 'aggregation' expected one of 'token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm', got \"mean\"");
      await expect(step({maxLength: 4})).rejects.toThrow(
          "sftStep: 'maxLength' applies only to aggregation 'seq-mean-token-sum-norm', got it with 'token-mean'");
      await expect(step({normalizer: 0})).rejects.toThrow("sftStep: 'normalizer' expected > 0, got 0");
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      tf.dispose(Object.values(batch));
      opt.dispose();
      policy.dispose();
    }
  });

  it('reads completionMask back once (first step only), and skips it with valueChecks off', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 8, heads: 2});
    const batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '<think>3'}], {contextLength: 16});
    const opt = tf.train.sgd(0.1);
    const m = batch.completionMask.arraySync() as number[][];
    const twos = tf.tensor2d(m.map((r) => r.map((v) => 2 * v))) as tf.Tensor2D;
    try {
      expect(await maskReads(() => sftStep(policy, opt, batch))).toBe(1);
      expect(await maskReads(() => sftStep(policy, opt, batch))).toBe(0);
      await expect(sftStep(policy, opt, {...batch, completionMask: twos})).rejects.toThrow(
          "sftStep: 'batch.completionMask' expected values in {0, 1}, got 2 (shape [1,2])");
      const prev = configureValidation({valueChecks: false});
      try {
        const {loss} = await sftStep(policy, opt, {...batch, completionMask: twos});
        expect(Number.isFinite(loss)).toBe(true);
      } finally {
        configureValidation(prev);
      }
    } finally {
      tf.dispose([...Object.values(batch), twos]);
      opt.dispose();
      policy.dispose();
    }
  });
});

import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {policySampler, type PolicySamplerOptions} from '../../src/train/policy_sampler.js';

describe('policySampler checks', () => {
  const tok = charTokenizer({alphabet: '0123456789+'});

  it('checks options when the sampler is built, named by policySampler, with no tensor left', () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
    const make = (o: unknown) => () => policySampler(policy, tok, o as PolicySamplerOptions);
    const before = tf.memory().numTensors;
    try {
      expect(make(undefined)).toThrow("policySampler: 'options' expected {maxNewTokens, ...}, got undefined");
      expect(make([])).toThrow("policySampler: 'options' expected {maxNewTokens, ...}, got an array of length 0");
      expect(make({maxNewTokens: 2, temperature: NaN})).toThrow("policySampler: 'temperature' expected a finite number, got NaN");
      expect(make({maxNewTokens: 2, temperature: -1})).toThrow("policySampler: 'temperature' expected >= 0, got -1");
      expect(make({maxNewTokens: 2, topP: 2})).toThrow("policySampler: 'topP' expected <= 1, got 2");
      expect(make({maxNewTokens: 2, topP: 0})).toThrow("policySampler: 'topP' expected > 0, got 0");
      expect(make({maxNewTokens: 2, stopToken: 99})).toThrow(`policySampler: 'stopToken' expected <= ${tok.vocabSize - 1}, got 99`);
      expect(make({maxNewTokens: 2, stopToken: 'a'})).toThrow("policySampler: 'stopToken' expected a finite number, got a");
      expect(make({maxNewTokens: 1.5})).toThrow("policySampler: 'maxNewTokens' expected an integer, got 1.5");
      expect(make({maxNewTokens: 2, batchSize: NaN})).toThrow("policySampler: 'batchSize' expected a finite number, got NaN");
      expect(make({maxNewTokens: 2, topK: 3})).toThrow("policySampler: unknown option 'topK'; expected one of " +
          "'maxNewTokens', 'temperature', 'topP', 'stopToken', 'batchSize'; did you mean 'topP'?");
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      policy.dispose();
    }
  });

  it('the sampler checks its prompts and seed before encoding', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
    const sampler = policySampler(policy, tok, {maxNewTokens: 2});
    const call = (p: unknown, o: unknown) => Promise.resolve().then(() => sampler(p as string[], o as {seed: number}));
    const before = tf.memory().numTensors;
    try {
      await expect(call('1+2', {seed: 0})).rejects.toThrow("policySampler: sampler 'prompts' expected an array of strings, got \"1+2\"");
      await expect(call(['1+2'], undefined)).rejects.toThrow("policySampler: sampler options expected {seed: integer}, got undefined");
      await expect(call(['1+2'], {})).rejects.toThrow("policySampler: sampler 'seed' expected an integer, got undefined");
      await expect(call(['1+2'], {seed: NaN})).rejects.toThrow("policySampler: sampler 'seed' expected an integer, got number NaN");
      await expect(call(['xyz'], {seed: 0})).rejects.toThrow('charTokenizer.encode');
      expect(tf.memory().numTensors).toBe(before);
      const out = await sampler(['1+2'], {seed: 0});
      expect(out).toHaveLength(1);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      policy.dispose();
    }
  });
});

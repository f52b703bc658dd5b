import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {DeepseekV3Policy} from '../../../src/models/deepseek_v3.js';
import {mtpSpeculativeGreedy} from '../../../src/models/mtp_speculative_greedy.js';
import {loadPretrained} from '../../../src/models/pretrained/load_pretrained_folder.js';
import {tinyConfig} from './tiny_config.js';

function plainGreedy(policy: DeepseekV3Policy, prompt: number[], n: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => {
      const {logits, hidden} = policy.apply(tf.tensor2d(seq, [1, seq.length], 'int32'));
      hidden?.dispose();
      return tf.argMax(tf.slice(logits, [0, seq.length - 1, 0], [1, 1, logits.shape[2]]), -1).dataSync()[0]!;
    });
    seq.push(next);
  }
  return seq.slice(prompt.length);
}

describe('mtpSpeculativeGreedy', () => {
  it('equals plain greedy decoding, on a random tiny model and on the MTP fixture, without leaks', async () => {
    const fixture = (await loadPretrained('test/fixtures/pretrained/deepseek_v3_qlora_grouped_mtp')).policy as unknown as DeepseekV3Policy;
    const tiny = DeepseekV3Policy.create(tinyConfig, {seed: 9});
    for (const [policy, prompt] of [[tiny, [1, 5, 3]], [fixture, [17, 200, 45, 9]]] as const) {
      const before = tf.memory().numTensors;
      const r = mtpSpeculativeGreedy(policy, prompt, {maxNewTokens: 9});
      expect(tf.memory().numTensors).toBe(before);
      expect(r.tokens).toEqual(plainGreedy(policy, [...prompt], 9));
      expect(r.drafted).toBeGreaterThan(0);
      expect(r.accepted).toBeLessThanOrEqual(r.drafted);
      // each pass yields 1 token, plus 1 per accepted draft: 9 tokens = 1 (prefill) + passes - 1 + accepted (capped)
      expect(r.mainPasses - 1 + r.accepted + 1).toBeGreaterThanOrEqual(9);
      expect(r.mainPasses).toBeLessThanOrEqual(9);
    }
    fixture.dispose();
    tiny.dispose();
  });

  it('stops after the stop token and validates its input', () => {
    const tiny = DeepseekV3Policy.create(tinyConfig, {seed: 9});
    const plain = plainGreedy(tiny, [1, 5, 3], 6);
    const stop = plain[2]!;
    const r = mtpSpeculativeGreedy(tiny, [1, 5, 3], {maxNewTokens: 6, stopToken: stop});
    expect(r.tokens).toEqual(plain.slice(0, plain.indexOf(stop) + 1));
    expect(() => mtpSpeculativeGreedy(tiny, [1], {maxNewTokens: 40})).toThrow(/exceeds contextLength 16/);
    tiny.dispose();
    const noMtp = DeepseekV3Policy.create({...tinyConfig, num_nextn_predict_layers: 0});
    expect(() => mtpSpeculativeGreedy(noMtp, [1], {maxNewTokens: 2})).toThrow(/expected an MTP module/);
    noMtp.dispose();
  });
});

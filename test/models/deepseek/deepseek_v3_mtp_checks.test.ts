import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../../src/math/assert.js';
import {DeepseekV3Policy} from '../../../src/models/deepseek_v3.js';
import type {MtpCachedInputs} from '../../../src/models/deepseek_v3_input_checks.js';
import {tinyConfig} from './tiny_config.js';

describe('DeepseekV3Policy MTP input checks', () => {
  it('mtpLogits checks tokens, the options keys and the attention mask (shape, tensor, 0/1)', () => {
    const p = DeepseekV3Policy.create(tinyConfig, {seed: 9});
    const tok = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    const bad = [tf.tensor2d([[1, 2, 3, 4]]), tf.ones([1, 3]), tf.tensor2d([[0, 2, 1, 1]]), tf.ones([1, 4])];
    const before = tf.memory().numTensors;
    const f = 'DeepseekV3Policy.mtpLogits';
    const call = (t: unknown, o?: unknown) => () => p.mtpLogits(t as tf.Tensor2D, o as {attentionMask: tf.Tensor2D});
    try {
      expect(call(bad[0])).toThrow(`${f}: 'tokens' expected dtype int32, got float32`);
      expect(call(tok, {attentionMask: bad[1]})).toThrow(`${f}: 'attentionMask' expected shape [batch, time]=[1,4], got [1,3]`);
      expect(call(tok, {attentionMask: bad[2]})).toThrow(`${f}: 'attentionMask' expected values in {0, 1}, got 2 (shape [1,4])`);
      expect(call(tok, {attentionMask: [[1, 1, 1, 1]]})).toThrow(
          `${f}: 'attentionMask' expected a tf.Tensor, got an array (number[][] of shape [1,4]); wrap it with tf.tensor2d`);
      expect(call(tok, {mask: bad[3]})).toThrow(`${f}: unknown option 'mask'; expected one of 'attentionMask'`);
      expect(call(tok, null)).toThrow(`${f}: 'options' expected {attentionMask?}, got null`);
      expect(() => p.apply(tok, {attnMask: bad[3]} as never)).toThrow(
          "DeepseekV3Policy.apply: unknown option 'attnMask'; expected one of 'attentionMask'");
      expect(tf.memory().numTensors).toBe(before);
      const prev = configureValidation({valueChecks: false});
      try {
        const out = p.mtpLogits(tok, {attentionMask: bad[2] as tf.Tensor2D});
        expect(out).toHaveLength(1);
        tf.dispose(out);
      } finally {
        configureValidation(prev);
      }
    } finally {
      tf.dispose([tok, ...bad]);
      p.dispose();
    }
  });

  it('mtpApplyWithCache checks its inputs, the cache and the key mask before any op', () => {
    const p = DeepseekV3Policy.create(tinyConfig, {seed: 9});
    const D = p.config.hiddenSize;
    const owned: tf.Tensor[] = [];
    const t = <T extends tf.Tensor>(x: T): T => { owned.push(x); return x; };
    const good: MtpCachedInputs = {prevHidden: t(tf.zeros([1, 4, D])), tokens: t(tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32')),
      positions: t(tf.tensor2d([[0, 1, 2, 3]], [1, 4], 'int32')), keyMask: t(tf.ones([1, 4])), cache: null};
    const f = 'DeepseekV3Policy.mtpApplyWithCache';
    const call = (over: Record<string, unknown>) => () => p.mtpApplyWithCache({...good, ...over} as MtpCachedInputs);
    const twoBad = t(tf.tensor2d([[1, 1, 2, 1]]));
    const cases: Array<[Record<string, unknown>, string]> = [
      [{tokens: t(tf.tensor2d([[1, 2, 3, 4]]))}, `${f}: 'tokens' expected dtype int32, got float32`],
      [{prevHidden: t(tf.zeros([1, 3, D]))}, `${f}: 'prevHidden' expected shape [batch, newTime, hidden]=[1,4,${D}], got [1,3,${D}]`],
      [{prevHidden: t(tf.zeros([1, 4, D], 'int32'))}, `${f}: 'prevHidden' expected dtype float32, got int32`],
      [{positions: t(tf.zeros([1, 3], 'int32'))}, `${f}: 'positions' expected shape [batch, newTime]=[1,4], got [1,3]`],
      [{keyMask: t(tf.ones([1, 5]))}, `${f}: 'keyMask' expected shape [batch, pastTime + newTime]=[1,4], got [1,5]`],
      [{keyMask: twoBad}, `${f}: 'keyMask' expected values in {0, 1}, got 2 (shape [1,4])`],
      [{kache: null}, `${f}: unknown input 'kache'; expected one of 'prevHidden', 'tokens', 'positions', 'keyMask', 'cache'; did you mean 'cache'?`],
      [{cache: undefined}, `${f}: 'cache' expected the MTP layer's cache {latent, ropeKey} or null (first call), got undefined`],
      [{cache: {latent: t(tf.zeros([2, 2, 3])), ropeKey: t(tf.zeros([2, 2, 3]))}},
        `${f}: 'cache.latent' expected batch 1 (the batch of 'tokens'), got shape [2,2,3]`],
      [{cache: {latent: t(tf.zeros([1, 2, 3])), ropeKey: t(tf.zeros([1, 2, 3])), extra: 1}},
        `${f}: unknown key of 'cache' 'extra'; expected one of 'latent', 'ropeKey'`],
    ];
    const before = tf.memory().numTensors;
    try {
      for (const [over, message] of cases) expect(call(over)).toThrow(message);
      expect(() => p.mtpApplyWithCache(undefined as never)).toThrow(
          `${f}: 'inputs' expected an object {prevHidden, tokens, positions, keyMask, cache}, got undefined`);
      expect(tf.memory().numTensors).toBe(before);
      const prev = configureValidation({valueChecks: false});
      try {
        const r = p.mtpApplyWithCache({...good, keyMask: twoBad as tf.Tensor2D});
        tf.dispose([r.logits, r.cache.latent, r.cache.ropeKey]);
      } finally {
        configureValidation(prev);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      tf.dispose(owned);
      p.dispose();
    }
  });
});

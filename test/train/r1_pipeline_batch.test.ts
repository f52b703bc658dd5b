import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {encodeStageBatch} from '../../src/train/r1_pipeline_batch.js';

describe('encodeStageBatch checks', () => {
  it('names bad pairs and stop tokens, leaving no tensor', () => {
    const tok = charTokenizer({alphabet: 'abc'});
    const call = (pairs: unknown, stop = tok.eosId) => () =>
      encodeStageBatch(tok, pairs as {prompt: string; completion: string}[], stop, 16);
    const before = tf.memory().numTensors;
    expect(call([])).toThrow("encodeStageBatch: 'pairs' expected a non-empty array of {prompt, completion}, got an array of length 0");
    expect(call([{prompt: 'a', completion: 3}])).toThrow(
        "encodeStageBatch: 'pairs[0]' expected {prompt: string, completion: string}, got an object {prompt, completion}");
    expect(call([{completion: 'a'}])).toThrow("encodeStageBatch: 'pairs[0]' expected {prompt: string, completion: string}, got an object {completion}");
    expect(call([{prompt: 'a', completion: 'b'}], NaN)).toThrow("encodeStageBatch: 'stopToken' expected a finite number, got NaN");
    expect(call([{prompt: 'a', completion: 'b'}], 99)).toThrow(`encodeStageBatch: 'stopToken' expected <= ${tok.vocabSize - 1}, got 99`);
    expect(tf.memory().numTensors).toBe(before);
    const batch = encodeStageBatch(tok, [{prompt: 'ab', completion: 'c'}], tok.eosId, 16);
    expect(batch.completionTokens.arraySync()).toEqual([[tok.encode('c')[0], tok.eosId]]);
    tf.dispose(Object.values(batch));
    expect(tf.memory().numTensors).toBe(before);
  });
});

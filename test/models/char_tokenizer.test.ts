import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';

describe('charTokenizer', () => {
  const tok = charTokenizer({alphabet: '0123456789+', specialTokens: ['<think>', '</think>']});
  it('maps pad to 0, eos to 1, specials to single ids, and round-trips text', () => {
    expect(tok.vocabSize).toBe(2 + 2 + 11);
    expect(tok.encode('<think>1+2</think>')).toEqual([2, 5, 14, 6, 3]);
    expect(tok.decode(tok.encode('<think>12+7</think>99'))).toBe('<think>12+7</think>99');
    expect(tok.decode([0, 0, 5])).toBe('1');
  });
  it('throws named errors', () => {
    expect(() => tok.encode('1-2')).toThrow(/charTokenizer.encode: 'text' has character "-" at 1/);
    expect(() => charTokenizer({alphabet: '11'})).toThrow(/charTokenizer: token "1" appears twice/);
    expect(() => tok.decode([99])).toThrow(/'ids' expected integers in \[0, 15\), got 99/);
  });
});

/**
 * Character tokenizer with whole-word special tokens.
 * @module
 */
import {check} from '../math/assert.js';
import type {Tokenizer} from './policy.js';

/** Options of {@link charTokenizer}. */
export interface CharTokenizerOptions {
  /** The ordinary characters, one token each; no repeats. E.g. `'0123456789+=,'`. */
  alphabet: string;
  /**
   * Multi-character tokens matched before single characters, e.g. `['<think>', '</think>']`.
   * `'<pad>'` (id 0) and `'<eos>'` (id 1) are always present and must not be listed. Default `[]`.
   */
  specialTokens?: readonly string[];
}

/** A character tokenizer: plain data plus pure encode/decode functions; a {@link Tokenizer}. */
export interface CharTokenizer extends Tokenizer {
  /** Number of token ids: 2 + specials + alphabet. */
  readonly vocabSize: number;
  /** Id of `'<pad>'` (always 0). */
  readonly padId: number;
  /** Id of `'<eos>'` (always 1). */
  readonly eosId: number;
  /** Every token string, indexed by id. */
  readonly tokens: readonly string[];
  /** The options it was built from (enough to rebuild it, e.g. from a checkpoint). */
  readonly options: Required<CharTokenizerOptions>;
  /** Text to ids; special tokens win over characters; unknown characters throw. */
  encode(text: string): number[];
  /** Ids to text; `'<pad>'` decodes to the empty string, other specials to themselves. */
  decode(ids: ArrayLike<number>): string;
  /** The id of one token string (a special token or one character); throws when unknown. */
  id(token: string): number;
}

/**
 * Builds a character tokenizer: id 0 `'<pad>'`, id 1 `'<eos>'`, then the special tokens in order,
 * then one id per alphabet character. Encoding matches special tokens greedily (longest first) at
 * each position, so `'<think>'` is one token, which keeps the sequences of the demo task short.
 *
 * @param options.alphabet the ordinary characters (required, no repeats).
 * @param options.specialTokens multi-character tokens; default `[]`.
 * @returns the tokenizer.
 * @throws when a character repeats, a special token is empty or repeated, or `encode` meets an
 *   unknown character.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+', specialTokens: ['<answer>']});
 * tok.decode(tok.encode('<answer>1+2')); // '<answer>1+2'
 */
export function charTokenizer(options: CharTokenizerOptions): CharTokenizer {
  const fn = 'charTokenizer';
  const {alphabet, specialTokens = []} = options ?? ({} as CharTokenizerOptions);
  check(typeof alphabet === 'string' && alphabet.length > 0, fn, () =>
    `'alphabet' expected a non-empty string, got ${JSON.stringify(alphabet)}`);
  const chars = Array.from(alphabet);
  const tokens = ['<pad>', '<eos>', ...specialTokens, ...chars];
  const index = new Map<string, number>();
  tokens.forEach((t, i) => {
    check(t.length > 0, fn, () => `'specialTokens' expected non-empty strings, got '' at ${i - 2}`);
    check(!index.has(t), fn, () => `token ${JSON.stringify(t)} appears twice in 'alphabet'/'specialTokens'`);
    index.set(t, i);
  });
  const multi = tokens.slice(0, 2 + specialTokens.length).sort((a, b) => b.length - a.length);
  const encode = (text: string): number[] => {
    const ids: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      for (const s of multi) {
        if (text.startsWith(s, i)) { ids.push(index.get(s)!); i += s.length; continue outer; }
      }
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      const id = index.get(ch);
      check(id !== undefined, 'charTokenizer.encode', () =>
        `'text' has character ${JSON.stringify(ch)} at ${i}, which is not in the alphabet ${JSON.stringify(alphabet)}`);
      ids.push(id);
      i += ch.length;
    }
    return ids;
  };
  const decode = (ids: ArrayLike<number>): string => {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      check(Number.isInteger(id) && id >= 0 && id < tokens.length, 'charTokenizer.decode', () =>
        `'ids' expected integers in [0, ${tokens.length}), got ${id} at ${i}`);
      if (id !== 0) out += tokens[id];
    }
    return out;
  };
  const id = (token: string): number => {
    const i = index.get(token);
    check(i !== undefined, 'charTokenizer.id', () => `unknown token ${JSON.stringify(token)}`);
    return i;
  };
  return {
    vocabSize: tokens.length, padId: 0, eosId: 1, tokens, encode, decode, id,
    options: {alphabet, specialTokens: [...specialTokens]},
  };
}

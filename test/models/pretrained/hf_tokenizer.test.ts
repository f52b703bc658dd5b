import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {MissingConfigFieldError, PretrainedLoadError} from '../../../src/models/pretrained/errors.js';
import {hfTokenizer} from '../../../src/models/pretrained/hf_tokenizer.js';

const dir = 'test/fixtures/pretrained/_tokenizer/';
const read = (f: string): Record<string, unknown> => JSON.parse(readFileSync(dir + f, 'utf8')) as Record<string, unknown>;
interface TokenizerReference {
  vocab_size: number; eos_id: number; pad_id: number;
  encodings: Array<{text: string; ids: number[]}>;
  decoded: string[];
  chat: {messages: Array<{role: string; content: string}>; add_generation_prompt: boolean; text: string; ids: number[]};
}

describe('hfTokenizer', () => {
  const ref = read('tokenizer_reference.json') as unknown as TokenizerReference;
  const tok = hfTokenizer(read('tokenizer.json'), {tokenizerConfig: read('tokenizer_config.json')});

  it('encodes and decodes as transformers does (byte-level BPE, special tokens, CJK, emoji)', () => {
    expect(tok.vocabSize).toBe(ref.vocab_size);
    expect(tok.eosId).toBe(ref.eos_id);
    expect(tok.padId).toBe(ref.pad_id);
    expect(tok.bosId).toBeUndefined();
    ref.encodings.forEach(({text, ids}, i) => {
      expect(tok.encode(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(ref.decoded[i]);
    });
    expect(tok.tokenToId('<think>')).toBe(3);
    expect(tok.decode([3, 23, 4], {skipSpecialTokens: true})).toBe('1');
  });

  it('renders the chat template and encodes it without extra special tokens', () => {
    const {messages, add_generation_prompt, text, ids} = ref.chat;
    expect(tok.applyChatTemplate(messages, {addGenerationPrompt: add_generation_prompt})).toBe(text);
    expect(tok.encodeChat(messages)).toEqual(ids);
    expect(tok.applyChatTemplate(messages, {addGenerationPrompt: false})).toBe(text.slice(0, -'<|im_start|>assistant\n'.length));
    const override = hfTokenizer(read('tokenizer.json'), {tokenizerConfig: read('tokenizer_config.json'),
      chatTemplate: '{{ messages[0].content }}!'});
    expect(override.applyChatTemplate(messages)).toBe('Reason, then answer.!');
  });

  it('falls back to eos_token_id and pad = eos; names what is missing', () => {
    const config = {...read('tokenizer_config.json')};
    delete config['eos_token'];
    delete config['pad_token'];
    delete config['chat_template'];
    const t = hfTokenizer(read('tokenizer.json'), {tokenizerConfig: config, eosTokenId: 2});
    expect([t.eosId, t.padId]).toEqual([2, 2]);
    expect(() => t.applyChatTemplate([{role: 'user', content: 'x'}])).toThrow(/has no chat template/);
    expect(() => hfTokenizer(read('tokenizer.json'), {tokenizerConfig: config})).toThrow(MissingConfigFieldError);
    expect(() => hfTokenizer(read('tokenizer.json'), {tokenizerConfig: {...config, eos_token: '<nope>'}}))
        .toThrow(/eos_token '<nope>' is not in the vocabulary/);
    expect(() => hfTokenizer({} as Record<string, unknown>)).toThrow(PretrainedLoadError);
  });
});

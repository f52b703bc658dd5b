/**
 * Hugging Face tokenizers (`tokenizer.json` + `tokenizer_config.json`) as a library {@link Tokenizer},
 * through `@huggingface/tokenizers` (pure JS) and `@huggingface/jinja` (chat templates).
 * @module
 */
import {Template} from '@huggingface/jinja';
import {Tokenizer as HfTokenizerImpl} from '@huggingface/tokenizers';
import {assertKnownOptions} from '../../math/assert.js';
import type {Tokenizer} from '../policy.js';
import {MissingConfigFieldError, PretrainedLoadError} from './errors.js';

/** One chat message. */
export interface ChatMessage {
  /** Speaker, as the chat template expects it: `'system'`, `'user'` or `'assistant'`. */
  role: string;
  /** The message text. */
  content: string;
}

/** Options of {@link HfTokenizer.applyChatTemplate}. */
export interface ChatTemplateOptions {
  /** Append the assistant turn header (`add_generation_prompt`); default `true`. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `tools`, `enable_thinking`). */
  variables?: Record<string, unknown>;
}

/** A tokenizer loaded from `tokenizer.json`, with its chat template. */
export interface HfTokenizer extends Tokenizer {
  /** The chat template (`tokenizer_config.json` `chat_template`, or `chat_template.jinja`), if any. */
  readonly chatTemplate: string | null;
  /** Text to ids; `addSpecialTokens` (default `true`) applies the post-processor (e.g. a BOS), as transformers' `tokenizer(text)`. */
  encode(text: string, options?: {addSpecialTokens?: boolean}): number[];
  /** Ids to text; `skipSpecialTokens` default `false`. */
  decode(ids: ArrayLike<number>, options?: {skipSpecialTokens?: boolean}): string;
  /** Id of a token string, or `undefined`. */
  tokenToId(token: string): number | undefined;
  /** Renders the chat template (transformers' `apply_chat_template(..., tokenize=False)`). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /** Renders and encodes without adding special tokens (`apply_chat_template(..., tokenize=True)`). */
  encodeChat(messages: readonly ChatMessage[], options?: ChatTemplateOptions): number[];
}

/** Options of {@link hfTokenizer}. */
export interface HfTokenizerOptions {
  /** Parsed `tokenizer_config.json`; default `{}`. */
  tokenizerConfig?: Record<string, unknown>;
  /** A chat template that overrides the config's (`chat_template.jinja`). */
  chatTemplate?: string;
  /** `eos_token_id` of `config.json` / `generation_config.json`, used when the tokenizer config names no EOS. */
  eosTokenId?: number;
}

const tokenContent = (t: unknown): string | null =>
  typeof t === 'string' ? t : t !== null && typeof t === 'object' && typeof (t as {content?: unknown}).content === 'string'
    ? (t as {content: string}).content : null;

/**
 * Builds a {@link Tokenizer} from the contents of `tokenizer.json` (BPE, WordPiece, Unigram: whatever
 * `@huggingface/tokenizers` supports) and `tokenizer_config.json` (special tokens, chat template).
 *
 * - `eosId`: the config's `eos_token`, else `options.eosTokenId`; `padId`: `pad_token`, else `eosId`;
 *   `bosId`: `bos_token` when set.
 * - `vocabSize`: 1 + the largest id, added tokens included.
 *
 * @param tokenizerJson parsed `tokenizer.json`.
 * @param options see {@link HfTokenizerOptions}.
 * @returns the {@link HfTokenizer}.
 * @throws `MissingConfigFieldError` when no EOS token can be found; `PretrainedLoadError` when a special
 *   token is not in the vocabulary, `tokenizer.json` is not an object with a string `model.type` or cannot
 *   be read by `@huggingface/tokenizers`, `tokenizerConfig` is not an object, its `chat_template` is neither
 *   a string nor a list of `{name, template}`, or `eosTokenId` (when used: no `eos_token` in the config) is not an id of the vocabulary; `Error` for
 *   an unknown option key. `applyChatTemplate` throws `PretrainedLoadError` when the template does not parse.
 * @example
 * const read = async (url: string) => (await (await fetch(url)).json()) as Record<string, unknown>;
 * const [tokenizerJson, tokenizerConfig] = [await read('tokenizer.json'), await read('tokenizer_config.json')];
 * const tok = hfTokenizer(tokenizerJson, {tokenizerConfig});
 * const ids = tok.encodeChat([{role: 'user', content: 'Sort 5 3 9 1.'}]);
 * tok.decode(ids);
 */
export function hfTokenizer(tokenizerJson: Record<string, unknown>, options: HfTokenizerOptions = {}): HfTokenizer {
  assertKnownOptions(options, ['tokenizerConfig', 'chatTemplate', 'eosTokenId'], 'hfTokenizer');
  const {tokenizerConfig = {}, eosTokenId} = options;
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null || !('model' in tokenizerJson)) {
    throw new PretrainedLoadError("hfTokenizer: 'tokenizerJson' expected the parsed tokenizer.json (an object with 'model')");
  }
  const model = tokenizerJson['model'] as {type?: unknown} | null;
  if (typeof model !== 'object' || model === null || typeof model.type !== 'string') {
    throw new PretrainedLoadError("hfTokenizer: tokenizer.json 'model.type' expected a string such as 'BPE', 'WordPiece' " +
        `or 'Unigram', got ${JSON.stringify(typeof model === 'object' && model !== null ? model.type : model)}`);
  }
  if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null || Array.isArray(tokenizerConfig)) {
    throw new PretrainedLoadError("hfTokenizer: 'tokenizerConfig' expected the parsed tokenizer_config.json (an object), got " +
        `${Array.isArray(tokenizerConfig) ? 'an array' : JSON.stringify(tokenizerConfig)}`);
  }
  if (options.chatTemplate !== undefined && typeof options.chatTemplate !== 'string') {
    throw new PretrainedLoadError(`hfTokenizer: 'chatTemplate' expected a string, got ${typeof options.chatTemplate}`);
  }
  let impl: HfTokenizerImpl;
  try {
    impl = new HfTokenizerImpl(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new PretrainedLoadError(`hfTokenizer: tokenizer.json (model.type '${model.type}') cannot be read by ` +
        `@huggingface/tokenizers: ${(e as Error).message}; the file is malformed or from an unsupported tokenizer`);
  }
  const idOf = (field: string): number | undefined => {
    const content = tokenContent(tokenizerConfig[field]);
    if (content === null) return undefined;
    const id = impl.token_to_id(content);
    if (id === undefined) throw new PretrainedLoadError(`hfTokenizer: tokenizer_config.json ${field} '${content}' is not in the vocabulary`);
    return id;
  };
  let vocabSize = 0;
  for (const id of impl.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  const configEos = idOf('eos_token');
  if (configEos === undefined && eosTokenId !== undefined &&
      !(Number.isInteger(eosTokenId) && eosTokenId >= 0 && eosTokenId < vocabSize)) {
    throw new PretrainedLoadError(`hfTokenizer: 'eosTokenId' expected an integer id in [0, ${vocabSize}) (the ` +
        `tokenizer's vocabulary), got ${JSON.stringify(eosTokenId)}`);
  }
  const eosId = configEos ?? eosTokenId;
  if (eosId === undefined) {
    throw new MissingConfigFieldError('eos_token', 'an EOS token in tokenizer_config.json (or eos_token_id in config.json)', undefined);
  }
  const padId = idOf('pad_token') ?? eosId;
  const bosId = idOf('bos_token');

  let chatTemplate: string | null = options.chatTemplate ?? null;
  const raw = tokenizerConfig['chat_template'];
  if (chatTemplate === null && typeof raw === 'string') chatTemplate = raw;
  if (chatTemplate === null && Array.isArray(raw)) {
    const named = raw.find((t) => (t as {name?: string}).name === 'default') ?? raw[0];
    chatTemplate = typeof (named as {template?: unknown})?.template === 'string' ? (named as {template: string}).template : null;
  }
  const listOk = Array.isArray(raw) && raw.every((t) =>
    typeof t === 'object' && t !== null && typeof (t as {template?: unknown}).template === 'string');
  if (!(raw === undefined || raw === null || typeof raw === 'string' || listOk)) {
    throw new PretrainedLoadError("hfTokenizer: tokenizer_config.json 'chat_template' expected a string or a list of " +
        `{name, template}, got ${JSON.stringify(raw).slice(0, 60)}`);
  }
  let compiled: Template | null = null;
  const specials: Record<string, string | null> = {};
  for (const f of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) specials[f] = tokenContent(tokenizerConfig[f]);

  const tokenizer: HfTokenizer = {
    vocabSize, padId, eosId, chatTemplate,
    ...(bosId !== undefined ? {bosId} : {}),
    encode: (text, opts = {}) => impl.encode(text, {add_special_tokens: opts.addSpecialTokens ?? true}).ids,
    // The library rejects an empty id list; transformers decodes it to ''.
    decode: (ids, opts = {}) => ids.length === 0 ? ''
      : impl.decode(Array.from(ids), {skip_special_tokens: opts.skipSpecialTokens ?? false}),
    tokenToId: (token) => impl.token_to_id(token),
    applyChatTemplate(messages, opts = {}) {
      if (chatTemplate === null) {
        throw new PretrainedLoadError('applyChatTemplate: this tokenizer has no chat template (tokenizer_config.json ' +
            "'chat_template' or chat_template.jinja); pass one as options.chatTemplate");
      }
      try {
        compiled ??= new Template(chatTemplate);
      } catch (e) {
        throw new PretrainedLoadError(`applyChatTemplate: the chat template does not parse (${(e as Error).message})`);
      }
      return compiled.render({...specials, ...opts.variables, messages,
        add_generation_prompt: opts.addGenerationPrompt ?? true});
    },
    encodeChat(messages, opts = {}) {
      return tokenizer.encode(tokenizer.applyChatTemplate(messages, opts), {addSpecialTokens: false});
    },
  };
  return tokenizer;
}

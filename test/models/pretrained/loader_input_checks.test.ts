import {mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {safetensorsCheckpoint} from '../../../src/models/pretrained/checkpoint_weights.js';
import {MissingTensorError, PretrainedLoadError, ShapeMismatchError} from '../../../src/models/pretrained/errors.js';
import {hfTokenizer} from '../../../src/models/pretrained/hf_tokenizer.js';
import {loadPretrained as loadFromBytes} from '../../../src/models/pretrained/load_pretrained.js';
import {loadPretrained} from '../../../src/models/pretrained/load_pretrained_folder.js';
import {decodeSafetensorsTensor, parseSafetensors} from '../../../src/models/pretrained/safetensors.js';
import {f32Bytes, makeSafetensors} from '../../helpers/make_safetensors.js';

const root = 'test/fixtures/pretrained/';
const llamaDir = root + 'llama_gqa_f32';
const tokDir = root + '_tokenizer';
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const llamaSource = () => ({config: readJson(llamaDir + '/config.json'),
  files: {'model.safetensors': new Uint8Array(readFileSync(llamaDir + '/model.safetensors'))}});
const tokFiles = () => ({tokenizerJson: readJson(tokDir + '/tokenizer.json'), tokenizerConfig: readJson(tokDir + '/tokenizer_config.json')});

/** A file with a hand-written header and `dataBytes` zero bytes of data. */
function raw(header: unknown, dataBytes: number): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const b = new Uint8Array(8 + h.length + dataBytes);
  new DataView(b.buffer).setUint32(0, h.length, true);
  b.set(h, 8);
  return b;
}
const tail = '; the file is truncated or corrupt (download it again)';

describe('safetensors reading: bad files get named errors', () => {
  it('truncated, header length past the end, header not JSON, offsets vs dtype x shape, dtype, overlap, out of range', () => {
    const good = makeSafetensors({w: {dtype: 'F32', shape: [2, 2], data: f32Bytes([1, 2, 3, 4])}});
    const n = good.length - 8 - 16;
    const cases: Array<[Uint8Array, string]> = [
      [good.slice(0, 5), "safetensors 'm.safetensors': file is 5 bytes, shorter than the 8-byte header length" + tail],
      [good.slice(0, 20), `safetensors 'm.safetensors': header length ${n} runs past the end of the file (20 bytes)` + tail],
      [raw('[1, 2]', 0), "safetensors 'm.safetensors': header is not a JSON object" + tail],
      [raw({w: {dtype: 'F32', shape: [3], data_offsets: [0, 8]}}, 8),
        "safetensors 'm.safetensors': entry 'w' (F32 [3]) needs 12 bytes, its data_offsets [0, 8] span 8" + tail],
      [raw({a: {dtype: 'U8', shape: [2], data_offsets: [0, 2]}, b: {dtype: 'U8', shape: [2], data_offsets: [1, 3]}}, 3),
        "safetensors 'm.safetensors': entry 'b' overlaps the previous tensor (begin 1 < 2)" + tail],
      [raw({a: {dtype: 'U8', shape: [4], data_offsets: [0, 4]}}, 2),
        "safetensors 'm.safetensors': the tensors need 4 data bytes but the file holds 2 after the header (truncated)" + tail],
      [raw({a: {dtype: 'U8', shape: [1], data_offsets: [2, 1]}}, 2),
        "safetensors 'm.safetensors': entry 'a' has data_offsets [2, 1] with end < begin" + tail],
      [raw({a: {dtype: 'U8', shape: [1], data_offsets: [0]}}, 1),
        "safetensors 'm.safetensors': entry 'a' has data_offsets [0], expected [begin, end]" + tail],
    ];
    for (const [bytes, message] of cases) expect(() => parseSafetensors(bytes, 'm.safetensors')).toThrow(message);
    // JSON.parse's own text (inside the parentheses) differs between Node versions.
    expect(() => parseSafetensors(raw('{"w": ', 0), 'm.safetensors')).toThrow(
        /^safetensors 'm\.safetensors': header is not valid UTF-8 JSON \(.+\); the file is truncated or corrupt \(download it again\)$/);
    expect(() => parseSafetensors(raw({a: {dtype: 'Q4', shape: [1], data_offsets: [0, 1]}}, 1))).toThrow(
        "safetensors: tensor 'a' has dtype Q4, which is not supported; supported: BOOL, U8, I8, F8_E4M3, F8_E5M2, I16, " +
        'U16, F16, BF16, I32, U32, F32, I64, U64, F64 (convert the checkpoint, e.g. to bfloat16)');
  });

  it('a missing tensor name suggests the close one, else lists what the file holds', () => {
    const file = parseSafetensors(makeSafetensors({'model.norm.weight': {dtype: 'F32', shape: [1], data: f32Bytes([1])}}));
    expect(() => decodeSafetensorsTensor(file, 'model.norm.weigth')).toThrow(
        "decodeSafetensorsTensor: no tensor 'model.norm.weigth' in 'model.safetensors'; did you mean 'model.norm.weight'?");
    expect(() => decodeSafetensorsTensor(file, 'lm_head.weight')).toThrow(
        "decodeSafetensorsTensor: no tensor 'lm_head.weight' in 'model.safetensors' (it holds 1: 'model.norm.weight')");
  });

  it('checkpoint load: a renamed tensor is suggested among the unrequested names only', () => {
    const w = safetensorsCheckpoint([parseSafetensors(makeSafetensors({
      'model.layers.0.mlp.gate_proj.weight': {dtype: 'F32', shape: [1], data: f32Bytes([1])},
      'model.layers.1.mlp.gate.weight': {dtype: 'F32', shape: [1], data: f32Bytes([1])},
    }))]);
    expect(() => w.load([['model.layers.0.mlp.gate_proj.weight', [1]], ['model.layers.1.mlp.gate_proj.weight', [1]]])).toThrow(
        'loadPretrained: the checkpoint is missing 1 tensor(s): model.layers.1.mlp.gate_proj.weight (it holds 2 tensors; ' +
        'check that every shard is present and that config.json matches the weights); did you mean ' +
        "'model.layers.1.mlp.gate.weight' for 'model.layers.1.mlp.gate_proj.weight'?");
    // The requested layer-0 name is not offered for the missing layer-1 one.
    const w2 = safetensorsCheckpoint([parseSafetensors(makeSafetensors({
      'model.layers.0.mlp.gate_proj.weight': {dtype: 'F32', shape: [1], data: f32Bytes([1])}}))]);
    expect(() => w2.load([['model.layers.0.mlp.gate_proj.weight', [1]], ['model.layers.1.mlp.gate_proj.weight', [1]]])).toThrow(
        'loadPretrained: the checkpoint is missing 1 tensor(s): model.layers.1.mlp.gate_proj.weight (it holds 1 tensors; ' +
        'check that every shard is present and that config.json matches the weights)');
  });

  it('FP8 weights: a missing weight_scale_inv and a scale of the wrong block grid are named, nothing leaks', () => {
    const q = new Uint8Array(130 * 3).fill(0x38); // e4m3 1.0
    const noScale = safetensorsCheckpoint([parseSafetensors(makeSafetensors({'l.weight': {dtype: 'F8_E4M3', shape: [130, 3], data: q}}))]);
    const before = tf.memory().numTensors;
    expect(() => noScale.load([['l.weight', [130, 3]]])).toThrow(MissingTensorError);
    expect(() => noScale.load([['l.weight', [130, 3]]])).toThrow(
        "loadPretrained: the checkpoint is missing 1 tensor(s): l.weight_scale_inv (it holds 1 tensors; the F8_E4M3 weight " +
        "'l.weight' needs its block scales 'l.weight_scale_inv' to be dequantised; check that every shard is present)");
    const wrong = safetensorsCheckpoint([parseSafetensors(makeSafetensors({
      'l.weight': {dtype: 'F8_E4M3', shape: [130, 3], data: q},
      'l.weight_scale_inv': {dtype: 'F32', shape: [1, 1], data: f32Bytes([2])}}))]);
    expect(() => wrong.load([['l.weight', [130, 3]]])).toThrow(ShapeMismatchError);
    expect(() => wrong.load([['l.weight', [130, 3]]])).toThrow(
        "loadPretrained: tensor 'l.weight_scale_inv' expected shape [2,1] ([ceil(130/128), ceil(3/128)]: the blocks of " +
        'quantization_config.weight_block_size [128,128] over the weight [130,3]), got [1,1]; the config and the weights disagree');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('loadPretrained: bad configs, shards and tokenizers get named errors', () => {
  it('config missing or not an object, unknown architecture, wrong field types', async () => {
    const {files} = llamaSource();
    await expect(loadFromBytes({config: undefined as never, files})).rejects.toThrow(
        "loadPretrained: 'config' expected the parsed config.json (an object), got undefined");
    await expect(loadFromBytes({config: [] as never, files})).rejects.toThrow(
        "loadPretrained: 'config' expected the parsed config.json (an object), got an array");
    const cfg = llamaSource().config;
    await expect(loadFromBytes({config: {...cfg, architectures: ['MistralForCausalLM']}, files})).rejects.toThrow(
        "loadPretrained: unknown architecture 'MistralForCausalLM' in config.json 'architectures'; supported: " +
        'LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, DeepseekV3ForCausalLM');
    await expect(loadFromBytes({config: {...cfg, hidden_size: '64'}, files})).rejects.toThrow(
        "config.json: field 'hidden_size' expected a positive integer, got \"64\"");
    await expect(loadFromBytes({config: {...cfg, rms_norm_eps: '1e-6'}, files})).rejects.toThrow(
        "config.json: field 'rms_norm_eps' expected a number, got \"1e-6\"");
    await expect(loadFromBytes({config: {...cfg, eos_token_id: '2'}, files})).rejects.toThrow(
        "config.json: field 'eos_token_id' expected a token id (an integer >= 0), a non-empty list of them, or null, got \"2\"");
    await expect(loadFromBytes({config: {...cfg, quantization_config: 'fp8'}, files})).rejects.toThrow(
        "config.json: field 'quantization_config' expected an object, got \"fp8\"");
    await expect(loadFromBytes({config: {...cfg, quantization_config: {quant_method: 'gptq', bits: 4}}, files})).rejects.toThrow(
        "loadPretrained: quantization_config.quant_method \"gptq\" is not supported; supported: 'fp8' (block-quantised " +
        'F8_E4M3 with weight_scale_inv); dequantise the checkpoint first');
  });

  it('unknown keys of source, source.tokenizer and options, and a non-boolean trainable', async () => {
    const {config, files} = llamaSource();
    await expect(loadFromBytes({config, files, tokenizers: tokFiles()} as never)).rejects.toThrow(
        "loadPretrained: unknown key of 'source' 'tokenizers'; expected one of 'config', 'files', 'tokenizer'; did you mean 'tokenizer'?");
    await expect(loadFromBytes({config, files, tokenizer: {tokenizer_json: {}} as never})).rejects.toThrow(
        "loadPretrained: unknown key of 'source.tokenizer' 'tokenizer_json'; expected one of 'tokenizerJson', " +
        "'tokenizerConfig', 'chatTemplate'; did you mean 'tokenizerJson'?");
    await expect(loadFromBytes({config, files}, {trainble: false} as never)).rejects.toThrow(
        "loadPretrained: unknown option 'trainble'; expected one of 'trainable'; did you mean 'trainable'?");
    await expect(loadFromBytes({config, files}, {trainable: 'no' as never})).rejects.toThrow(
        "loadPretrained: 'trainable' expected a boolean, got \"no\"");
  });

  it('vocab_size that disagrees with the embedding, or with the tokenizer', async () => {
    const {config, files} = llamaSource();
    await expect(loadFromBytes({config: {...config, vocab_size: 300}, files})).rejects.toThrow(
        "loadPretrained: tensor 'model.embed_tokens.weight' expected shape [300,64] (from config.json), got [320,64]; " +
        'the config and the weights disagree');
    const tokenizer = tokFiles();
    const bigTok = {...tokenizer, tokenizerJson: {...tokenizer.tokenizerJson,
      added_tokens: [...(tokenizer.tokenizerJson['added_tokens'] as unknown[]),
        {id: 400, content: '<extra>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}]}};
    const before = tf.memory().numTensors;
    await expect(loadFromBytes({config, files, tokenizer: bigTok})).rejects.toThrow(
        'loadPretrained: the tokenizer has ids up to 400 but config.json vocab_size is 320, so ids >= 320 have no ' +
        'embedding; the tokenizer files belong to another checkpoint');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('index json: a shard that is missing or not a file name', async () => {
    const {config, files} = llamaSource();
    const index = (map: unknown) => new TextEncoder().encode(JSON.stringify({weight_map: map}));
    await expect(loadFromBytes({config, files: {...files, 'model.safetensors.index.json': index({'model.norm.weight': 3})}}))
        .rejects.toThrow("loadPretrained: model.safetensors.index.json weight_map['model.norm.weight'] expected a shard file " +
        'name, got 3');
    await expect(loadFromBytes({config, files: {'model.safetensors.index.json': index({'model.norm.weight': 'model-2.safetensors'})}}))
        .rejects.toThrow('loadPretrained: shard(s) model-2.safetensors listed in model.safetensors.index.json are missing ' +
        '(download every shard of the checkpoint)');
  });

  it('folder form: no config.json, a shard of the index absent, tokenizer.json not JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-grpo-loader-'));
    try {
      await expect(loadPretrained(dir)).rejects.toThrow(
          `loadPretrained: no config.json in '${dir}' (a transformers checkpoint folder has one)`);
      copyFileSync(llamaDir + '/config.json', join(dir, 'config.json'));
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({weight_map: {'model.norm.weight': 'model-00001-of-00002.safetensors'}}));
      await expect(loadPretrained(dir)).rejects.toThrow('loadPretrained: shard(s) model-00001-of-00002.safetensors listed in ' +
          'model.safetensors.index.json are missing (download every shard of the checkpoint)');
      rmSync(join(dir, 'model.safetensors.index.json'));
      copyFileSync(llamaDir + '/model.safetensors', join(dir, 'model.safetensors'));
      writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
      await expect(loadPretrained(dir)).rejects.toThrow(/^loadPretrained: '.*tokenizer\.json' is not valid JSON \(/);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});

describe('hfTokenizer: malformed tokenizer files', () => {
  it('names a bad model, config, chat template, EOS id and unknown option', () => {
    const {tokenizerJson: tj, tokenizerConfig: tc} = tokFiles();
    expect(() => hfTokenizer({...tj, model: 'BPE'}, {tokenizerConfig: tc})).toThrow(
        "hfTokenizer: tokenizer.json 'model.type' expected a string such as 'BPE', 'WordPiece' or 'Unigram', got \"BPE\"");
    expect(() => hfTokenizer({...tj, model: {}}, {tokenizerConfig: tc})).toThrow(
        "hfTokenizer: tokenizer.json 'model.type' expected a string such as 'BPE', 'WordPiece' or 'Unigram', got undefined");
    expect(() => hfTokenizer({...tj, model: {type: 'BPE'}}, {tokenizerConfig: tc})).toThrow(PretrainedLoadError);
    expect(() => hfTokenizer({...tj, model: {type: 'BPE'}}, {tokenizerConfig: tc})).toThrow(
        /^hfTokenizer: tokenizer.json \(model.type 'BPE'\) cannot be read by @huggingface\/tokenizers: .*; the file is malformed or from an unsupported tokenizer$/);
    expect(() => hfTokenizer(tj, {tokenizerConfig: [] as never})).toThrow(
        "hfTokenizer: 'tokenizerConfig' expected the parsed tokenizer_config.json (an object), got an array");
    expect(() => hfTokenizer(tj, {tokenizerConfig: {...tc, chat_template: 5}})).toThrow(
        "hfTokenizer: tokenizer_config.json 'chat_template' expected a string or a list of {name, template}, got 5");
    expect(() => hfTokenizer(tj, {eosTokenId: 1e9})).toThrow(
        "hfTokenizer: 'eosTokenId' expected an integer id in [0, 320) (the tokenizer's vocabulary), got 1000000000");
    expect(() => hfTokenizer(tj, {eosToken: 2} as never)).toThrow(
        "hfTokenizer: unknown option 'eosToken'; expected one of 'tokenizerConfig', 'chatTemplate', 'eosTokenId'; did you mean 'eosTokenId'?");
    const t = hfTokenizer(tj, {tokenizerConfig: {...tc, chat_template: '{% if %}'}});
    expect(() => t.applyChatTemplate([{role: 'user', content: 'x'}])).toThrow(
        /^applyChatTemplate: the chat template does not parse \(.+\)$/);
  });
});

import {readdirSync, readFileSync} from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {DenseDecoderPolicy} from '../../../src/models/dense_decoder.js';
import {
  MissingConfigFieldError, MissingTensorError, PretrainedLoadError, SafetensorsFormatError, ShapeMismatchError,
  UnknownArchitectureError, UnsupportedDtypeError,
} from '../../../src/models/pretrained/errors.js';
import {llamaConfig} from '../../../src/models/pretrained/dense_config.js';
import {loadPretrained as loadFromBytes, PretrainedModel} from '../../../src/models/pretrained/load_pretrained.js';
import {loadPretrained, readPretrainedFolder} from '../../../src/models/pretrained/load_pretrained_folder.js';
import {makeSafetensors} from '../../helpers/make_safetensors.js';

const root = 'test/fixtures/pretrained/';
const llamaDir = root + 'llama_gqa_f32';
const llamaJson = (): Record<string, unknown> => JSON.parse(readFileSync(llamaDir + '/config.json', 'utf8')) as Record<string, unknown>;
const llamaFiles = (): Record<string, Uint8Array> => ({'model.safetensors': new Uint8Array(readFileSync(llamaDir + '/model.safetensors'))});

const tinyConfig = {architectures: ['LlamaForCausalLM'], vocab_size: 8, hidden_size: 4, intermediate_size: 8,
  num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 16, rms_norm_eps: 1e-6,
  tie_word_embeddings: true};

/** A random tiny Llama as safetensors bytes (F32), with one tensor's dtype optionally replaced. */
function tinyCheckpoint(override?: {name: string; dtype: string}): Uint8Array {
  const policy = DenseDecoderPolicy.create(llamaConfig(tinyConfig), {seed: 3, std: 0.5});
  const tensors: Record<string, {dtype: string; shape: number[]; data: Uint8Array}> = {};
  for (const [name, w] of policy.weights) {
    const data = new Uint8Array(w.dataSync().buffer.slice(0));
    tensors[name] = override?.name === name ? {dtype: override.dtype, shape: w.shape, data} : {dtype: 'F32', shape: w.shape, data};
  }
  policy.dispose();
  return makeSafetensors(tensors);
}

describe('loadPretrained', () => {
  it('Node folder form and bytes form give the same model; the result is a Policy with a tokenizer when present', async () => {
    const a = await loadPretrained(llamaDir);
    const b = await loadFromBytes({config: llamaJson(), files: llamaFiles()});
    expect(a).toBeInstanceOf(PretrainedModel);
    expect(a.architecture).toBe('LlamaForCausalLM');
    expect(a.tokenizer).toBeUndefined();
    expect(a.vocabSize).toBe(320);
    expect(a.contextLength).toBe(256);
    const tokens = tf.tensor2d([[5, 6, 7]], [1, 3], 'int32');
    const [la, lb] = [a.apply(tokens), b.apply(tokens)];
    expect(Array.from(la.logits.dataSync())).toEqual(Array.from(lb.logits.dataSync()));
    // copy: same values, own frozen variables
    const c = a.copy();
    expect(c.variables().every((v) => !v.trainable)).toBe(true);
    expect(a.variables().every((v) => v.trainable)).toBe(true);
    const lc = c.apply(tokens);
    expect(Array.from(lc.logits.dataSync())).toEqual(Array.from(la.logits.dataSync()));
    tf.dispose([tokens, la.logits, la.hidden!, lb.logits, lb.hidden!, lc.logits, lc.hidden!]);
    expect(a.numParams()).toBe(a.variables().reduce((n, v) => n + v.size, 0));
    const q = await loadPretrained(root + 'qwen2_tied_f32');
    expect(q.tokenizer?.eosId).toBe(2);
    for (const m of [a, b, c, q]) m.dispose();
    expect(() => a.apply(tf.zeros([1, 1], 'int32') as tf.Tensor2D)).toThrow(/disposed/);
  });

  it('gradients reach every variable and an SGD step lowers the next-token loss', async () => {
    const model = await loadFromBytes({config: tinyConfig, files: {'model.safetensors': tinyCheckpoint()}});
    const tokens = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], 'int32');
    const target = tf.oneHot(tf.tensor1d([2, 3, 4, 5, 6, 7], 'int32'), 8);
    const loss = (): tf.Scalar => tf.tidy(() => {
      const {logits, hidden} = model.apply(tokens);
      hidden?.dispose();
      return tf.losses.softmaxCrossEntropy(target, tf.reshape(logits, [6, 8])) as tf.Scalar;
    });
    const l0 = loss();
    const {grads, value} = tf.variableGrads(loss, model.variables());
    for (const v of model.variables()) expect(tf.tidy(() => tf.max(tf.abs(grads[v.name]!)).dataSync()[0]!)).toBeGreaterThan(0);
    const opt = tf.train.sgd(0.5);
    opt.applyGradients(grads);
    const l1 = loss();
    expect(l1.dataSync()[0]!).toBeLessThan(l0.dataSync()[0]!);
    tf.dispose([tokens, target, l0, l1, value, ...Object.values(grads)]);
    opt.dispose();
    model.dispose();
  });

  it('named errors: architecture, config field, tensors, shapes, truncated file, dtype, shard, path in the root form', async () => {
    await expect(loadFromBytes({config: {...llamaJson(), architectures: ['GPT2LMHeadModel']}, files: llamaFiles()}))
        .rejects.toThrow(UnknownArchitectureError);
    await expect(loadFromBytes({config: {...llamaJson(), architectures: ['GPT2LMHeadModel']}, files: llamaFiles()}))
        .rejects.toThrow(/unknown architecture 'GPT2LMHeadModel'.*supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/);
    const noHidden = llamaJson();
    delete noHidden['hidden_size'];
    await expect(loadFromBytes({config: noHidden, files: llamaFiles()})).rejects.toThrow(MissingConfigFieldError);
    await expect(loadFromBytes({config: noHidden, files: llamaFiles()})).rejects.toThrow(/field 'hidden_size' expected a positive integer, got undefined/);
    await expect(loadFromBytes({config: {...llamaJson(), architectures: undefined}, files: llamaFiles()})).rejects.toThrow(/'architectures'/);
    await expect(loadFromBytes({config: {...llamaJson(), num_hidden_layers: 3}, files: llamaFiles()}))
        .rejects.toThrow(MissingTensorError);
    await expect(loadFromBytes({config: {...llamaJson(), num_hidden_layers: 3}, files: llamaFiles()}))
        .rejects.toThrow(/missing 9 tensor\(s\): model.layers.2.input_layernorm.weight, model.layers.2.self_attn.q_proj.weight, .*\(4 more\)/);
    await expect(loadFromBytes({config: {...llamaJson(), intermediate_size: 64}, files: llamaFiles()}))
        .rejects.toThrow(ShapeMismatchError);
    await expect(loadFromBytes({config: {...llamaJson(), intermediate_size: 64}, files: llamaFiles()}))
        .rejects.toThrow(/'model.layers.0.mlp.gate_proj.weight' expected shape \[64,64\] \(from config.json\), got \[128,64\]/);
    const bytes = llamaFiles()['model.safetensors']!;
    await expect(loadFromBytes({config: llamaJson(), files: {'model.safetensors': bytes.slice(0, bytes.length - 100)}}))
        .rejects.toThrow(SafetensorsFormatError);
    await expect(loadFromBytes({config: tinyConfig, files: {'model.safetensors': tinyCheckpoint({name: 'model.norm.weight', dtype: 'I32'})}}))
        .rejects.toThrow(UnsupportedDtypeError);
    await expect(loadFromBytes({config: llamaJson(), files: {}})).rejects.toThrow(/no .safetensors file/);
    const sharded = await readPretrainedFolder(root + 'llama3_tied_bf16_sharded');
    expect(Object.keys(sharded.files).filter((n) => n.endsWith('.safetensors'))).toHaveLength(6);
    delete sharded.files['model-00003-of-00006.safetensors'];
    await expect(loadFromBytes(sharded)).rejects.toThrow(/shard\(s\) model-00003-of-00006.safetensors listed in model.safetensors.index.json are missing/);
    await expect(loadFromBytes(llamaDir)).rejects.toThrow(/needs the Node entry point: import \{loadPretrained\} from 'tfjs-grpo\/node'/);
    await expect(loadPretrained('test/fixtures/pretrained/_tokenizer')).rejects.toThrow(/no config.json/);
    await expect(loadPretrained('test/fixtures/no-such-folder')).rejects.toThrow(PretrainedLoadError);
    expect(readdirSync(root).length).toBeGreaterThan(0);
  });
});

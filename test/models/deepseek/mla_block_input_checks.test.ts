import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {deepseekV3Block} from '../../../src/models/deepseek_v3_block.js';
import {deepseekV3WeightShapes, resolveDeepseekV3Config} from '../../../src/models/deepseek_v3_config.js';
import {multiHeadLatentAttention, type MlaInputs} from '../../../src/models/mla.js';
import {tinyConfig} from './tiny_config.js';

// tinyConfig: hidden 16, 2 heads, q_lora 6, kv_lora 8, nope 4, rope 4, v 4; layer 0 dense, layer 1 MoE, layer 2 MTP.
const config = resolveDeepseekV3Config(tinyConfig);

function setup(): {weights: Map<string, tf.Tensor>; x: tf.Tensor3D; attention: MlaInputs} {
  const weights = new Map<string, tf.Tensor>();
  for (const [name, shape] of deepseekV3WeightShapes(config)) weights.set(name, tf.fill(shape as number[], 0.1));
  const attention: MlaInputs = {cos: tf.ones([1, 3, 4]) as tf.Tensor3D, sin: tf.zeros([1, 3, 4]) as tf.Tensor3D,
    bias: tf.zeros([1, 1, 3, 3]) as tf.Tensor4D, cache: null};
  return {weights, x: tf.ones([1, 3, 16]) as tf.Tensor3D, attention};
}
const getter = (m: Map<string, tf.Tensor>) => (n: string): tf.Tensor => {
  const t = m.get(n);
  if (t === undefined) throw new Error(`no weight '${n}'`);
  return t;
};
function disposeAll(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (x instanceof Map) for (const v of x.values()) disposeAll(v);
  else if (typeof x === 'object' && x !== null) for (const v of Object.values(x)) disposeAll(v);
}

type Case = (s: ReturnType<typeof setup>) => {x?: unknown; attention?: unknown; config?: unknown; layer?: number; extra?: unknown};

function expectMla(edit: Case, message: string): void {
  const s = setup();
  const e = edit(s);
  const before = tf.memory().numTensors;
  expect(() => multiHeadLatentAttention((e.x ?? s.x) as tf.Tensor3D, getter(s.weights), 'model.layers.0.self_attn.',
      (e.config ?? config.mla) as typeof config.mla, (e.attention ?? s.attention) as MlaInputs)).toThrow(message);
  expect(tf.memory().numTensors).toBe(before);
  disposeAll(s);
  disposeAll(e);
}

function expectBlock(edit: Case, message: string): void {
  const s = setup();
  const e = edit(s);
  const before = tf.memory().numTensors;
  expect(() => deepseekV3Block((e.x ?? s.x) as tf.Tensor3D, getter(s.weights), e.layer ?? 1,
      (e.config ?? config) as typeof config, (e.attention ?? s.attention) as MlaInputs)).toThrow(message);
  expect(tf.memory().numTensors).toBe(before);
  disposeAll(s);
  disposeAll(e);
}

describe('multiHeadLatentAttention input checks', () => {
  it('runs on the fixture and leaks nothing', () => {
    const s = setup();
    const before = tf.memory().numTensors;
    for (const mode of ['expand', 'absorb'] as const) {
      const r = multiHeadLatentAttention(s.x, getter(s.weights), 'model.layers.0.self_attn.', config.mla, {...s.attention, mode});
      expect(r.output.shape).toEqual([1, 3, 16]);
      tf.dispose([r.output, r.cache.latent, r.cache.ropeKey]);
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(s);
  });

  it('names bad config entries', () => {
    expectMla(() => ({config: {...config.mla, numHeads: 0}}), "multiHeadLatentAttention: 'config.numHeads' expected >= 1, got 0");
    expectMla(() => ({config: {...config.mla, rmsNormEps: NaN}}),
        "multiHeadLatentAttention: 'config.rmsNormEps' expected a finite number, got NaN");
    expectMla(() => ({config: {...config.mla, qLoraRank: 2.5}}),
        "multiHeadLatentAttention: 'config.qLoraRank' expected an integer, got 2.5");
    expectMla(() => ({config: {...config.mla, kvLora: 8}}),
        "multiHeadLatentAttention: unknown key of 'config' 'kvLora'; expected one of 'hiddenSize', 'numHeads', " +
        "'qLoraRank', 'kvLoraRank', 'qkNopeHeadDim', 'qkRopeHeadDim', 'vHeadDim', 'rmsNormEps', 'ropeInterleave', " +
        "'softmaxScale'");
    expectMla(() => ({config: {...config.mla, softmaxScale: 0}}), "multiHeadLatentAttention: 'config.softmaxScale' expected > 0, got 0");
  });

  it('names bad x, inputs, mode, RoPE tables, bias, cache and weights', () => {
    expectMla(() => ({x: tf.ones([1, 3, 8])}), "multiHeadLatentAttention: 'x' expected shape [batch, time, hidden=16], got [1,3,8]");
    expectMla(() => ({x: tf.ones([1, 3, 16], 'int32')}), "multiHeadLatentAttention: 'x' expected dtype float32, got int32");
    expectMla((s) => ({attention: {...s.attention, mask: null}}),
        "multiHeadLatentAttention: unknown input 'mask'; expected one of 'cos', 'sin', 'bias', 'cache', 'mode'");
    expectMla((s) => ({attention: {...s.attention, mode: 'absorbed'}}),
        "multiHeadLatentAttention: 'mode' expected one of 'expand', 'absorb', got \"absorbed\"");
    expectMla((s) => ({attention: {...s.attention, cos: tf.ones([1, 3, 8])}}),
        "multiHeadLatentAttention: 'cos' expected shape [batch, time, qkRopeHeadDim]=[1,3,4], got [1,3,8]");
    expectMla((s) => ({attention: {...s.attention, bias: tf.zeros([1, 3, 3])}}),
        "multiHeadLatentAttention: 'bias' expected shape [batch, 1, time, pastTime + time]=[1,1,3,3], got [1,3,3]");
    expectMla((s) => ({attention: {...s.attention, cache: {latent: tf.zeros([1, 2, 8]), ropeKey: tf.zeros([1, 2, 4])}}}),
        "multiHeadLatentAttention: 'bias' expected shape [batch, 1, time, pastTime + time]=[1,1,3,5], got [1,1,3,3]");
    expectMla((s) => ({attention: {...s.attention, bias: tf.zeros([1, 1, 3, 5]),
      cache: {latent: tf.zeros([1, 2, 8]), ropeKey: tf.zeros([1, 3, 4])}}}),
        "multiHeadLatentAttention: 'cache.ropeKey' expected shape [batch, pastTime, qkRopeHeadDim]=[1,2,4], got [1,3,4]");
    expectMla((s) => ({attention: {...s.attention, cache: {latent: tf.zeros([1, 2, 4]), ropeKey: tf.zeros([1, 2, 4])}}}),
        "multiHeadLatentAttention: 'cache.latent' expected shape [batch, pastTime, kvLoraRank]=[1,2,8], got [1,2,4]");
    expectMla((s) => { const t = s.weights.get('model.layers.0.self_attn.kv_b_proj.weight')!;
      s.weights.set('model.layers.0.self_attn.kv_b_proj.weight', tf.zeros([16, 4])); return {extra: t}; },
    "multiHeadLatentAttention: 'model.layers.0.self_attn.kv_b_proj.weight' expected shape [16,8], got [16,4]");
  });
});

describe('deepseekV3Block input checks', () => {
  it('runs a dense, an MoE and the MTP layer on the fixture and leaks nothing', () => {
    const s = setup();
    const before = tf.memory().numTensors;
    for (const layer of [0, 1, 2]) {
      const r = deepseekV3Block(s.x, getter(s.weights), layer, config, s.attention);
      expect(r.x.shape).toEqual([1, 3, 16]);
      tf.dispose([r.x, r.cache.latent, r.cache.ropeKey]);
      if (r.routing !== undefined) disposeAll(r.routing);
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(s);
  });

  it('names a bad layer index, config, x and weights with their checkpoint names', () => {
    expectBlock(() => ({layer: 3}), "deepseekV3Block: 'layer' expected <= 2, got 3");
    expectBlock(() => ({layer: 0.5}), "deepseekV3Block: 'layer' expected an integer, got 0.5");
    expectBlock(() => ({config: tinyConfig}), "deepseekV3Block: 'config' expected a resolved config (resolveDeepseekV3Config), got object");
    expectBlock(() => ({x: tf.ones([3, 16])}), "deepseekV3Block: 'x' expected shape [batch, time, hidden] (rank 3), got [3,16]");
    expectBlock((s) => ({attention: {...s.attention, mode: 'fast'}}),
        "deepseekV3Block: 'mode' expected one of 'expand', 'absorb', got \"fast\"");
    expectBlock((s) => { const n = 'model.layers.1.post_attention_layernorm.weight'; const t = s.weights.get(n)!;
      s.weights.set(n, tf.ones([8])); return {extra: t}; },
    "deepseekV3Block: 'model.layers.1.post_attention_layernorm.weight' expected shape [16], got [8]");
    expectBlock((s) => { const n = 'model.layers.1.mlp.experts.3.down_proj.weight'; const t = s.weights.get(n)!;
      s.weights.set(n, tf.ones([8, 16])); return {extra: t}; },
    "deepseekV3Block: 'model.layers.1.mlp.experts.3.down_proj.weight' expected shape [16,8], got [8,16]");
    expectBlock((s) => { const n = 'model.layers.1.self_attn.o_proj.weight'; const t = s.weights.get(n)!;
      s.weights.set(n, tf.ones([16, 8], 'int32')); return {extra: t}; },
    "deepseekV3Block: 'model.layers.1.self_attn.o_proj.weight' expected dtype float32, got int32");
    expectBlock((s) => { const t = s.weights.get('model.layers.1.mlp.gate.weight'); s.weights.delete('model.layers.1.mlp.gate.weight'); return {extra: t}; },
        "no weight 'model.layers.1.mlp.gate.weight'");
  });
});

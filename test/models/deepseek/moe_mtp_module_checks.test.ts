import * as tf from '@tensorflow/tfjs-core';
import {afterAll, describe, expect, it} from 'vitest';
import {deepseekMoe, type DeepseekMoeConfig} from '../../../src/models/deepseek_moe.js';
import {DeepseekV3Policy} from '../../../src/models/deepseek_v3.js';
import {mtpModule} from '../../../src/models/mtp.js';
import type {WeightGetter} from '../../../src/models/weight_getter.js';
import {tinyConfig} from './tiny_config.js';

describe('deepseekMoe checks', () => {
  const H = 4, I = 2, E = 4;
  const W = new Map<string, tf.Tensor>();
  const w: WeightGetter = (n) => {
    if (!W.has(n)) W.set(n, n.endsWith('bias') ? tf.zeros([E]) : n.startsWith('gate') ? tf.ones([E, H]) : n.includes('down') ? tf.ones([H, I]) : tf.ones([I, H]));
    return W.get(n)!;
  };
  const cfg: DeepseekMoeConfig = {nRoutedExperts: E, numExpertsPerTok: 2, nSharedExperts: 1, nGroup: 1, topkGroup: 1,
    normTopkProb: true, routedScalingFactor: 1, expertCompute: 'dense'};
  let x: tf.Tensor2D;
  let odd: tf.Tensor[] = [];
  afterAll(() => tf.dispose([x, ...odd, ...W.values()]));

  it('names config keys, sizes and every weight; nothing runs on a bad input', () => {
    x = tf.ones([3, H]) as tf.Tensor2D;
    odd = [tf.ones([3, H]), tf.ones([H, 3]), tf.zeros([E], 'int32'), tf.ones([3, 5])];
    const run = (c: unknown, getter: WeightGetter = w, input: unknown = x) => () => deepseekMoe(input as tf.Tensor2D, getter, '', c as DeepseekMoeConfig);
    const out = deepseekMoe(x, w, '', cfg); // creates the weights
    tf.dispose([out.output, ...Object.values(out.routing)]);
    const before = tf.memory().numTensors;
    const f = 'deepseekMoe';
    expect(run({...cfg, topK: 2})).toThrow(`${f}: unknown key of 'config' 'topK'; expected one of 'nRoutedExperts', ` +
        "'numExpertsPerTok', 'nSharedExperts', 'nGroup', 'topkGroup', 'normTopkProb', 'routedScalingFactor', 'expertCompute'");
    expect(run(null)).toThrow(`${f}: 'config' expected an object {nRoutedExperts, numExpertsPerTok, nSharedExperts, nGroup, ` +
        'topkGroup, normTopkProb, routedScalingFactor, expertCompute}, got null');
    expect(run({...cfg, nRoutedExperts: NaN})).toThrow(`${f}: 'config.nRoutedExperts' expected a finite number, got NaN`);
    expect(run({...cfg, numExpertsPerTok: 5})).toThrow(`${f}: 'config.numExpertsPerTok' expected <= 4, got 5`);
    expect(run({...cfg, nSharedExperts: 1.5})).toThrow(`${f}: 'config.nSharedExperts' expected an integer, got 1.5`);
    expect(run({...cfg, nGroup: 3, topkGroup: 1})).toThrow(`${f}: 'config.nGroup' expected to divide nRoutedExperts=4, got 3`);
    expect(run({...cfg, nGroup: 2, topkGroup: 3})).toThrow(`${f}: 'config.topkGroup' expected <= 2, got 3`);
    expect(run({...cfg, routedScalingFactor: NaN})).toThrow(`${f}: 'config.routedScalingFactor' expected a finite number, got NaN`);
    expect(run({...cfg, normTopkProb: 'yes'})).toThrow(`${f}: 'config.normTopkProb' expected a boolean, got yes`);
    expect(run({...cfg, expertCompute: 'sparse'})).toThrow(`${f}: 'config.expertCompute' expected one of 'dense', 'gather', got "sparse"`);
    expect(run({...cfg, nRoutedExperts: 3, numExpertsPerTok: 2})).toThrow(
        `${f}: 'gate.weight' expected shape [nRoutedExperts, hidden]=[3,4], got [4,4]`);
    expect(run(cfg, w, odd[3])).toThrow(`${f}: 'gate.weight' expected shape [nRoutedExperts, hidden]=[4,5], got [4,4]`);
    expect(run(cfg, (n) => n === 'experts.2.up_proj.weight' ? odd[0]! : w(n))).toThrow(
        `${f}: 'experts.2.up_proj.weight' expected shape [moeIntermediate, hidden]=[2,4], got [3,4]`);
    expect(run({...cfg, expertCompute: 'gather'}, (n) => n === 'experts.2.down_proj.weight' ? odd[1]! : w(n))).toThrow(
        `${f}: 'experts.2.down_proj.weight' expected shape [hidden, moeIntermediate]=[4,2], got [4,3]`);
    expect(run(cfg, (n) => n === 'shared_experts.down_proj.weight' ? odd[1]! : w(n))).toThrow(
        `${f}: 'shared_experts.down_proj.weight' expected shape [hidden, nSharedExperts * moeIntermediate]=[4,2], got [4,3]`);
    expect(run(cfg, (n) => n.endsWith('bias') ? odd[2]! : w(n))).toThrow(`${f}: 'gate.e_score_correction_bias' expected dtype float32, got int32`);
    expect(run(cfg, (n) => (n.includes('experts.2') ? undefined : w(n)) as tf.Tensor)).toThrow(
        `${f}: 'experts.2.gate_proj.weight' expected a tf.Tensor, got undefined`);
    expect(run(cfg, null as never)).toThrow(`${f}: 'w' expected a weight getter (name) => tf.Tensor, got null`);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('mtpModule checks', () => {
  it('names the layer, the inputs and the module weights before the block', () => {
    const p = DeepseekV3Policy.create(tinyConfig, {seed: 9});
    const c = p.config, D = c.hiddenSize, L = c.numLayers;
    const w: WeightGetter = (n) => (p as unknown as {w: WeightGetter}).w(n);
    const B = 1, T = 3;
    const owned = [tf.ones([B, T, c.mla.qkRopeHeadDim]), tf.zeros([B, T, c.mla.qkRopeHeadDim]), tf.zeros([B, 1, T, T]),
      tf.ones([B, T, D]), tf.ones([B, T - 1, D]), tf.ones([B, T, D], 'int32'), tf.ones([D, D]), tf.ones([D + 1])];
    const [cos, sin, bias, h, short, hInt, square, wide] = owned as [tf.Tensor3D, tf.Tensor3D, tf.Tensor4D, tf.Tensor3D,
      tf.Tensor3D, tf.Tensor3D, tf.Tensor, tf.Tensor];
    const att = {cos, sin, bias, cache: null, mode: 'expand' as const};
    const f = 'mtpModule';
    const call = (prev: unknown, next: unknown, layer = L, getter = w, config: unknown = c) => () =>
      mtpModule(prev as tf.Tensor3D, next as tf.Tensor3D, getter, layer, config as typeof c, att);
    const before = tf.memory().numTensors;
    try {
      expect(call(h, short)).toThrow(`${f}: 'nextEmbedding' expected the shape of 'prevHidden' [1,3,${D}], got [1,2,${D}]`);
      expect(call(hInt, h)).toThrow(`${f}: 'prevHidden' expected dtype float32, got int32`);
      expect(call(tf.ones([T, D]), h)).toThrow(`${f}: 'prevHidden' expected shape [batch, time, hidden] (rank 3), got [3,${D}]`);
      expect(call(h, h, 0)).toThrow(`${f}: 'layer' expected >= ${L}, got 0`);
      expect(call(h, h, NaN)).toThrow(`${f}: 'layer' expected a finite number, got NaN`);
      expect(call(h, h, L, (n) => n.endsWith('eh_proj.weight') ? square : w(n))).toThrow(
          `${f}: 'model.layers.${L}.eh_proj.weight' expected shape [${D},${2 * D}], got [${D},${D}]`);
      expect(call(h, h, L, (n) => n.endsWith('enorm.weight') ? wide : w(n))).toThrow(
          `${f}: 'model.layers.${L}.enorm.weight' expected shape [${D}], got [${D + 1}]`);
      expect(call(h, h, L, w, null)).toThrow(`${f}: 'config' expected a resolved config (resolveDeepseekV3Config), got null`);
      expect(tf.memory().numTensors).toBe(before + 1); // the rank-2 tensor made inside the call above
    } finally {
      tf.dispose(owned);
      p.dispose();
    }
  });
});

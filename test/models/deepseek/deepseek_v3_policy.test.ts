import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../../src/math/assert.js';
import {deepseekMoe} from '../../../src/models/deepseek_moe.js';
import {DeepseekV3Policy} from '../../../src/models/deepseek_v3.js';
import {mlaCacheBytesPerToken} from '../../../src/models/mla.js';
import {tinyConfig} from './tiny_config.js';
import {centralDifferences} from '../../helpers/central_differences.js';

const ids = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

describe('deepseekMoe', () => {
  it("'dense' and 'gather' expert evaluation agree (values and gradients)", () => {
    const policy = DeepseekV3Policy.create(tinyConfig, {seed: 3});
    const w = (n: string): tf.Tensor => policy.weights.get(n)!;
    const x = tf.randomNormal([7, 16], 0, 1, 'float32', 1) as tf.Tensor2D;
    const moe = (mode: 'dense' | 'gather') => (xs: tf.Tensor) => {
      const {output, routing} = deepseekMoe(xs as tf.Tensor2D, w, 'model.layers.1.mlp.', {...policy.config.moe, expertCompute: mode});
      tf.dispose([routing.indices, routing.weights, routing.combine, routing.selected, routing.affinities]);
      return tf.sum(tf.mul(output, tf.sin(tf.range(0, 16))));
    };
    const d = moe('dense')(x).dataSync()[0]!, g = moe('gather')(x).dataSync()[0]!;
    expect(Math.abs(d - g)).toBeLessThan(1e-5);
    expect(Math.abs(d)).toBeGreaterThan(1e-4);
    const gd = tf.grad(moe('dense'))(x), gg = tf.grad(moe('gather'))(x);
    expect(tf.max(tf.abs(tf.sub(gd, gg))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, gd, gg]);
    policy.dispose();
  });
});

describe('DeepseekV3Policy', () => {
  it('shapes, parameter counts, causality, no leaks', () => {
    const policy = DeepseekV3Policy.create(tinyConfig, {seed: 1});
    const x = ids([[1, 2, 3, 4], [5, 6, 7, 8]]);
    const before = tf.memory().numTensors;
    const probe = policy.apply(x);
    tf.dispose([probe.logits, probe.hidden!]);
    expect(tf.memory().numTensors).toBe(before);
    const out = policy.apply(x);
    expect(out.logits.shape).toEqual([2, 4, 12]);
    expect(out.hidden!.shape).toEqual([2, 4, 16]);
    expect(out.auxLoss).toBeUndefined();
    const y = ids([[1, 2, 9, 9], [5, 6, 7, 8]]);
    const out2 = policy.apply(y);
    const early = (t: tf.Tensor3D): number[] => Array.from(tf.tidy(() => tf.slice(t, [0, 0, 0], [1, 2, 12])).dataSync());
    const late = (t: tf.Tensor3D): number[] => Array.from(tf.tidy(() => tf.slice(t, [0, 2, 0], [1, 1, 12])).dataSync());
    expect(early(out2.logits)).toEqual(early(out.logits));
    expect(late(out2.logits)).not.toEqual(late(out.logits));
    tf.dispose([out.logits, out.hidden!, out2.logits, out2.hidden!, y]);
    // router biases are not trainable variables; every other weight is
    expect(policy.variables().length).toBe(policy.weights.size - 2);
    expect(policy.activeParams()).toBeLessThan(policy.numParams());
    x.dispose();
    policy.dispose();
  });

  it('auxLoss: sequence balance (alpha) and MTP (lambda) terms, differentiable', () => {
    const policy = DeepseekV3Policy.create(tinyConfig, {seed: 2, sequenceBalanceAlpha: 0.1, mtpLossWeight: 0.3});
    const x = ids([[1, 2, 3, 4, 5, 6]]);
    const {value, grads} = tf.variableGrads(() => {
      const o = policy.apply(x);
      return o.auxLoss!;
    }, policy.variables());
    // MTP CE of a near-uniform model ~ ln(12) = 2.48, times 0.3; balance ~ alpha (0.1) per MoE layer (+MTP layer not counted)
    const v = value.dataSync()[0]!;
    expect(v).toBeGreaterThan(0.3 * 2.2 + 0.05);
    expect(v).toBeLessThan(0.3 * 2.8 + 0.3);
    const g = (n: string): tf.Tensor | undefined => grads[policy.weights.get(n)!.name];
    expect(tf.sum(tf.abs(g('model.layers.2.eh_proj.weight')!)).dataSync()[0]).toBeGreaterThan(0);
    expect(tf.sum(tf.abs(g('model.layers.1.mlp.gate.weight')!)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([value, x, ...Object.values(grads)]);
    policy.dispose();
  });

  it('gradient of the loss matches finite differences (MLA + MoE + MTP weights)', () => {
    const policy = DeepseekV3Policy.create(tinyConfig, {seed: 4, mtpLossWeight: 0.5, sequenceBalanceAlpha: 0.2});
    const x = ids([[3, 1, 4, 1, 5]]);
    const f = (): tf.Scalar => tf.tidy(() => {
      const o = policy.apply(x);
      return tf.add(tf.mean(tf.mul(o.logits, tf.sin(tf.range(0, 12)))), o.auxLoss!) as tf.Scalar;
    });
    const {grads} = tf.variableGrads(f, policy.variables());
    const names = ['model.layers.0.self_attn.kv_b_proj.weight', 'model.layers.1.self_attn.q_a_proj.weight',
      'model.layers.1.mlp.gate.weight', 'model.layers.1.mlp.experts.2.down_proj.weight', 'model.layers.2.eh_proj.weight',
      'model.layers.0.self_attn.kv_a_proj_with_mqa.weight'];
    for (const name of names) {
      const v = policy.weights.get(name)!;
      const g = grads[v.name]!.dataSync();
      const orig = v.dataSync().slice();
      // the coordinate with the largest analytic gradient
      let j = 0;
      for (let i = 0; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[j]!)) j = i;
      const [fd] = centralDifferences((a) => {
        v.assign(tf.tensor(a, v.shape));
        const l = f(); const r = l.dataSync()[0]!; l.dispose(); return r;
      }, orig, 1e-3, [j]);
      v.assign(tf.tensor(orig, v.shape));
      expect(Math.abs(fd! - g[j]!), name).toBeLessThan(2e-2 * Math.abs(g[j]!) + 1e-4);
    }
    tf.dispose([x, ...Object.values(grads)]);
    policy.dispose();
  });

  it('afterOptimizerStep: reports load, moves the bias against it, resets the counters; the copy is frozen', () => {
    const policy = DeepseekV3Policy.create(tinyConfig, {seed: 5, routerBiasGamma: 0.05});
    const x = ids([[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]]);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1]]);
    const o = policy.apply(x, {attentionMask: mask});
    tf.dispose([o.logits, o.hidden!]);
    const bias = policy.weights.get('model.layers.1.mlp.gate.e_score_correction_bias')!;
    const b0 = Array.from(bias.dataSync());
    const m = policy.afterOptimizerStep();
    expect(m['moe/layer1/maxOverMean']).toBeGreaterThanOrEqual(1);
    expect(m['moe/layer1/cv']).toBeGreaterThanOrEqual(0);
    const b1 = Array.from(bias.dataSync());
    // 14 real tokens x 2 experts = 28 assignments over 4 experts (mean 7): each bias moved by exactly +-0.05 or 0
    b1.forEach((v, i) => expect([0, 0.05, -0.05].some((d) => Math.abs(v - b0[i]! - d) < 1e-6)).toBe(true));
    expect(b1.reduce((a, v, i) => a + Math.abs(v - b0[i]!), 0)).toBeGreaterThan(0);
    expect(policy.afterOptimizerStep()).toEqual({}); // counters reset
    const frozen = policy.copy();
    expect(frozen.variables().every((v) => !v.trainable)).toBe(true);
    tf.dispose([x, mask]);
    frozen.dispose();
    policy.dispose();
  });

  it('rejects bad input naming the argument', () => {
    expect(() => DeepseekV3Policy.create({...tinyConfig, n_routed_experts: 5})).toThrow(/n_routed_experts' expected a multiple of n_group=2/);
    expect(() => DeepseekV3Policy.create(tinyConfig, {gamma: 1} as never)).toThrow(/unknown option 'gamma'/);
    const policy = DeepseekV3Policy.create(tinyConfig);
    expect(() => policy.apply(tf.tensor2d([[1, 2]]) as tf.Tensor2D)).toThrow(/'tokens' expected dtype int32/);
    // Ids outside the vocabulary (12): the one-hot embedding would give them a zero row, silently.
    const before = tf.memory().numTensors;
    const out = ids([[1, 12]]);
    const positions = tf.tensor2d([[0, 1]], [1, 2], 'int32') as tf.Tensor2D;
    const keyMask = tf.ones([1, 2]) as tf.Tensor2D;
    const message = "'tokens' expected ids in [0, vocabSize=12), got values in [1, 12]";
    expect(() => policy.apply(out)).toThrow(`DeepseekV3Policy.apply: ${message}`);
    expect(() => policy.mtpLogits(out)).toThrow(`DeepseekV3Policy.mtpLogits: ${message}`);
    expect(() => policy.applyWithCache({tokens: out, positions, keyMask, cache: null}))
        .toThrow(`DeepseekV3Policy.applyWithCache: ${message}`);
    tf.dispose([out, positions, keyMask]);
    expect(tf.memory().numTensors).toBe(before);
    const previous = configureValidation({valueChecks: false}); // a value check: off, the ids pass
    try {
      const unchecked = ids([[1, 12]]);
      const r = policy.apply(unchecked);
      tf.dispose([unchecked, r.logits, r.hidden!]);
    } finally {
      configureValidation(previous);
    }
    policy.dispose();
    expect(() => policy.apply(ids([[1]]))).toThrow(/disposed/);
  });

  it("checks the values of 'attentionMask' and 'keyMask' (once per mask; skipped with valueChecks off)", () => {
    const policy = DeepseekV3Policy.create(tinyConfig);
    const tokens = ids([[1, 2, 3]]);
    const half = tf.tensor2d([[0, 0.5, 1]]) as tf.Tensor2D;
    const positions = tf.tensor2d([[0, 0, 1]], [1, 3], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => policy.apply(tokens, {attentionMask: half})).toThrow(
        "DeepseekV3Policy.apply: 'attentionMask' expected values in {0, 1}, got 0.5 (shape [1,3])");
    expect(() => policy.applyWithCache({tokens, positions, keyMask: half, cache: null})).toThrow(
        "DeepseekV3Policy.applyWithCache: 'keyMask' expected values in {0, 1}, got 0.5 (shape [1,3])");
    expect(tf.memory().numTensors).toBe(before);
    const previous = configureValidation({valueChecks: false});
    try {
      const out = policy.apply(tokens, {attentionMask: half});
      const cached = policy.applyWithCache({tokens, positions, keyMask: half, cache: null});
      tf.dispose([out.logits, out.hidden!, cached.logits, cached.hidden!]);
      policy.disposeCache(cached.cache);
    } finally {
      configureValidation(previous);
    }
    tf.dispose([tokens, half, positions]);
    policy.dispose();
  });
});

describe('mlaCacheBytesPerToken', () => {
  it('DeepSeek-V3 (61 layers, 128 heads, d_c 512, d_R 64, d_h 128, d_v 128), bf16', () => {
    const r = mlaCacheBytesPerToken({numHeads: 128, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128}, 61, 2);
    expect(r.mla).toBe(61 * 576 * 2); // 70,272
    expect(r.mha).toBe(61 * 128 * (192 + 128) * 2); // 4,997,120
    expect(r.ratio).toBeCloseTo(71.11, 2);
  });
});

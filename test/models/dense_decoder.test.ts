import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {DenseDecoderPolicy, denseDecoderWeightSpecs} from '../../src/models/dense_decoder.js';
import {llamaConfig, qwen2Config, qwen3Config} from '../../src/models/pretrained/dense_config.js';
import {MissingConfigFieldError, PretrainedLoadError} from '../../src/models/pretrained/errors.js';

const base = {vocab_size: 16, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 32};

describe('dense config mapping', () => {
  it('Llama / Qwen2 / Qwen3 biases, norms, head_dim, GQA and tying', () => {
    const l = llamaConfig({...base, attention_bias: true, mlp_bias: true});
    expect([l.qkvBias, l.outputBias, l.mlpBias, l.qkNorm, l.headDim, l.numKvHeads, l.tieWordEmbeddings, l.rmsNormEps])
        .toEqual([true, true, true, false, 2, 2, false, 1e-6]);
    const q2 = qwen2Config({...base, tie_word_embeddings: true, rms_norm_eps: 1e-5});
    expect([q2.qkvBias, q2.outputBias, q2.mlpBias, q2.qkNorm, q2.tieWordEmbeddings, q2.rmsNormEps]).toEqual([true, false, false, false, true, 1e-5]);
    const q3 = qwen3Config({...base, head_dim: 6});
    expect([q3.qkvBias, q3.qkNorm, q3.headDim]).toEqual([false, true, 6]);
    const names = denseDecoderWeightSpecs(q3).map(([n]) => n);
    expect(names).toContain('model.layers.1.self_attn.q_norm.weight');
    expect(names).toContain('lm_head.weight');
    expect(denseDecoderWeightSpecs(q3).find(([n]) => n === 'model.layers.0.self_attn.q_proj.weight')![1]).toEqual([24, 8]);
    expect(denseDecoderWeightSpecs(q2).map(([n]) => n)).not.toContain('lm_head.weight');
    expect(denseDecoderWeightSpecs(q2).map(([n]) => n)).toContain('model.layers.0.self_attn.k_proj.bias');
    expect(llamaConfig({...base, num_key_value_heads: undefined}).numKvHeads).toBe(4);
  });

  it('names bad fields', () => {
    expect(() => llamaConfig({...base, num_key_value_heads: 3})).toThrow(/'num_key_value_heads' expected a divisor of num_attention_heads=4/);
    expect(() => llamaConfig({...base, hidden_act: 'gelu'})).toThrow(MissingConfigFieldError);
    expect(() => llamaConfig({...base, hidden_size: 10, num_attention_heads: 4, num_key_value_heads: 4})).toThrow(/'head_dim'/);
    expect(() => qwen2Config({...base, use_sliding_window: true})).toThrow(PretrainedLoadError);
    expect(() => qwen2Config({...base, rms_norm_eps: '1e-6'})).toThrow(/'rms_norm_eps' expected a number, got "1e-6"/);
  });
});

describe('DenseDecoderPolicy', () => {
  it('property: a left-padded row gives the logits of the unpadded row', () => {
    const policy = DenseDecoderPolicy.create(qwen3Config({...base, head_dim: 4}), {seed: 2, std: 0.3});
    fc.assert(fc.property(fc.array(fc.integer({min: 0, max: 15}), {minLength: 1, maxLength: 5}), fc.integer({min: 1, max: 3}),
        (ids, pad) => {
          const [a, b] = tf.tidy(() => {
            const plain = policy.apply(tf.tensor2d([ids], [1, ids.length], 'int32')).logits;
            const padded = policy.apply(tf.tensor2d([[...Array<number>(pad).fill(7), ...ids]], [1, pad + ids.length], 'int32'),
                {attentionMask: tf.tensor2d([[...Array<number>(pad).fill(0), ...ids.map(() => 1)]])}).logits;
            return [plain, tf.slice(padded, [0, pad, 0], [1, ids.length, -1])];
          });
          const [x, y] = [a.dataSync(), b.dataSync()];
          for (let i = 0; i < x.length; i++) expect(y[i]).toBeCloseTo(x[i]!, 5);
          tf.dispose([a, b]);
        }), {numRuns: 10});
    policy.dispose();
  });

  it('rejects bad tokens and masks naming the argument; a tied model counts its embedding once', () => {
    const policy = DenseDecoderPolicy.create(qwen2Config({...base, tie_word_embeddings: true}));
    expect(policy.numParams()).toBe(denseDecoderWeightSpecs(policy.config).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0));
    const bad = tf.tensor2d([[1, 16]], [1, 2], 'int32');
    expect(() => policy.apply(bad)).toThrow(/DenseDecoderPolicy.apply: 'tokens' expected ids in \[0, vocabSize=16\), got values in \[1, 16\]/);
    const f = tf.tensor2d([[1, 2]]);
    expect(() => policy.apply(f as tf.Tensor2D)).toThrow(/'tokens' expected dtype int32/);
    const ok = tf.tensor2d([[1, 2]], [1, 2], 'int32');
    const m = tf.ones([1, 3]) as tf.Tensor2D;
    expect(() => policy.apply(ok, {attentionMask: m})).toThrow(/'attentionMask' expected shape \[batch, time\]=\[1,2\], got \[1,3\]/);
    const long = tf.zeros([1, 33], 'int32') as tf.Tensor2D;
    expect(() => policy.apply(long)).toThrow(/contextLength=32/);
    expect(() => policy.applyWithCache({tokens: ok, positions: ok, keyMask: m as tf.Tensor2D, cache: null}))
        .toThrow(/'keyMask' expected shape \[batch, pastTime \+ newTime\]=\[1,2\], got \[1,3\]/);
    tf.dispose([bad, f, ok, m, long]);
    policy.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {denseDecoderLayer, type DenseDecoderLayerInputs} from '../../src/models/dense_decoder_layer.js';
import {groupedQueryAttention, type GroupedQueryAttentionInputs} from '../../src/models/grouped_query_attention.js';

// B=1, T=2, hidden D=4, H=2 heads, G=1 kv head, d=2.
const opts = {numHeads: 2, numKvHeads: 1, headDim: 2};
function gqaInputs(): GroupedQueryAttentionInputs {
  return {
    x: tf.ones([1, 2, 4]) as tf.Tensor3D,
    weights: {q: tf.ones([4, 4]) as tf.Tensor2D, k: tf.ones([2, 4]) as tf.Tensor2D, v: tf.ones([2, 4]) as tf.Tensor2D,
      o: tf.ones([4, 4]) as tf.Tensor2D},
    cos: tf.ones([1, 2, 2]) as tf.Tensor3D, sin: tf.zeros([1, 2, 2]) as tf.Tensor3D,
    maskBias: tf.zeros([1, 1, 2, 2]) as tf.Tensor4D, pastKeys: null, pastValues: null,
  };
}
function disposeAll(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (typeof x === 'object' && x !== null) for (const v of Object.values(x)) disposeAll(v);
}

/** Runs `f` on fresh inputs, expects `message`, checks nothing leaked. */
function expectGqaError(edit: (i: GroupedQueryAttentionInputs) => unknown, message: string, options: unknown = opts): void {
  const inputs = gqaInputs();
  const before = tf.memory().numTensors;
  const extra = edit(inputs);
  const mid = tf.memory().numTensors;
  expect(() => groupedQueryAttention(inputs, options as typeof opts)).toThrow(message);
  expect(tf.memory().numTensors).toBe(mid);
  expect(mid).toBeGreaterThanOrEqual(before);
  disposeAll(inputs);
  disposeAll(extra);
}

describe('groupedQueryAttention input checks', () => {
  it('runs on the fixture (sanity) and leaks nothing', () => {
    const inputs = gqaInputs();
    const before = tf.memory().numTensors;
    const r = groupedQueryAttention(inputs, opts);
    expect(r.out.shape).toEqual([1, 2, 4]);
    tf.dispose([r.out, r.keys, r.values]);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(inputs);
  });

  it('names bad options: unknown key, heads not dividing, non-integer sizes, NaN eps', () => {
    expectGqaError(() => null, "groupedQueryAttention: unknown option 'numKVHeads'; expected one of 'numHeads', " +
        "'numKvHeads', 'headDim', 'rmsNormEps'; did you mean 'numKvHeads'?", {...opts, numKVHeads: 1});
    expectGqaError(() => null, "groupedQueryAttention: 'numKvHeads' expected a divisor of numHeads=3, got 2",
        {numHeads: 3, numKvHeads: 2, headDim: 2});
    expectGqaError(() => null, "groupedQueryAttention: 'headDim' expected an integer, got 1.5", {...opts, headDim: 1.5});
    expectGqaError(() => null, "groupedQueryAttention: 'numHeads' expected >= 1, got 0", {...opts, numHeads: 0});
    expectGqaError(() => null, "groupedQueryAttention: 'numKvHeads' expected a finite number, got undefined",
        {numHeads: 2, headDim: 2});
    expectGqaError(() => null, "groupedQueryAttention: 'rmsNormEps' expected a finite number, got NaN", {...opts, rmsNormEps: NaN});
    expectGqaError(() => null, "groupedQueryAttention: 'options' expected {numHeads, numKvHeads, headDim, rmsNormEps?}, got null",
        null);
  });

  it('names unknown input and weight keys', () => {
    expectGqaError((i) => { (i as unknown as Record<string, unknown>)['mask'] = null; },
        "groupedQueryAttention: unknown input 'mask'; expected one of 'x', 'weights', 'cos', 'sin', 'maskBias', " +
        "'pastKeys', 'pastValues'");
    expectGqaError((i) => { (i.weights as unknown as Record<string, unknown>)['q_proj'] = null; },
        "groupedQueryAttention: unknown key of 'weights' 'q_proj'; expected one of 'q', 'k', 'v', 'o', 'qBias', 'kBias', " +
        "'vBias', 'oBias', 'qNorm', 'kNorm'");
  });

  it('names wrong shapes and dtypes of x and the weights', () => {
    expectGqaError((i) => { const t = i.x; i.x = tf.ones([2, 4]) as never; return t; },
        "groupedQueryAttention: 'x' expected shape [batch, newTime, hidden] (rank 3), got [2,4]");
    expectGqaError((i) => { const t = i.x; i.x = tf.ones([1, 2, 4], 'int32') as never; return t; },
        "groupedQueryAttention: 'x' expected dtype float32, got int32");
    expectGqaError((i) => { const t = i.weights.q; i.weights.q = tf.ones([4, 3]) as never; return t; },
        "groupedQueryAttention: 'weights.q' expected shape [heads * headDim, hidden]=[4,4], got [4,3]");
    expectGqaError((i) => { const t = i.weights.k; i.weights.k = tf.ones([4, 4]) as never; return t; },
        "groupedQueryAttention: 'weights.k' expected shape [kvHeads * headDim, hidden]=[2,4], got [4,4]");
    expectGqaError((i) => { const t = i.weights.o; i.weights.o = tf.ones([4, 4], 'int32') as never; return t; },
        "groupedQueryAttention: 'weights.o' expected dtype float32, got int32");
    expectGqaError((i) => { delete (i.weights as Partial<typeof i.weights>).v; },
        "groupedQueryAttention: 'weights.v' expected a tf.Tensor, got undefined; pass a tf.Tensor (is the argument " +
        'missing, or its name misspelled?)');
    expectGqaError((i) => { i.weights.oBias = tf.ones([3]) as never; },
        "groupedQueryAttention: 'weights.oBias' expected shape [hidden]=[4], got [3]");
    expectGqaError((i) => { i.weights.qNorm = tf.ones([4]) as never; },
        "groupedQueryAttention: 'weights.qNorm' expected shape [headDim]=[2], got [4]");
  });

  it('names wrong RoPE tables, mask bias and cache', () => {
    expectGqaError((i) => { const t = i.cos; i.cos = tf.ones([1, 2, 4]) as never; return t; },
        "groupedQueryAttention: 'cos' expected shape [batch, newTime, headDim]=[1,2,2], got [1,2,4]");
    expectGqaError((i) => { const t = i.sin; i.sin = tf.ones([2, 2]) as never; return t; },
        "groupedQueryAttention: 'sin' expected shape [batch, newTime, headDim]=[1,2,2], got [2,2]");
    expectGqaError((i) => { const t = i.maskBias; i.maskBias = tf.zeros([1, 2, 2]) as never; return t; },
        "groupedQueryAttention: 'maskBias' expected shape [batch, 1, newTime, pastTime + newTime]=[1,1,2,2], got [1,2,2]");
    expectGqaError((i) => { i.pastKeys = tf.zeros([1, 1, 3, 2]) as never; },
        "groupedQueryAttention: 'pastKeys' and 'pastValues' expected both tensors or both null, got a tensor and null");
    expectGqaError((i) => { i.pastKeys = tf.zeros([1, 1, 3, 2]) as never; i.pastValues = tf.zeros([1, 1, 3, 2]) as never; },
        "groupedQueryAttention: 'maskBias' expected shape [batch, 1, newTime, pastTime + newTime]=[1,1,2,5], got [1,1,2,2]");
    expectGqaError((i) => { i.pastKeys = tf.zeros([1, 2, 3, 2]) as never; i.pastValues = tf.zeros([1, 2, 3, 2]) as never; },
        "groupedQueryAttention: 'pastKeys' expected shape [batch, kvHeads, pastTime, headDim]=[1,1,3,2], got [1,2,3,2]");
    expectGqaError((i) => { i.pastKeys = tf.zeros([1, 1, 3, 2]) as never; i.pastValues = tf.zeros([1, 1, 4, 2]) as never; },
        "groupedQueryAttention: 'pastValues' expected shape [batch, kvHeads, pastTime, headDim]=[1,1,3,2], got [1,1,4,2]");
  });
});

function layerInputs(): DenseDecoderLayerInputs {
  const {weights, ...rest} = gqaInputs();
  return {...rest, weights: {inputNorm: tf.ones([4]) as tf.Tensor1D, attention: weights,
    postAttentionNorm: tf.ones([4]) as tf.Tensor1D,
    mlp: {gate: tf.ones([8, 4]) as tf.Tensor2D, up: tf.ones([8, 4]) as tf.Tensor2D, down: tf.ones([4, 8]) as tf.Tensor2D}}};
}

function expectLayerError(edit: (i: DenseDecoderLayerInputs) => unknown, message: string, options: unknown = opts): void {
  const inputs = layerInputs();
  const extra = edit(inputs);
  const mid = tf.memory().numTensors;
  expect(() => denseDecoderLayer(inputs, options as typeof opts)).toThrow(message);
  expect(tf.memory().numTensors).toBe(mid);
  disposeAll(inputs);
  disposeAll(extra);
}

describe('denseDecoderLayer input checks', () => {
  it('runs on the fixture and leaks nothing', () => {
    const inputs = layerInputs();
    const before = tf.memory().numTensors;
    const r = denseDecoderLayer(inputs, opts);
    expect(r.out.shape).toEqual([1, 2, 4]);
    tf.dispose([r.out, r.keys, r.values]);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(inputs);
  });

  it('names its own weights, the attention weights under weights.attention, and bad options', () => {
    expectLayerError((i) => { (i.weights as unknown as Record<string, unknown>)['inputNorm_'] = null; },
        "denseDecoderLayer: unknown key of 'weights' 'inputNorm_'; expected one of 'inputNorm', 'attention', " +
        "'postAttentionNorm', 'mlp'; did you mean 'inputNorm'?");
    expectLayerError((i) => { const t = i.weights.inputNorm; i.weights.inputNorm = tf.ones([3]) as never; return t; },
        "denseDecoderLayer: 'weights.inputNorm' expected shape [hidden]=[4], got [3]");
    expectLayerError((i) => { const t = i.weights.postAttentionNorm; i.weights.postAttentionNorm = tf.ones([4], 'int32') as never; return t; },
        "denseDecoderLayer: 'weights.postAttentionNorm' expected dtype float32, got int32");
    expectLayerError((i) => { const t = i.weights.attention.q; i.weights.attention.q = tf.ones([2, 4]) as never; return t; },
        "denseDecoderLayer: 'weights.attention.q' expected shape [heads * headDim, hidden]=[4,4], got [2,4]");
    expectLayerError(() => null, "denseDecoderLayer: 'rmsNormEps' expected a finite number, got NaN", {...opts, rmsNormEps: NaN});
    expectLayerError(() => null, "denseDecoderLayer: 'numKvHeads' expected a divisor of numHeads=2, got 3", {...opts, numKvHeads: 3});
    expectLayerError((i) => { (i as unknown as Record<string, unknown>)['cache'] = null; },
        "denseDecoderLayer: unknown input 'cache'; expected one of 'x', 'weights', 'cos', 'sin', 'maskBias', 'pastKeys', 'pastValues'");
  });
});

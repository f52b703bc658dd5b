import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {ValueHead} from '../../src/models/value_head.js';
import {centralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

describe('ValueHead', () => {
  it('hand-computed values: V = h . w + b', () => {
    const head = new ValueHead(2, {initStd: 0, biasInit: 0.5});
    head.kernel.assign(tf.tensor2d([[2], [-1]]));
    // h = [[[1, 1], [3, 0]]]: [1*2 - 1 + 0.5, 3*2 + 0.5] = [1.5, 6.5]
    const h = tf.tensor3d([[[1, 1], [3, 0]]]);
    const v = head.apply(h);
    expect(v.shape).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([1.5, 6.5]);
    tf.dispose([h, v]);
    head.dispose();
  });

  it('initialises with std 1/sqrt(hidden + 1), a zero bias, and is reproducible from a seed', () => {
    const a = new ValueHead(400, {seed: 7});
    const b = new ValueHead(400, {seed: 7});
    expect(a.kernel.shape).toEqual([400, 1]);
    expect(a.bias.dataSync()[0]).toBe(0);
    expect(Array.from(a.kernel.dataSync())).toEqual(Array.from(b.kernel.dataSync()));
    const {variance} = tf.moments(a.kernel);
    const std = Math.sqrt(variance.dataSync()[0]!);
    expect(std).toBeGreaterThan(0.7 / Math.sqrt(401));
    expect(std).toBeLessThan(1.3 / Math.sqrt(401));
    expect(a.kernel.name).not.toBe(b.kernel.name);
    tf.dispose(variance);
    a.dispose();
    b.dispose();
  });

  it('property: each position depends only on its own hidden state (row/time independence)', () => {
    const head = new ValueHead(3, {seed: 1});
    fc.assert(fc.property(
        fc.array(fc.double({min: -3, max: 3, noNaN: true}), {minLength: 12, maxLength: 12}),
        fc.integer({min: 0, max: 3}), (data, changed) => {
          const h = tf.tensor3d(data, [2, 2, 3]);
          const other = data.slice();
          for (let k = 0; k < 3; k++) other[changed * 3 + k] = other[changed * 3 + k]! + 1;
          const h2 = tf.tensor3d(other, [2, 2, 3]);
          const [v, v2] = [head.apply(h), head.apply(h2)];
          const [a, b] = [v.dataSync(), v2.dataSync()];
          for (let i = 0; i < 4; i++) if (i !== changed) expect(b[i]).toBe(a[i]);
          tf.dispose([h, h2, v, v2]);
        }), {numRuns: 20});
    head.dispose();
  });

  it('gradients with respect to the variables and the hidden states match finite differences', () => {
    const head = new ValueHead(3, {seed: 3});
    const h = tf.tensor3d([[[0.5, -1, 2], [1, 0.3, -0.2]]]);
    const target = tf.tensor2d([[1, -1]]);
    const lossOf = () => tf.sum(tf.square(tf.sub(head.apply(h), target))) as tf.Scalar;
    const {grads} = tf.variableGrads(lossOf, head.variables);
    const gKernel = grads[head.kernel.name]!.dataSync();
    const h_ = 1e-3;
    const k0 = head.kernel.dataSync().slice();
    const fd = centralDifferences((k) => {
      head.kernel.assign(tf.tensor2d(k, [3, 1]));
      const l = lossOf();
      const val = l.dataSync()[0]!;
      l.dispose();
      return val;
    }, k0, h_);
    head.kernel.assign(tf.tensor2d(k0, [3, 1]));
    expectGradientClose(gKernel, fd, {digits: 1});
    expectGradientClose(gKernel, fd, {rtol: 1e-2, floor: 1});
    // d loss / d bias = sum 2 (v - target)
    const v = head.apply(h);
    const expectedBias = tf.sum(tf.mul(2, tf.sub(v, target)));
    expect(grads[head.bias.name]!.dataSync()[0]!).toBeCloseTo(expectedBias.dataSync()[0]!, 4);
    // d V_{0,t} / d h_{0,t,:} = w
    const gh = tf.grad((x: tf.Tensor) => tf.sum(head.apply(x as tf.Tensor3D)))(h);
    const w = Array.from(head.kernel.dataSync());
    expect(Array.from(gh.dataSync())).toEqual([...w, ...w].map((x) => expect.closeTo(x, 6)));
    tf.dispose([h, target, v, expectedBias, gh, ...Object.values(grads)]);
    head.dispose();
  });

  it('learns a linear target with tf.train.adam and does not leak', () => {
    const head = new ValueHead(4, {seed: 0});
    const h = tf.randomNormal([8, 6, 4], 0, 1, 'float32', 1) as tf.Tensor3D;
    const trueW = tf.tensor2d([[1], [-2], [0.5], [0]]);
    const target = tf.tidy(() => tf.reshape(tf.add(tf.matMul(tf.reshape(h, [48, 4]), trueW), 0.3), [8, 6]));
    const optimizer = tf.train.adam(0.05);
    const loss = () => tf.mean(tf.square(tf.sub(head.apply(h), target))) as tf.Scalar;
    const first = loss();
    const start = first.dataSync()[0]!;
    first.dispose();
    // Warm-up step creates the optimizer slots, then the tensor count must stay flat.
    optimizer.minimize(loss, false, head.variables);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) optimizer.minimize(loss, false, head.variables);
    expect(tf.memory().numTensors).toBe(before);
    const last = loss();
    expect(last.dataSync()[0]!).toBeLessThan(1e-3 * start);
    expect(head.bias.dataSync()[0]!).toBeCloseTo(0.3, 1);
    last.dispose();
    const beforeApply = tf.memory().numTensors;
    const v = head.apply(h);
    expect(tf.memory().numTensors).toBe(beforeApply + 1);
    tf.dispose([h, trueW, target, v]);
    optimizer.dispose();
    const beforeDispose = tf.memory().numTensors;
    head.dispose();
    expect(tf.memory().numTensors).toBe(beforeDispose - 2);
    head.dispose(); // idempotent
  });

  it('sits on TransformerPolicy hidden states; gradients reach the head and the trunk', () => {
    const policy = TransformerPolicy.create({vocabSize: 12, contextLength: 8, layers: 1, width: 8, heads: 2, seed: 1});
    const head = new ValueHead(policy.config.width, {seed: 2});
    const tokens = tf.tensor2d([[1, 2, 3, 4], [5, 6, 7, 0]], [2, 4], 'int32');
    const before = tf.memory().numTensors;
    const {value, grads} = tf.variableGrads(() => {
      const {logits, hidden} = policy.apply(tokens);
      logits.dispose();
      return tf.mean(tf.square(head.apply(hidden))) as tf.Scalar;
    }, [...policy.weights.values(), ...head.variables]);
    expect(grads[head.kernel.name]).toBeDefined();
    const trunkGradNorm = tf.tidy(() => tf.addN(Object.entries(grads)
        .filter(([k]) => k !== head.kernel.name && k !== head.bias.name)
        .map(([, g]) => tf.sum(tf.square(g)))));
    expect(trunkGradNorm.dataSync()[0]!).toBeGreaterThan(0);
    tf.dispose([value, trunkGradNorm, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tokens.dispose();
    head.dispose();
    policy.dispose();
  });

  it('throws named errors on bad input', () => {
    expect(() => new ValueHead(0)).toThrow("ValueHead: 'hiddenSize' expected >= 1, got 0");
    expect(() => new ValueHead(2.5)).toThrow("ValueHead: 'hiddenSize' expected an integer, got 2.5");
    expect(() => new ValueHead(4, {initStd: -1})).toThrow("ValueHead: 'initStd' expected >= 0, got -1");
    expect(() => new ValueHead(4, {std: 1} as never)).toThrow("ValueHead: unknown option 'std'");
    const head = new ValueHead(4);
    const wrong = tf.zeros([2, 3, 5]) as tf.Tensor3D;
    const rank2 = tf.zeros([2, 4]) as unknown as tf.Tensor3D;
    expect(() => head.apply(wrong)).toThrow("ValueHead.apply: 'hidden' expected shape [batch, time, hidden]=[2,3,4], got [2,3,5]");
    expect(() => head.apply(rank2)).toThrow("ValueHead.apply: 'hidden' expected shape [batch, time, hidden] (rank 3), got [2,4]");
    head.dispose();
    const ok = tf.zeros([1, 1, 4]) as tf.Tensor3D;
    expect(() => head.apply(ok)).toThrow('ValueHead.apply: the head has been disposed');
    tf.dispose([wrong, rank2, ok]);
  });
});

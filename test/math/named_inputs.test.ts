// Named-input objects reject unknown keys (a misspelled `oldLogprobs` would otherwise be ignored and
// the ratio silently become 1), and a non-tensor argument names what it got and how to fix it.
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {
  clippedPolicyLoss, gae, grpoLoss, grpoLossWithStats, groupAdvantages, klPenalty, klShapedRewards, maskedMean, ppoLoss,
  tokenLogProbs, valueLoss,
} from '../../src/index.js';
import {assertKnownInputs, assertKnownOptions, closestName, describeNonTensor} from '../../src/math/assert.js';

const lp = () => tf.tensor2d([[-1, -2]]);
const adv = () => tf.tensor1d([1]);
const mask = () => tf.tensor2d([[1, 1]]);

describe('assertKnownInputs', () => {
  it('lists the expected keys and suggests the closest one', () => {
    expect(() => assertKnownInputs({logProbs: 1, oldLogprobs: 2}, ['logProbs', 'oldLogProbs', 'mask'], 'grpoLoss')).toThrow(
        "grpoLoss: unknown input 'oldLogprobs'; expected one of 'logProbs', 'oldLogProbs', 'mask'; did you mean 'oldLogProbs'?");
    expect(() => assertKnownInputs({refrence: 1}, ['policy', 'reference'], 'grpoStep', 'ctx')).toThrow(
        "grpoStep: unknown key of 'ctx' 'refrence'; expected one of 'policy', 'reference'; did you mean 'reference'?");
  });
  it('suggests nothing when no name is close', () => {
    expect(() => assertKnownInputs({zzz: 1}, ['logProbs', 'mask'], 'f')).toThrow(/expected one of 'logProbs', 'mask'$/);
  });
  it('rejects a non-object and accepts known keys (also when undefined)', () => {
    expect(() => assertKnownInputs(undefined, ['a', 'b'], 'f')).toThrow("f: 'inputs' expected an object {a, b}, got undefined");
    const t = tf.scalar(1);
    expect(() => assertKnownInputs(t, ['a'], 'f')).toThrow("f: 'inputs' expected an object {a}, got a tf.Tensor");
    t.dispose();
    expect(() => assertKnownInputs([1], ['a'], 'f')).toThrow("f: 'inputs' expected an object {a}, got an array");
    expect(() => assertKnownInputs({a: 1, b: undefined}, ['a', 'b'], 'f')).not.toThrow();
  });
  it('closestName: case, underscores and small edits', () => {
    expect(closestName('old_log_probs', ['logProbs', 'oldLogProbs'])).toBe('oldLogProbs');
    expect(closestName('advantage', ['advantages', 'mask'])).toBe('advantages');
    expect(closestName('betta', ['beta', 'clipLow'])).toBe('beta');
    expect(closestName('values', ['mask'])).toBeUndefined();
  });
  it('assertKnownOptions suggests the closest option too', () => {
    expect(() => assertKnownOptions({clip_low: 0.2}, ['clipLow', 'clipHigh'], 'grpoLoss')).toThrow(
        "grpoLoss: unknown option 'clip_low'; expected one of 'clipLow', 'clipHigh'; did you mean 'clipLow'?");
  });
});

describe('every public function with named inputs rejects a misspelled key', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['clippedPolicyLoss', () => clippedPolicyLoss({logProbs: lp(), oldLogprobs: lp(), advantages: adv(), mask: mask()} as never), 'oldLogProbs'],
    ['grpoLoss', () => grpoLoss({logProbs: lp(), oldLogprobs: lp(), advantages: adv(), mask: mask()} as never), 'oldLogProbs'],
    ['grpoLoss', () => grpoLoss({logProbs: lp(), advantages: adv(), mask: mask(), ref_log_probs: lp()} as never), 'refLogProbs'],
    ['grpoLossWithStats', () => grpoLossWithStats({logProbs: lp(), advantage: adv(), mask: mask()} as never), 'advantages'],
    ['ppoLoss', () => ppoLoss({logProbs: lp(), oldLogProbs: lp(), advantages: adv(), values: lp(), returns: lp(), mask: mask(),
      oldValue: lp()} as never), 'oldValues'],
    ['valueLoss', () => valueLoss({values: lp(), returns: lp(), mask: mask(), oldvalues: lp()} as never, {clip: 0.2}), 'oldValues'],
    ['gae', () => gae({rewards: lp(), values: lp(), masks: mask()} as never), 'mask'],
    ['klShapedRewards', () => klShapedRewards({score: adv(), kl: lp(), mask: mask()} as never, {klCoef: 0.1}), 'scores'],
  ];
  for (const [fn, call, suggestion] of cases) {
    it(`${fn} (suggests '${suggestion}')`, () => {
      tf.engine().startScope();
      try {
        expect(call).toThrow(new RegExp(`^${fn}: unknown input '\\w+'; expected one of .*; did you mean '${suggestion}'\\?$`));
      } finally {
        tf.engine().endScope();
      }
    });
  }
  it('grpoLoss accepts every documented key', () => {
    tf.engine().startScope();
    expect(() => grpoLoss({logProbs: lp(), oldLogProbs: lp(), refLogProbs: lp(), advantages: adv(), mask: mask()}, {beta: 0.1}))
        .not.toThrow();
    tf.engine().endScope();
  });
});

describe('a non-tensor argument names what it got and the fix', () => {
  it('typed arrays, arrays, numbers, null/undefined, objects, functions', () => {
    expect(describeNonTensor(new Float32Array(4))).toBe('Float32Array of length 4; wrap it with tf.tensor1d');
    expect(describeNonTensor(new Float32Array(6), 2)).toBe('Float32Array of length 6; wrap it with tf.tensor2d(values, shape)');
    expect(describeNonTensor([1, 2, 3], 1)).toBe('an array (number[] of shape [3]); wrap it with tf.tensor1d');
    expect(describeNonTensor([[1, 2], [3, 4]], 2)).toBe('an array (number[][] of shape [2,2]); wrap it with tf.tensor2d');
    expect(describeNonTensor([1, 2, 3, 4], 2))
        .toBe('an array (number[] of shape [4]); wrap it with tf.tensor2d(values, shape) (a rank-2 tensor is expected)');
    expect(describeNonTensor(0.5)).toBe('the number 0.5; wrap it with tf.scalar(0.5)');
    expect(describeNonTensor(0.5, 2)).toBe('the number 0.5; a rank-2 tensor is expected (tf.fill(shape, 0.5) makes a constant one)');
    expect(describeNonTensor(undefined)).toBe('undefined; pass a tf.Tensor (is the argument missing, or its name misspelled?)');
    expect(describeNonTensor(null)).toMatch(/^null; pass a tf.Tensor/);
    expect(describeNonTensor(() => 1)).toBe('a function; call it and pass the tensor it returns');
    expect(describeNonTensor({a: 1})).toBe('an object {a}; pass a tf.Tensor');
    expect(describeNonTensor('x')).toBe('a string ("x"); pass a tf.Tensor');
    const logits = tf.zeros([1, 1, 2]);
    expect(describeNonTensor({logits, hidden: logits})).toBe('an object {logits, hidden}; pass one of its tensors (e.g. .logits), not the object');
    logits.dispose();
    expect(describeNonTensor({dataId: {}, shape: [2], dtype: 'float32'}))
        .toMatch(/^a tensor from another copy of @tensorflow\/tfjs-core \(two versions are loaded\)/);
    expect(describeNonTensor(new Map())).toBe('an instance of Map; pass a tf.Tensor');
  });
  it('reaches the caller of the public functions', () => {
    expect(() => groupAdvantages(new Float32Array([1, 0, 0, 1]) as never, {groupSize: 2})).toThrow(
        "groupAdvantages: 'rewards' expected a tf.Tensor, got Float32Array of length 4; wrap it with tf.tensor1d");
    expect(() => groupAdvantages([1, 0, 0, 1] as never, {groupSize: 2})).toThrow(
        "groupAdvantages: 'rewards' expected a tf.Tensor, got an array (number[] of shape [4]); wrap it with tf.tensor1d");
    const l = lp(), m = mask();
    expect(() => grpoLoss({logProbs: l, advantages: [1] as never, mask: m})).toThrow(
        "grpoLoss: 'advantages' expected a tf.Tensor, got an array (number[] of shape [1]); wrap it with tf.tensor1d");
    expect(() => grpoLoss({logProbs: [[-1, -2]] as never, advantages: adv(), mask: m})).toThrow(
        "grpoLoss: 'logProbs' expected a tf.Tensor, got an array (number[][] of shape [1,2]); wrap it with tf.tensor2d");
    expect(() => maskedMean(l, 1 as never)).toThrow(
        "maskedMean: 'mask' expected a tf.Tensor, got the number 1; a rank-2 tensor is expected (tf.fill(shape, 1) makes a constant one)");
    expect(() => klPenalty(null as never, l, {estimator: 'k3'})).toThrow("klPenalty: 'logProbs' expected a tf.Tensor, got null;");
    expect(() => tokenLogProbs({logits: l} as never, l)).toThrow(
        "tokenLogProbs: 'logits' expected a tf.Tensor, got an object {logits}; pass one of its tensors (e.g. .logits), not the object");
    tf.dispose([l, m]);
  });
});

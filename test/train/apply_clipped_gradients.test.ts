// applyClippedGradients on cpu: hand-computed clipping, the composed path unchanged (against a copy
// of the implementation before the fused path), the fused Adam path (with a tf-ops kernel standing in
// for the webgpu one) giving the same state as tfjs's own update, the two-step sum of squares of big
// tensors, and no leaks.
import * as tf from '@tensorflow/tfjs-core';
import {afterEach, describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {applyClippedGradients} from '../../src/train/apply_clipped_gradients.js';
import {setFusedAdam} from '../../src/train/fused_adam_update.js';
import {tfOpsAdamKernel} from '../helpers/tf_ops_adam_kernel.js';

afterEach(() => setFusedAdam(true));

/** applyClippedGradients as it was before the fused path (tfjs-grpo 0.1, commit a42e2f9). */
function previousApplyClippedGradients(optimizer: tf.Optimizer, lossFn: () => tf.Scalar, groups: readonly tf.Variable[][],
    maxNorm: number) {
  const {value, grads} = tf.variableGrads(lossFn, groups.flat());
  const gradNorms: tf.Scalar[] = [];
  const scaled = tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    for (const group of groups) {
      const used = group.filter((v) => grads[v.name] !== undefined && grads[v.name] !== null);
      const gs = used.map((v) => grads[v.name]!);
      const norm = (gs.length === 0 ? tf.scalar(0)
        : tf.sqrt(tf.sum(tf.concat(gs.map((g) => tf.reshape(tf.sum(tf.square(g)), [1])))))) as tf.Scalar;
      gradNorms.push(tf.keep(norm));
      const factor = Number.isFinite(maxNorm) ? tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
      used.forEach((v, i) => { out[v.name] = tf.mul(gs[i]!, factor); });
    }
    return out;
  });
  optimizer.applyGradients(scaled);
  tf.dispose([...Object.values(grads), ...Object.values(scaled)]);
  return {loss: value, gradNorms};
}

type Apply = typeof previousApplyClippedGradients;

/**
 * A model of default-named variables (tfjs names them by a counter: integer-like keys, which
 * Object.keys sorts) in groups out of creation order, one variable the loss does not reach, one in
 * both groups; several steps with a clip that binds, one that does not, none.
 */
async function trainModel(apply: Apply, makeOptimizer: () => tf.Optimizer) {
  const vars = tf.tidy(() => [tf.variable(tf.tensor2d([[0.5, -1, 2], [0.25, 3, -2]])), tf.variable(tf.tensor1d([1, -3])),
    tf.variable(tf.scalar(0.7)), tf.variable(tf.tensor1d([9, 9]))]);
  const [a, b, c, unused] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const optimizer = makeOptimizer();
  const lossFn = () => tf.tidy(() => tf.add(tf.sum(tf.square(tf.sub(tf.matMul(a, tf.reshape(tf.concat([b, tf.reshape(c, [1])]), [3, 1])), 1))),
    tf.mul(tf.square(c), 4))) as tf.Scalar;
  const groups = [[c, unused, a], [b, c]];
  const norms: number[][] = [];
  let afterFirst = 0;
  for (const [s, maxNorm] of [1, 1e6, Infinity, 0.3].entries()) {
    const {loss, gradNorms} = apply(optimizer, lossFn, groups, maxNorm);
    norms.push(gradNorms.map((n) => n.dataSync()[0]!));
    tf.dispose([loss, ...gradNorms]);
    if (s === 0) afterFirst = tf.memory().numTensors;
    else expect(tf.memory().numTensors).toBe(afterFirst);
  }
  const saved = await optimizer.getWeights();
  const weights = saved.map((w) => ({name: w.name.replace(/^\d+/, 'N'), values: Array.from(w.tensor.dataSync())}));
  saved[0]!.tensor.dispose();
  const params = vars.map((v) => Array.from(v.dataSync()));
  optimizer.dispose();
  tf.dispose(vars);
  return {norms, params, weights};
}

describe('applyClippedGradients', () => {
  it('clips to the global norm: gradient [6, 8] (norm 10) at maxNorm 1 gives w - 0.1 [0.6, 0.8]', () => {
    const w = tf.variable(tf.tensor1d([3, 4]));
    const optimizer = tf.train.sgd(0.1);
    const {loss, gradNorms} = applyClippedGradients(optimizer, () => tf.sum(tf.square(w)) as tf.Scalar, [[w]], 1);
    expect(loss.dataSync()[0]).toBeCloseTo(25, 5);
    expect(gradNorms[0]!.dataSync()[0]).toBeCloseTo(10, 5);
    const values = w.dataSync();
    expect(values[0]).toBeCloseTo(2.94, 6);
    expect(values[1]).toBeCloseTo(3.92, 6);
    tf.dispose([loss, ...gradNorms, w]);
    optimizer.dispose();
  });

  it('clips each group on its own; maxNorm above the norm or Infinity leaves the gradient as is', () => {
    // Group 0: gradient 2x = [6, 8] (norm 10); group 1: gradient 2y = [1] (norm 1).
    const run = (maxNorm: number) => {
      const x = tf.variable(tf.tensor1d([3, 4]));
      const y = tf.variable(tf.tensor1d([0.5]));
      const optimizer = tf.train.sgd(1);
      const {loss, gradNorms} = applyClippedGradients(optimizer, () => tf.add(tf.sum(tf.square(x)), tf.sum(tf.square(y))) as tf.Scalar,
          [[x], [y]], maxNorm);
      const out = {norms: gradNorms.map((n) => n.dataSync()[0]), x: Array.from(x.dataSync()), y: y.dataSync()[0]};
      tf.dispose([loss, ...gradNorms, x, y]);
      optimizer.dispose();
      return out;
    };
    const clipped = run(2); // factors 2 / 10 and 1 (2 / 1 > 1)
    expect(clipped.norms[0]).toBeCloseTo(10, 5);
    expect(clipped.norms[1]).toBeCloseTo(1, 6);
    expect(clipped.x[0]).toBeCloseTo(3 - 1.2, 5);
    expect(clipped.x[1]).toBeCloseTo(4 - 1.6, 5);
    expect(clipped.y).toBeCloseTo(0.5 - 1, 6);
    for (const maxNorm of [100, Infinity]) expect(run(maxNorm).x).toEqual([-3, -4]);
  });

  it('the composed path (cpu) is unchanged: same norms, parameters and Adam state as before, bit for bit', async () => {
    for (const make of [() => tf.train.adam(0.05, 0.8, 0.95), () => tf.train.sgd(0.1), () => tf.train.momentum(0.1, 0.9)]) {
      const now = await trainModel(applyClippedGradients, make);
      const before = await trainModel(previousApplyClippedGradients, make);
      expect(now).toEqual(before);
    }
  });

  it('the fused Adam path (tf-ops kernel) leaves the same state as tfjs applyGradients: moments paired by Object.keys order', async () => {
    setFusedAdam(true, tfOpsAdamKernel);
    const fused = await trainModel(applyClippedGradients, () => tf.train.adam(0.05, 0.8, 0.95));
    setFusedAdam(false);
    const tfjs = await trainModel(applyClippedGradients, () => tf.train.adam(0.05, 0.8, 0.95));
    expect(fused).toEqual(tfjs);
    expect(fused.weights.map((w) => w.name)).toEqual(['iter', 'N/m', 'N/m', 'N/m', 'N/v', 'N/v', 'N/v']);
    expect(fused.weights[0]!.values).toEqual([4]);
    // Only tf.train.adam itself takes the fused path: sgd gives the composed result with the kernel set.
    setFusedAdam(true, tfOpsAdamKernel);
    const sgd = await trainModel(applyClippedGradients, () => tf.train.sgd(0.1));
    expect(sgd).toEqual(await trainModel(previousApplyClippedGradients, () => tf.train.sgd(0.1)));
  });

  it('sums the squares of a big matrix in two steps, to float32 accuracy', () => {
    const rows = 300;
    const cols = 257; // 77100 elements, above the two-step threshold (65536)
    const values = Float32Array.from({length: rows * cols}, (_, i) => Math.sin(i) * (1 + (i % 7)));
    let exact = 0;
    for (const v of values) exact += v * v;
    const w = tf.variable(tf.tensor2d(values, [rows, cols]));
    const optimizer = tf.train.sgd(0);
    // Gradient of sum(w^2) / 2 is w.
    const {loss, gradNorms} = applyClippedGradients(optimizer, () => tf.mul(0.5, tf.sum(tf.square(w))) as tf.Scalar, [[w]], Infinity);
    expect(Math.abs(gradNorms[0]!.dataSync()[0]! - Math.sqrt(exact)) / Math.sqrt(exact)).toBeLessThan(1e-6);
    tf.dispose([loss, ...gradNorms, w]);
    optimizer.dispose();
  });

  it('rejects empty groups, frozen variables and maxNorm <= 0 by name', () => {
    const w = tf.variable(tf.scalar(1));
    const frozen = tf.variable(tf.scalar(1), false);
    const optimizer = tf.train.sgd(0.1);
    const loss = () => tf.square(w) as tf.Scalar;
    expect(() => applyClippedGradients(optimizer, loss, [[]], 1)).toThrow(/applyClippedGradients: 'groups' expected non-empty/);
    expect(() => applyClippedGradients(optimizer, loss, [[w, frozen]], 1)).toThrow(/'groups' expected non-empty groups of trainable/);
    expect(() => applyClippedGradients(optimizer, loss, [[w]], 0)).toThrow(/applyClippedGradients: 'maxNorm' expected > 0, got 0/);
    tf.dispose([w, frozen]);
    optimizer.dispose();
  });

  it('a NaN or infinite gradient throws before anything is applied: variables, Adam state and tensor count unchanged', async () => {
    const w = tf.variable(tf.tensor1d([3, 4]));
    const v = tf.variable(tf.tensor1d([1]));
    const optimizer = tf.train.adam(0.1);
    const nanLoss = () => tf.sum(tf.mul(w, NaN)) as tf.Scalar; // gradient [NaN, NaN]
    const infLoss = () => tf.sum(tf.mul(w, Infinity)) as tf.Scalar; // gradient [Inf, Inf]
    const before = tf.memory().numTensors;
    expect(() => applyClippedGradients(optimizer, nanLoss, [[w]], 1)).toThrow(
        'applyClippedGradients: the gradients are not finite (global norm NaN); the variables were left unchanged');
    expect(() => applyClippedGradients(optimizer, infLoss, [[w]], Infinity)).toThrow(
        'applyClippedGradients: the gradients are not finite (global norm Infinity); the variables were left unchanged');
    // Several groups: the message lists each group's norm (group 1 here: gradient of sum(v^2) = [2]).
    const mixed = () => tf.add(tf.sum(tf.mul(w, NaN)), tf.sum(tf.square(v))) as tf.Scalar;
    expect(() => applyClippedGradients(optimizer, mixed, [[w], [v]], 1)).toThrow(
        'applyClippedGradients: the gradients are not finite (global norm NaN; group norms [NaN, 2]); the variables were left unchanged');
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(w.dataSync())).toEqual([3, 4]);
    expect(Array.from(v.dataSync())).toEqual([1]);
    expect(optimizer.iterations).toBe(0);
    // The optimizer is still usable: a finite step updates as usual.
    const {loss, gradNorms} = applyClippedGradients(optimizer, () => tf.sum(tf.square(w)) as tf.Scalar, [[w]], 1);
    expect(optimizer.iterations).toBe(1);
    expect(w.dataSync()[0]).toBeCloseTo(2.9, 5);
    tf.dispose([loss, ...gradNorms, w, v]);
    optimizer.dispose();
  });

  it('the finiteness check is skipped with configureValidation({valueChecks: false}) (the NaN reaches the norm)', () => {
    const w = tf.variable(tf.tensor1d([3, 4]));
    const optimizer = tf.train.sgd(0.1);
    const prev = configureValidation({valueChecks: false});
    try {
      const {loss, gradNorms} = applyClippedGradients(optimizer, () => tf.sum(tf.mul(w, NaN)) as tf.Scalar, [[w]], 1);
      expect(gradNorms[0]!.dataSync()[0]).toBeNaN();
      tf.dispose([loss, ...gradNorms]);
    } finally {
      configureValidation(prev);
      w.dispose();
      optimizer.dispose();
    }
  });

  it("names 'lossFn' when it does not return a scalar, without leaking", () => {
    const w = tf.variable(tf.tensor1d([3, 4, 5]));
    const optimizer = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    expect(() => applyClippedGradients(optimizer, () => tf.square(w) as unknown as tf.Scalar, [[w]], 1)).toThrow(
        "applyClippedGradients: 'lossFn' expected to return a scalar, got shape [3]");
    expect(() => applyClippedGradients(optimizer, () => 3 as unknown as tf.Scalar, [[w]], 1)).toThrow(
        "applyClippedGradients: 'lossFn' expected to return a scalar, got the number 3");
    expect(() => applyClippedGradients(optimizer, undefined as unknown as () => tf.Scalar, [[w]], 1)).toThrow(
        "applyClippedGradients: 'lossFn' expected a function returning the scalar loss, got undefined");
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(w.dataSync())).toEqual([3, 4, 5]);
    tf.dispose(w);
    optimizer.dispose();
  });
});

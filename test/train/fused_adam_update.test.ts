// The fused Adam update's glue (fused_adam_update.ts) on cpu: which optimizers it takes, and, with a
// kernel of tf ops in tfjs's order of operations standing in for the webgpu one, that it leaves tfjs's
// AdamOptimizer exactly as tfjs's own applyGradients does (values, moments by position, names,
// accBeta, iterations, getWeights / setWeights / dispose, a later plain applyGradients), without leaks.
// The webgpu kernel itself is compared with tfjs's path on a GPU by bench/webgpu_check_adam.ts.
import * as tf from '@tensorflow/tfjs-core';
import {afterEach, describe, expect, it} from 'vitest';
import {type AdamKernel, adamUpdateWebGPU} from '../../src/math/fused/adam_webgpu.js';
import {adamOptimizerState, type FusedAdamEntry, fusedAdamUpdate, setFusedAdam} from '../../src/train/fused_adam_update.js';
import {tfOpsAdamKernel} from '../helpers/tf_ops_adam_kernel.js';

afterEach(() => setFusedAdam(true));

async function snapshot(vars: tf.Variable[], optimizer: tf.Optimizer) {
  const weights = await optimizer.getWeights();
  const out = {params: await Promise.all(vars.map((v) => v.array())),
    weights: await Promise.all(weights.map(async (w) => ({name: w.name, values: await w.tensor.array()}))),
    iterations: optimizer.iterations};
  weights[0]!.tensor.dispose(); // 'iter' is a new scalar; the rest are the optimizer's moments
  return out;
}

function setup(tag: string) {
  const vars: tf.Variable[] = [tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]), true, `${tag}/a`),
    tf.variable(tf.tensor1d([3, -4, 0.1]), true, `${tag}/b`), tf.variable(tf.scalar(-2), true, `${tag}/c`)];
  const gradsAt = (step: number) => tf.tidy(() => [tf.mul(tf.tensor2d([[1, -2], [0.5, 3]]), step + 1),
    tf.tensor1d([-0.1, 0.2, 7]), tf.scalar(step - 1.5)]);
  return {vars, gradsAt};
}

describe('adamOptimizerState', () => {
  it('takes tf.train.adam and nothing else: other optimizers, subclasses, broken fields', () => {
    const adam = tf.train.adam(0.01);
    expect(adamOptimizerState(adam)).toBe(adam);
    class MyAdam extends tf.AdamOptimizer {}
    const sub = new MyAdam(0.01, 0.9, 0.999);
    const others = [tf.train.sgd(0.1), tf.train.adamax(0.01), tf.train.rmsprop(0.01), sub];
    for (const o of others) expect(adamOptimizerState(o)).toBeNull();
    const broken = (edit: (o: Record<string, unknown>) => void) => {
      const o = tf.train.adam(0.01);
      const fields = o as unknown as Record<string, unknown>;
      const saved = {...fields};
      edit(fields);
      const state = adamOptimizerState(o);
      Object.assign(fields, saved);
      o.dispose();
      return state;
    };
    expect(broken((o) => { o['learningRate'] = '0.01'; })).toBeNull();
    expect(broken((o) => { o['beta2'] = NaN; })).toBeNull();
    expect(broken((o) => { (o['accBeta1'] as tf.Variable).dispose(); })).toBeNull();
    expect(broken((o) => { o['accumulatedSecondMoment'] = {}; })).toBeNull();
    expect(broken((o) => { o['accumulatedFirstMoment'] = [{name: 'x/m', tensor: tf.zeros([1])}]; })).toBeNull();
    expect(broken((o) => { o['incrementIterations'] = undefined; })).toBeNull();
    for (const o of [adam, ...others]) o.dispose();
  });

  it('the webgpu kernel is unavailable on cpu, so fusedAdamUpdate declines before touching the state', () => {
    expect(adamUpdateWebGPU.available()).toBe(false);
    const {vars, gradsAt} = setup('cpu');
    const adam = tf.train.adam(0.01);
    const grads = gradsAt(0);
    const before = tf.memory().numTensors;
    const entries = vars.map((variable, i) => ({variable, grad: grads[i]!, group: 0}));
    expect(fusedAdamUpdate(adam, entries, () => { throw new Error('factors must not be built'); })).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    expect((adam as unknown as {accumulatedFirstMoment: unknown[]}).accumulatedFirstMoment).toEqual([]);
    adam.dispose();
    tf.dispose([...vars, ...grads]);
  });
});

describe('fusedAdamUpdate (tf-ops kernel on cpu)', () => {
  it('leaves params, moments, accBeta and iterations exactly as tfjs applyGradients on the scaled gradients', async () => {
    const lr = 0.05;
    const fused = setup('fused');
    const ref = setup('ref');
    const fusedOpt: tf.Optimizer = tf.train.adam(lr, 0.8, 0.95, 1e-6);
    const refOpt: tf.Optimizer = tf.train.adam(lr, 0.8, 0.95, 1e-6);
    const groups = [0, 1, 0];
    const factorValues = [[0.5, 1], [1, 0.25], [1, 1]];
    let afterFirst = 0;
    for (let step = 0; step < 3; step++) {
      const fg = fused.gradsAt(step);
      const rg = ref.gradsAt(step);
      const factors = tf.tensor1d(factorValues[step]!);
      const entries: FusedAdamEntry[] = fused.vars.map((variable, i) => ({variable, grad: fg[i]!, group: groups[i]!}));
      let built = 0;
      expect(fusedAdamUpdate(fusedOpt, entries, () => { built++; return factors; }, tfOpsAdamKernel)).toBe(true);
      expect(built).toBe(1);
      const scaled: tf.NamedTensorMap = {};
      ref.vars.forEach((v, i) => { scaled[v.name] = tf.mul(rg[i]!, factorValues[step]![groups[i]!]!); });
      refOpt.applyGradients(scaled);
      tf.dispose([...fg, ...rg, factors, ...Object.values(scaled)]);
      if (step === 0) afterFirst = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(afterFirst); // no leak once the moments exist
    }
    // A later plain applyGradients continues from the fused state.
    const fg = fused.gradsAt(5);
    const rg = ref.gradsAt(5);
    fusedOpt.applyGradients(Object.fromEntries(fused.vars.map((v, i) => [v.name, fg[i]!])));
    refOpt.applyGradients(Object.fromEntries(ref.vars.map((v, i) => [v.name, rg[i]!])));
    tf.dispose([...fg, ...rg]);
    const f = await snapshot(fused.vars, fusedOpt);
    const r = await snapshot(ref.vars, refOpt);
    expect(f.params).toEqual(r.params);
    expect(f.iterations).toBe(4);
    expect(f.weights.map((w) => w.name)).toEqual(['iter', 'fused/a/m', 'fused/b/m', 'fused/c/m', 'fused/a/v', 'fused/b/v', 'fused/c/v']);
    expect(f.weights.map((w) => w.values)).toEqual(r.weights.map((w) => w.values));
    const acc = (o: tf.Optimizer) => (o as unknown as {accBeta1: tf.Variable}).accBeta1.dataSync()[0];
    expect(acc(fusedOpt)).toBe(acc(refOpt));
    // dispose releases the moments the fused update created.
    const beforeDispose = tf.memory().numTensors;
    fusedOpt.dispose();
    expect(tf.memory().numTensors).toBe(beforeDispose - 8); // 6 moments, accBeta1, accBeta2
    refOpt.dispose();
    tf.dispose([...fused.vars, ...ref.vars]);
  });

  it('setWeights of its getWeights into a fresh adam continues identically', async () => {
    const a = setup('sw');
    const opt: tf.Optimizer = tf.train.adam(0.1);
    const g0 = a.gradsAt(0);
    const factors = tf.tensor1d([1]);
    fusedAdamUpdate(opt, a.vars.map((variable, i) => ({variable, grad: g0[i]!, group: 0})), () => factors, tfOpsAdamKernel);
    const copy: tf.Optimizer = tf.train.adam(0.1);
    const saved = await opt.getWeights();
    await copy.setWeights(saved);
    saved[0]!.tensor.dispose();
    const start = a.vars.map((v) => tf.clone(v));
    const g1 = a.gradsAt(1);
    fusedAdamUpdate(opt, a.vars.map((variable, i) => ({variable, grad: g1[i]!, group: 0})), () => factors, tfOpsAdamKernel);
    const viaOpt = await Promise.all(a.vars.map((v) => v.array()));
    a.vars.forEach((v, i) => v.assign(start[i]!));
    copy.applyGradients(Object.fromEntries(a.vars.map((v, i) => [v.name, g1[i]!])));
    expect(await Promise.all(a.vars.map((v) => v.array()))).toEqual(viaOpt);
    opt.dispose();
    copy.dispose();
    tf.dispose([factors, ...a.vars, ...g0, ...g1, ...start]);
  });

  it('declines and changes nothing: switched off, a stored moment of another shape, a non-float32 gradient', () => {
    const {vars, gradsAt} = setup('no');
    const opt: tf.Optimizer = tf.train.adam(0.1);
    const grads = gradsAt(0);
    const factors = tf.tensor1d([1]);
    const entries = vars.map((variable, i) => ({variable, grad: grads[i]!, group: 0}));
    setFusedAdam(false, tfOpsAdamKernel);
    expect(fusedAdamUpdate(opt, entries, () => factors)).toBe(false);
    setFusedAdam(true, tfOpsAdamKernel);
    // Moments stored for other variables (tfjs pairs by position): entry 0 has shape [3].
    const other: tf.Optimizer = tf.train.adam(0.1);
    other.applyGradients({[vars[1]!.name]: grads[1]!});
    const values = vars.map((v) => v.dataSync().slice());
    expect(fusedAdamUpdate(other, entries, () => factors)).toBe(false);
    expect(vars.map((v) => v.dataSync().slice())).toEqual(values);
    expect(other.iterations).toBe(1);
    const ints = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32');
    expect(fusedAdamUpdate(opt, [{variable: vars[0]!, grad: ints, group: 0}], () => factors)).toBe(false);
    expect(fusedAdamUpdate(opt, [], () => factors)).toBe(false);
    expect(opt.iterations).toBe(0);
    opt.dispose();
    other.dispose();
    tf.dispose([factors, ints, ...vars, ...grads]);
  });

  it('hands the kernel moment i of the optimizer for entry i, with its group', () => {
    const {vars, gradsAt} = setup('order');
    const opt: tf.Optimizer = tf.train.adam(0.1);
    const grads = gradsAt(0);
    const factors = tf.tensor1d([1, 1, 1]);
    const seen: Array<{param: string; moment: string; group: number}> = [];
    const spy: AdamKernel = {available: () => true, update: (slots, ...rest) => {
      const moments = (opt as unknown as {accumulatedFirstMoment: Array<{originalName: string; variable: tf.Variable}>}).accumulatedFirstMoment;
      slots.forEach((s) => seen.push({param: (s.param as tf.Variable).name,
        moment: moments.find((m) => m.variable === s.firstMoment)!.originalName, group: s.group}));
      return tfOpsAdamKernel.update(slots, ...rest);
    }};
    const order = [2, 0, 1];
    expect(fusedAdamUpdate(opt, order.map((i) => ({variable: vars[i]!, grad: grads[i]!, group: i})), () => factors, spy)).toBe(true);
    expect(seen).toEqual(order.map((i) => ({param: vars[i]!.name, moment: `${vars[i]!.name}/m`, group: i})));
    opt.dispose();
    tf.dispose([factors, ...vars, ...grads]);
  });
});

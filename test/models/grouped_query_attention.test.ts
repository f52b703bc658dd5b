import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {
  type AttentionWeights, groupedQueryAttention, type GroupedQueryAttentionInputs, type GroupedQueryAttentionOptions,
} from '../../src/models/grouped_query_attention.js';
import {linear} from '../../src/models/linear.js';
import {rmsNorm} from '../../src/models/rms_norm.js';
import {applyRope, ropeCosSin, ropeInverseFrequencies} from '../../src/models/rope.js';
import {maxAbsDiff} from '../helpers/max_abs_diff.js';

/** The previous implementation (transpose before RoPE, mask tiled to [B, G, rep * T, Tk]): the reference. */
function attentionReference(inputs: GroupedQueryAttentionInputs, options: GroupedQueryAttentionOptions): tf.Tensor[] {
  const {x, weights: w, cos, sin, maskBias, pastKeys, pastValues} = inputs;
  const {numHeads: H, numKvHeads: G, headDim: d, rmsNormEps = 1e-6} = options;
  const [B, T] = x.shape;
  const rep = H / G;
  return tf.tidy(() => {
    const heads = (t: tf.Tensor, n: number, norm?: tf.Tensor1D): tf.Tensor4D => {
      let h = tf.reshape(t, [B, T, n, d]);
      if (norm !== undefined) h = rmsNorm(h, norm, rmsNormEps);
      return tf.transpose(h, [0, 2, 1, 3]) as tf.Tensor4D;
    };
    const q = applyRope(heads(linear(x, w.q, w.qBias), H, w.qNorm), cos, sin);
    let k = applyRope(heads(linear(x, w.k, w.kBias), G, w.kNorm), cos, sin);
    let v = heads(linear(x, w.v, w.vBias), G);
    if (pastKeys !== null && pastValues !== null) {
      k = tf.concat([pastKeys, k], 2);
      v = tf.concat([pastValues, v], 2);
    }
    const Tk = k.shape[2];
    const qg = tf.reshape(q, [B, G, rep * T, d]);
    const bias = tf.tile(tf.reshape(maskBias, [B, 1, T, Tk]), [1, G, rep, 1]);
    const scores = tf.add(tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(d)), bias);
    const attn = tf.matMul(tf.softmax(scores), v);
    const merged = tf.reshape(tf.transpose(tf.reshape(attn, [B, H, T, d]), [0, 2, 1, 3]), [B, T, H * d]);
    return [linear(merged, w.o, w.oBias), k, v];
  });
}

interface Case {B: number; T: number; past: number; D: number; H: number; G: number; d: number; qkNorm: boolean; bias: boolean}

/** Inputs of one case: random weights, RoPE tables of real positions, row 0 left-padded by two tokens. */
function setup(c: Case): {inputs: GroupedQueryAttentionInputs; diff: Record<string, tf.Tensor>} {
  const {B, T, past, D, H, G, d} = c;
  const Tk = past + T;
  let seed = 1;
  const r = (shape: number[], std = 0.4): tf.Tensor => tf.randomNormal(shape, 0, std, 'float32', seed++);
  const diff: Record<string, tf.Tensor> = {x: r([B, T, D], 1), q: r([H * d, D]), k: r([G * d, D]), v: r([G * d, D]), o: r([D, H * d])};
  if (c.bias) Object.assign(diff, {qBias: r([H * d]), kBias: r([G * d]), vBias: r([G * d]), oBias: r([D])});
  if (c.qkNorm) Object.assign(diff, {qNorm: tf.tidy(() => tf.add(r([d], 0.2), 1)), kNorm: tf.tidy(() => tf.add(r([d], 0.2), 1))});
  const positions = tf.tensor2d(Array.from({length: B * T}, (_, i) => past + (i % T)), [B, T], 'int32');
  const {cos, sin} = ropeCosSin(positions, ropeInverseFrequencies({type: 'default', theta: 1e4, maxPositionEmbeddings: 64,
    partialRotaryFactor: 1}, {headDim: d}));
  positions.dispose();
  const allowed = new Float32Array(B * T * Tk);
  for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j <= past + i; j++) {
    if (!(b === 0 && j < 2)) allowed[(b * T + i) * Tk + j] = 1;
  }
  const maskBias = tf.tidy(() => tf.mul(tf.sub(1, tf.tensor4d(allowed, [B, 1, T, Tk])), -1e9)) as tf.Tensor4D;
  const pastKeys = past > 0 ? r([B, G, past, d], 1) as tf.Tensor4D : null;
  const pastValues = past > 0 ? r([B, G, past, d], 1) as tf.Tensor4D : null;
  const {x, ...weights} = diff;
  const inputs = {x: x as tf.Tensor3D, weights: weights as unknown as AttentionWeights, cos, sin, maskBias, pastKeys, pastValues};
  return {inputs, diff};
}

const CASES: Case[] = [
  {B: 2, T: 5, past: 0, D: 16, H: 4, G: 2, d: 4, qkNorm: false, bias: true},
  {B: 1, T: 3, past: 4, D: 12, H: 3, G: 1, d: 6, qkNorm: true, bias: false},
  {B: 2, T: 4, past: 2, D: 8, H: 2, G: 2, d: 4, qkNorm: true, bias: true},
];

describe('groupedQueryAttention', () => {
  for (const c of CASES) {
    it(`output, keys, values and every gradient equal the previous implementation: ${JSON.stringify(c)}`, () => {
      const {inputs, diff} = setup(c);
      const options = {numHeads: c.H, numKvHeads: c.G, headDim: c.d};
      const names = Object.keys(diff);
      const run = (f: (i: GroupedQueryAttentionInputs) => tf.Tensor[]): tf.Tensor[] => {
        const outs = f(inputs);
        const ws = outs.map((o, i) => tf.randomNormal(o.shape, 0, 1, 'float32', 100 + i));
        const grads = tf.grads((...ts: tf.Tensor[]) => {
          const p = Object.fromEntries(names.map((n, i) => [n, ts[i]!]));
          const {x, ...weights} = p;
          const o = f({...inputs, x: x as tf.Tensor3D, weights: weights as unknown as AttentionWeights});
          return tf.addN(o.map((t, i) => tf.sum(tf.mul(t, ws[i]!))));
        })(names.map((n) => diff[n]!));
        tf.dispose(ws);
        return [...outs, ...grads];
      };
      const got = run((i) => { const r = groupedQueryAttention(i, options); return [r.out, r.keys, r.values]; });
      const want = run((i) => attentionReference(i, options));
      expect(got.length).toBe(want.length);
      for (let k = 0; k < got.length; k++) {
        expect(got[k]!.shape).toEqual(want[k]!.shape);
        const scale = tf.tidy(() => tf.max(tf.abs(want[k]!)).dataSync()[0]!);
        expect(maxAbsDiff(got[k]!, want[k]!)).toBeLessThan(1e-5 * Math.max(1, scale));
      }
      tf.dispose([...got, ...want, ...Object.values(diff), inputs.cos, inputs.sin, inputs.maskBias,
        ...(inputs.pastKeys === null ? [] : [inputs.pastKeys, inputs.pastValues!])]);
    });
  }

  it('rejects a bias of the wrong size naming it', () => {
    const {inputs, diff} = setup(CASES[0]!);
    const bad = tf.zeros([5]) as tf.Tensor1D;
    expect(() => groupedQueryAttention({...inputs, weights: {...inputs.weights, kBias: bad}}, {numHeads: 4, numKvHeads: 2, headDim: 4}))
        .toThrow("groupedQueryAttention: 'weights.kBias' expected shape [kvHeads * headDim]=[8], got [5]");
    tf.dispose([bad, ...Object.values(diff), inputs.cos, inputs.sin, inputs.maskBias]);
  });

  it('leaks nothing, with and without a tape', () => {
    const {inputs, diff} = setup(CASES[0]!);
    const options = {numHeads: 4, numKvHeads: 2, headDim: 4};
    const before = tf.memory().numTensors;
    const r = groupedQueryAttention(inputs, options);
    tf.dispose([r.out, r.keys, r.values]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(groupedQueryAttention({...inputs, x: x as tf.Tensor3D}, options).out))(inputs.x);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...Object.values(diff), inputs.cos, inputs.sin, inputs.maskBias]);
  });
});

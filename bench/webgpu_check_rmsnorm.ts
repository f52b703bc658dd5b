// GPU self-checks of the fused webgpu kernels of the decoder layers (run by bench/webgpu_check.ts
// after the small ops): rmsNorm, RoPE (both input layouts, interleaved pairs), the scaled masked
// attention softmax, the SwiGLU gate, and whole dense decoder layers (GQA, biases, q/k norms, a
// key/value cache), each fused (kernels on) against composed (the tfjs ops, kernels off) on the
// same backend: values and the gradients of sum(w * out) (w random, so the backward kernels multiply
// by a real upstream gradient) w.r.t. every float input, and no tensor left behind. Shapes include
// odd widths, rows longer than a workgroup (256) and enough rows for the chunked d weight sums.
// Alone: XDG_RUNTIME_DIR=/tmp npx tsx bench/webgpu_check_rmsnorm.ts (webgpu, lavapipe locally).
import * as tf from '@tensorflow/tfjs-core';
import {setDecoderOpsWebGPU} from '../src/math/fused/decoder_ops_webgpu_switch.js';
import {attentionSoftmaxWebGPU} from '../src/math/fused/attention_softmax_webgpu.js';
import {projectedHeadsWebGPU, ropeWebGPU} from '../src/math/fused/rope_webgpu.js';
import {denseDecoderLayer, type DenseDecoderLayerWeights} from '../src/models/dense_decoder_layer.js';
import {rmsNorm} from '../src/models/rms_norm.js';
import {applyRope} from '../src/models/rope.js';
import {swigluMlp} from '../src/models/swiglu_mlp.js';
import {type CheckTally, isEntryPoint, runCheckAlone} from './check_alone.js';
import {maxRel} from './max_rel.js';

type Tally = CheckTally;

/**
 * Runs `f(...diff)` with the fused kernels and with the composed ops; compares the output and the
 * gradients of sum(w * out) w.r.t. each of `diff`. Disposes nothing it was given.
 */
async function compare(t: Tally, what: string, diff: tf.Tensor[], f: (...x: tf.Tensor[]) => tf.Tensor, tol = 2e-5,
    floor = 1e-12): Promise<void> {
  const run = async (on: boolean) => {
    setDecoderOpsWebGPU(on);
    const y = tf.tidy(() => f(...diff));
    const out = [await y.data()];
    const w = tf.randomUniform(y.shape, 0.5, 2, 'float32', 77);
    const gs = tf.grads((...x: tf.Tensor[]) => tf.sum(tf.mul(f(...x), w)))(diff);
    for (const g of gs) out.push(await g.data());
    tf.dispose([w, y, ...gs]);
    return out;
  };
  // The fused kernels must have run: fewer tfjs kernels than the composed ops.
  const kernels = async (on: boolean) => {
    setDecoderOpsWebGPU(on);
    return (await tf.profile(() => { tf.dispose(tf.tidy(() => f(...diff))); })).kernels.length;
  };
  const before = tf.memory().numTensors;
  const [kOn, kOff] = [await kernels(true), await kernels(false)];
  const fused = await run(true);
  const composed = await run(false);
  setDecoderOpsWebGPU(true);
  const errs = composed.map((c, i) => maxRel(fused[i]!, c, floor));
  const err = Math.max(...errs);
  const leaked = tf.memory().numTensors - before;
  const bad = !(err < tol) || leaked !== 0 || !(kOn < kOff);
  if (!(kOn < kOff)) console.log(`FAIL ${what}: the fused path did not run (${kOn} kernels fused, ${kOff} composed)`);
  t.count++;
  if (bad) t.failures++;
  t.worst = Math.max(t.worst, err);
  console.log(`${bad ? 'FAIL' : 'ok  '} ${what}: ${errs.map((e) => e.toExponential(2)).join(' / ')}` +
      `${leaked !== 0 ? ` (${leaked} tensors leaked)` : ''}`);
}

async function rmsNormChecks(t: Tally, quick: boolean): Promise<void> {
  const shapes = quick ? [[1], [3, 7], [2, 3, 300], [1100, 9], [40, 64]] :
    [[1], [3, 7], [2, 5, 33], [4, 300], [2, 3, 1031], [70, 64], [1100, 9], [5000, 17], [256, 896]];
  for (const shape of shapes) {
    const width = shape[shape.length - 1]!;
    const x = tf.randomNormal(shape, 0.3, 2, 'float32', 1);
    const w = tf.randomNormal([width], 1, 0.5, 'float32', 2);
    for (const eps of [1e-6, 0, 0.5]) {
      // Width 1: d x = r w dy (1 - xhat^2) is a difference of two O(1) terms that cancel (exactly, for
      // eps = 0), so both paths' results are rounding noise; measure errors against the terms' size (1).
      await compare(t, `rmsNorm [${shape}] eps ${eps}`, [x, w], (a, b) => rmsNorm(a!, b as tf.Tensor1D, eps), 2e-5,
          width === 1 ? 1 : 1e-12);
    }
    tf.dispose([x, w]);
  }
}

/** cos/sin tables of random angles `[B, T, d]` (any values: the kernel must not assume structure). */
function tables(B: number, T: number, d: number, seed: number): [tf.Tensor3D, tf.Tensor3D] {
  return tf.tidy(() => {
    const a = tf.randomUniform([B, T, d], -4, 4, 'float32', seed);
    return [tf.mul(tf.cos(a), 1.3) as tf.Tensor3D, tf.sin(a) as tf.Tensor3D];
  });
}

async function ropeChecks(t: Tally, quick: boolean): Promise<void> {
  const shapes: Array<[number, number, number, number]> = quick ? [[1, 1, 1, 2], [2, 3, 5, 16], [1, 2, 7, 130]] :
    [[1, 1, 1, 2], [2, 3, 5, 16], [1, 2, 7, 130], [2, 14, 33, 64], [3, 1, 300, 8]];
  for (const [B, H, T, d] of shapes) {
    const [cos, sin] = tables(B, T, d, 3);
    const x = tf.randomNormal([B, H, T, d], 0, 1, 'float32', 4);
    const xt = tf.randomNormal([B, T, H, d], 0, 1, 'float32', 5);
    for (const interleaved of [false, true]) {
      await compare(t, `applyRope [${B},${H},${T},${d}] interleaved ${interleaved}`, [x, cos, sin],
          (a, c, s) => applyRope(a as tf.Tensor4D, c as tf.Tensor3D, s as tf.Tensor3D, {interleaved}));
    }
    // The time-major input of the attention (the head transpose fused in): fused vs transpose + composed.
    await compare(t, `rope of [B,T,H,d] [${B},${T},${H},${d}]`, [xt, cos, sin], (a, c, s) =>
      ropeWebGPU(a!, c!, s!, 'bthd', false) ??
          applyRope(tf.transpose(a!, [0, 2, 1, 3]) as tf.Tensor4D, c as tf.Tensor3D, s as tf.Tensor3D));
    // The projection's bias added in the same dispatch, with and without the rotation (the values).
    const bias = tf.randomNormal([H * d], 0, 1, 'float32', 6);
    await compare(t, `bias + rope of [B,T,H,d] [${B},${T},${H},${d}]`, [xt, bias, cos, sin], (a, b, c, s) =>
      projectedHeadsWebGPU(a as tf.Tensor4D, b as tf.Tensor1D, {cos: c as tf.Tensor3D, sin: s as tf.Tensor3D}) ??
          applyRope(tf.transpose(tf.add(a!, tf.reshape(b!, [H, d])), [0, 2, 1, 3]) as tf.Tensor4D, c as tf.Tensor3D,
              s as tf.Tensor3D));
    await compare(t, `bias + transpose of [B,T,H,d] [${B},${T},${H},${d}]`, [xt, bias], (a, b) =>
      projectedHeadsWebGPU(a as tf.Tensor4D, b as tf.Tensor1D, null) ?? tf.transpose(tf.add(a!, tf.reshape(b!, [H, d])), [0, 2, 1, 3]));
    tf.dispose([cos, sin, x, xt, bias]);
  }
}

async function softmaxChecks(t: Tally, quick: boolean): Promise<void> {
  const shapes: Array<[number, number, number, number]> = quick ? [[1, 1, 1, 1], [2, 3, 5, 7], [1, 2, 3, 300]] :
    [[1, 1, 1, 1], [2, 3, 5, 7], [1, 2, 3, 300], [2, 14, 40, 40], [1, 4, 2, 1031]];
  for (const [B, H, T, Tk] of shapes) {
    const s = tf.randomNormal([B, H, T, Tk], 0, 3, 'float32', 10);
    // A 0 / -1e9 mask with row t = 0 of batch 0 fully masked (a left-padded query).
    const bias = tf.tidy(() => {
      const m = tf.mul(tf.cast(tf.greater(tf.randomUniform([B, 1, T, Tk], 0, 1, 'float32', 11), 0.3), 'float32'), -1e9);
      const first = tf.tensor4d(Array.from({length: B * T}, (_, i) => (i === 0 ? 1 : 0)), [B, 1, T, 1]);
      return tf.add(tf.mul(m, tf.sub(1, first)), tf.mul(first, -1e9));
    });
    const soft = tf.randomNormal([B, 1, T, Tk], 0, 1, 'float32', 12); // a soft (differentiable) bias
    for (const [name, b] of [['0/-1e9 mask', bias], ['soft bias', soft]] as const) {
      await compare(t, `attention softmax [${B},${H},${T},${Tk}] ${name}`, [s, b], (x, y) =>
        attentionSoftmaxWebGPU(x as tf.Tensor4D, y as tf.Tensor4D, 0.37) ??
            tf.softmax(tf.add(tf.mul(x!, 0.37), tf.tile(y!, [1, H, 1, 1]))));
    }
    tf.dispose([s, bias, soft]);
  }
}

async function swigluChecks(t: Tally, quick: boolean): Promise<void> {
  for (const [rows, D, I] of quick ? [[1, 3, 5], [9, 16, 40]] : [[1, 3, 5], [9, 16, 40], [70, 32, 300]]) {
    const x = tf.randomNormal([rows!, D!], 0, 1, 'float32', 6);
    const gate = tf.randomNormal([I!, D!], 0, 0.5, 'float32', 7);
    const up = tf.randomNormal([I!, D!], 0, 0.5, 'float32', 8);
    const down = tf.randomNormal([D!, I!], 0, 0.5, 'float32', 9);
    await compare(t, `swigluMlp rows ${rows} hidden ${D} intermediate ${I}`, [x, gate, up, down], (a, g, u, dn) =>
      swigluMlp(a!, {gate: g as tf.Tensor2D, up: u as tf.Tensor2D, down: dn as tf.Tensor2D}));
    tf.dispose([x, gate, up, down]);
  }
}

interface LayerCase {B: number; T: number; past: number; D: number; H: number; G: number; d: number; I: number; qkNorm: boolean;
  bias: boolean}

/** A whole decoder layer (GQA + attention softmax + RoPE + norms + SwiGLU), left padding in row 0. */
async function layerChecks(t: Tally, quick: boolean): Promise<void> {
  const cases: LayerCase[] = [
    {B: 2, T: 5, past: 0, D: 16, H: 4, G: 2, d: 4, I: 24, qkNorm: false, bias: true},
    {B: 1, T: 3, past: 4, D: 12, H: 3, G: 1, d: 6, I: 20, qkNorm: true, bias: false},
    ...(quick ? [] : [{B: 2, T: 40, past: 0, D: 64, H: 4, G: 2, d: 16, I: 128, qkNorm: true, bias: true},
      {B: 1, T: 300, past: 0, D: 32, H: 2, G: 2, d: 16, I: 48, qkNorm: false, bias: true}]),
  ];
  for (const c of cases) {
    const {B, T, past, D, H, G, d, I} = c;
    const Tk = past + T;
    let seed = 20;
    const r = (shape: number[], std = 0.3): tf.Tensor => tf.randomNormal(shape, 0, std, 'float32', seed++);
    const names = ['inputNorm', 'postAttentionNorm', 'q', 'k', 'v', 'o', 'gate', 'up', 'down',
      ...(c.bias ? ['qBias', 'kBias', 'vBias'] : []), ...(c.qkNorm ? ['qNorm', 'kNorm'] : [])];
    const shapes: Record<string, number[]> = {inputNorm: [D], postAttentionNorm: [D], q: [H * d, D], k: [G * d, D], v: [G * d, D],
      o: [D, H * d], gate: [I, D], up: [I, D], down: [D, I], qBias: [H * d], kBias: [G * d], vBias: [G * d], qNorm: [d], kNorm: [d]};
    const params = names.map((n) => n.endsWith('Norm') ? tf.tidy(() => tf.add(r(shapes[n]!, 0.2), 1)) : r(shapes[n]!));
    const x = r([B, T, D], 1);
    const [cos, sin] = tables(B, T, d, 50);
    const pastKeys = past > 0 ? r([B, G, past, d], 1) as tf.Tensor4D : null;
    const pastValues = past > 0 ? r([B, G, past, d], 1) as tf.Tensor4D : null;
    const maskBias = tf.tidy(() => {
      const allowed = new Float32Array(B * T * Tk);
      for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j <= past + i; j++) {
        if (!(b === 0 && j < 2)) allowed[(b * T + i) * Tk + j] = 1; // row 0: the first two keys are padding
      }
      return tf.mul(tf.sub(1, tf.tensor4d(allowed, [B, 1, T, Tk])), -1e9) as tf.Tensor4D;
    });
    await compare(t, `denseDecoderLayer ${JSON.stringify(c)}`, [x, ...params], (xx, ...ps) => {
      const p = Object.fromEntries(names.map((n, i) => [n, ps[i]!])) as Record<string, tf.Tensor>;
      const weights = {inputNorm: p['inputNorm'], postAttentionNorm: p['postAttentionNorm'],
        attention: {q: p['q'], k: p['k'], v: p['v'], o: p['o'], qBias: p['qBias'], kBias: p['kBias'], vBias: p['vBias'],
          qNorm: p['qNorm'], kNorm: p['kNorm']},
        mlp: {gate: p['gate'], up: p['up'], down: p['down']}} as unknown as DenseDecoderLayerWeights;
      const out = denseDecoderLayer({x: xx as tf.Tensor3D, weights, cos, sin, maskBias, pastKeys, pastValues},
          {numHeads: H, numKvHeads: G, headDim: d, rmsNormEps: 1e-6});
      // Keys and values feed the loss too (the cache is differentiable).
      return tf.concat([tf.reshape(out.out, [-1]), tf.reshape(out.keys, [-1]), tf.reshape(out.values, [-1])]);
    }, 5e-5);
    tf.dispose([...params, x, cos, sin, maskBias, ...(pastKeys === null ? [] : [pastKeys, pastValues!])]);
  }
}

/** Runs every check of this file; returns the tally. */
export async function decoderOpsChecks(quick = false): Promise<Tally> {
  const t: Tally = {failures: 0, worst: 0, count: 0};
  await rmsNormChecks(t, quick);
  await ropeChecks(t, quick);
  await softmaxChecks(t, quick);
  await swigluChecks(t, quick);
  await layerChecks(t, quick);
  return t;
}

if (isEntryPoint('webgpu_check_rmsnorm')) void runCheckAlone('', decoderOpsChecks);

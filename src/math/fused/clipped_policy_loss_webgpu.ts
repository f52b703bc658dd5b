/**
 * `clippedPolicyLoss` on webgpu as one fused kernel forward and one backward (the composed ops launch
 * about 25 tfjs programs forward and as many backward). One workgroup per row: GSPO's sequence ratio
 * (`ratioLevel: 'sequence'`) is the row's masked mean log-ratio, reduced first in the same
 * workgroup. Same formulas and branch rules as `clippedLossParts` (clip.ts): r = exp(clamp(lr, ±20)),
 * L = max(-rA, -clip(r, 1 - clipLow, 1 + clipHigh) A), min with -cA where A < 0 (dual clip), 0 where
 * masked; ties go to the unclipped branch as tfjs's max/min gradients do.
 * Gradients are lazy ({@link runWithLazyGradients}): d/d logProbs and d/d oldLogProbs (its negation;
 * 0 for the sequence ratio, which is detached) and d/d advantages each cost one dispatch, only when
 * the tape asks. Value checks (0/1 mask, finite advantages, finite log-probs <= 1e-4 on unmasked
 * tokens) run in the forward kernel: a bad token's loss is NaN and the named error is thrown by the
 * next fused call (`webgpu_value_checks.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import {LOG_PROB_LIMIT, LOG_PROB_LIMIT_F32} from '../policy_loss_values.js';
import {lazyGradientsAdapterMissing, runWithLazyGradients} from './run_with_lazy_gradients.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';

let enabled = true;

/** @internal Turns the fused webgpu clippedPolicyLoss kernels on or off (default on); for self-checks and benchmarks. */
export function setClippedPolicyLossWebGPU(on: boolean): void {
  enabled = on;
}

/** @internal The resolved options the kernel needs (as `ResolvedClipOptions`). */
export interface ClipKernelOptions {
  clipLow: number;
  clipHigh: number;
  dualClip: number | undefined;
  ratioLevel: 'token' | 'sequence';
}

const BAD_MASK = 1;
const BAD_ADV = 2;
const BAD_LP = 4;
const BAD_OLD = 8;

/** Common WGSL: params, bindings, per-row log-ratio setup. `extra` are the bindings after the mask. */
function preamble(types: string[], extra: Array<[string, string, boolean]>): string {
  return `
struct Params { batch : u32, time : u32, advTok : u32, seq : u32, which : u32, p0 : u32, p1 : u32, p2 : u32,
  lower : f32, upper : f32, negDual : f32, hasDual : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['lp', types[0]!, false], ['old', types[1]!, false], ['adv', types[2]!, false],
    ['maskValues', types[3]!, false], ...extra])}
${ROW_REDUCE_WGSL}
fn advAt(row : u32, k : u32) -> f32 { if (params.advTok == 1u) { return f32(adv[k]); } return f32(adv[row]); }
fn rowLogRatio(base : u32, lid : u32) -> f32 {
  var acc = vec4<f32>(0.0);
  for (var t = lid; t < params.time; t = t + ${ROW_WG}u) {
    let k = base + t;
    if (f32(maskValues[k]) != 0.0) { acc = acc + vec4<f32>(f32(lp[k]) - f32(old[k]), 1.0, 0.0, 0.0); }
  }
  let s = rowSum4(acc, lid);
  return s.x / max(s.y, 1.0);
}
`;
}

function forwardShader(types: string[], checks: boolean): string {
  return `${preamble(types, [['out', 'f32', true], ...(checks ? [['checkWord', 'atomic<u32>', true] as [string, string, boolean]] : [])])}
${ROW_MAIN_WGSL}
  let row = rowIndex(wid);
  if (row >= params.batch) { return; }
  let lid = lidv.x;
  let base = row * params.time;
  var seqLR = 0.0;
  if (params.seq == 1u) { seqLR = rowLogRatio(base, lid); }
  var bad = 0u;
  ${checks ? `if (lid == 0u && params.advTok == 0u && notFinite(f32(adv[row]))) { bad = ${BAD_ADV}u; }` : ''}
  for (var t = lid; t < params.time; t = t + ${ROW_WG}u) {
    let k = base + t;
    let m = f32(maskValues[k]);
    var loss = 0.0;
    var badHere = 0u;
    ${checks ? `if (m != 0.0 && m != 1.0) { badHere = ${BAD_MASK}u; }` : ''}
    if (m != 0.0) {
      let a = advAt(row, k);
      let l = f32(lp[k]);
      let o = f32(old[k]);
      ${checks ? `if (notFinite(a)) { badHere = badHere | ${BAD_ADV}u; }
      if (notFinite(l) || l > ${LOG_PROB_LIMIT_F32}) { badHere = badHere | ${BAD_LP}u; }
      if (notFinite(o) || o > ${LOG_PROB_LIMIT_F32}) { badHere = badHere | ${BAD_OLD}u; }` : ''}
      var lr = l - o;
      if (params.seq == 1u) { lr = seqLR; }
      let r = exp(clamp(lr, -20.0, 20.0));
      let sur = -(r * a);
      let cl = -(min(max(r, params.lower), params.upper) * a);
      loss = max(sur, cl);
      if (params.hasDual != 0.0) {
        var big = 0.0;
        if (a >= 0.0) { big = 1e30; }
        loss = min(loss, params.negDual * a + big);
      }
    }
    if (badHere != 0u) { loss = f32NaN(); bad = bad | badHere; }
    out[k] = loss;
  }
  ${checks ? 'if (bad != 0u) { atomicOr(&checkWord[0], bad); }' : ''}
}
`;
}

/** which 0: d/d logProbs (d/d log-ratio), 1: its negation (d/d oldLogProbs), 2: d/d advantages per token. */
function backwardShader(types: string[]): string {
  return `${preamble(types, [['dy', types[4]!, false], ['out', 'f32', true]])}
${ROW_MAIN_WGSL}
  let row = rowIndex(wid);
  if (row >= params.batch) { return; }
  let lid = lidv.x;
  let base = row * params.time;
  var seqLR = 0.0;
  if (params.seq == 1u) { seqLR = rowLogRatio(base, lid); }
  for (var t = lid; t < params.time; t = t + ${ROW_WG}u) {
    let k = base + t;
    var g = 0.0;
    if (f32(maskValues[k]) != 0.0) {
      let a = advAt(row, k);
      var lr = f32(lp[k]) - f32(old[k]);
      if (params.seq == 1u) { lr = seqLR; }
      let r = exp(clamp(lr, -20.0, 20.0));
      let lowered = max(r, params.lower);
      let rc = min(lowered, params.upper);
      let sur = -(r * a);
      let cl = -(rc * a);
      let loss = max(sur, cl);
      var keep = true;
      if (params.hasDual != 0.0) {
        var big = 0.0;
        if (a >= 0.0) { big = 1e30; }
        keep = loss <= params.negDual * a + big;
      }
      let d = f32(dy[k]);
      if (params.which == 2u) {
        if (!keep) { g = d * params.negDual; } else if (sur >= cl) { g = -(d * r); } else { g = -(d * rc); }
      } else if (keep && lr >= -20.0 && lr <= 20.0) {
        var dr = -(d * a);
        if (!(sur >= cl) && !(r >= params.lower && lowered <= params.upper)) { dr = 0.0; }
        g = dr * r;
        if (params.which == 1u) { g = -g; }
      }
    }
    out[k] = g;
  }
}
`;
}

function message(bits: number): string {
  const parts: string[] = [];
  if (bits & BAD_MASK) parts.push(`'mask' expected values in {0, 1}, got another value`);
  if (bits & BAD_ADV) parts.push(`'advantages' expected finite values, got NaN or ±Infinity`);
  for (const [bit, name] of [[BAD_LP, 'logProbs'], [BAD_OLD, 'oldLogProbs']] as const) {
    if (bits & bit) {
      parts.push(`'${name}' expected finite log-probabilities (<= ${LOG_PROB_LIMIT}) on unmasked tokens, got NaN, ` +
          '±Infinity or a larger value (were probabilities passed instead of log-probabilities?)');
    }
  }
  return `clippedPolicyLoss: ${parts.join('; ')}`;
}

interface Inputs {
  logProbs: tf.Tensor2D;
  oldLogProbs: tf.Tensor2D;
  advantages: tf.Tensor;
  mask: tf.Tensor2D;
}

function uniforms(x: Inputs, o: ClipKernelOptions, which: number): {ints: number[]; floats: number[]} {
  const [batch, time] = x.logProbs.shape;
  return {
    ints: [batch, time, x.advantages.rank === 2 ? 1 : 0, o.ratioLevel === 'sequence' ? 1 : 0, which, 0, 0, 0],
    floats: [1 - o.clipLow, 1 + o.clipHigh, o.dualClip === undefined ? 0 : -o.dualClip, o.dualClip === undefined ? 0 : 1],
  };
}

/**
 * @internal `clippedPolicyLoss` on validated inputs (shapes and dtypes checked; value checks left to
 * the kernel) as fused webgpu kernels, or null where they do not apply (another backend, the kernel
 * turned off, buffers tfjs keeps elsewhere): the caller runs the composed ops then.
 */
export function clippedPolicyLossWebGPU(x: Inputs, o: ClipKernelOptions): tf.Tensor2D | null {
  const [batch, time] = x.logProbs.shape;
  if (!enabled || batch < 1 || time < 1) return null;
  const backend = lazyGradientsAdapterMissing().length > 0 ? null : rowKernelBackend();
  if (backend === null) return null;
  const checks = valueChecksEnabled();
  const grid = rowGrid(batch);
  if (gpuBuffersOf(backend, [x.logProbs, x.oldLogProbs, x.advantages, x.mask]) === null) return null;
  const backward = (s: Inputs, dy: tf.Tensor, which: number): tf.Tensor => {
    const out = runRowKernels(backend, {inputs: [s.logProbs, s.oldLogProbs, s.advantages, s.mask, dy],
      outputs: [[batch, time]], ...uniforms(s, o, which),
      dispatches: [{key: 'clipBwd', code: backwardShader, workgroups: grid}]});
    if (out === null) throw new Error('clippedPolicyLoss: the webgpu backward kernel found no GPU buffer for its inputs');
    return out[0]!;
  };
  return runWithLazyGradients({logProbs: x.logProbs, oldLogProbs: x.oldLogProbs, advantages: x.advantages}, (save) => {
    const out = runRowKernels(backend, {inputs: [x.logProbs, x.oldLogProbs, x.advantages, x.mask], outputs: [[batch, time]],
      ...uniforms(x, o, 0), checkMessage: checks ? message : undefined,
      dispatches: [{key: `clipFwd${+checks}`, code: (t) => forwardShader(t, checks), workgroups: grid}]});
    save([x.logProbs, x.oldLogProbs, x.advantages, x.mask]);
    return out![0] as tf.Tensor2D;
  }, (dy, saved) => {
    const s: Inputs = {logProbs: saved[0] as tf.Tensor2D, oldLogProbs: saved[1] as tf.Tensor2D, advantages: saved[2]!,
      mask: saved[3] as tf.Tensor2D};
    return {
      logProbs: () => backward(s, dy, 0),
      oldLogProbs: () => o.ratioLevel === 'sequence' ? tf.zerosLike(s.oldLogProbs) : backward(s, dy, 1),
      advantages: () => {
        const perToken = backward(s, dy, 2);
        if (s.advantages.rank === 2) return perToken;
        const sum = tf.sum(perToken, 1);
        perToken.dispose();
        return sum;
      },
    };
  });
}

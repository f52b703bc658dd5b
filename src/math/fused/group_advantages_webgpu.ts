/**
 * `groupAdvantages` on webgpu for contiguous groups as one fused kernel (the composed ops launch
 * about 30 tfjs programs and upload two small tensors per call: 9.8 ms at B = 4096, G = 16 on an
 * H200). One thread per group; with `scale: 'batch'` every workgroup first reduces the batch mean
 * and std itself (the batch is small: a few reads per element). Same formulas as group_advantages.ts:
 * mean = sum / G, c_i = r_i - mean, sd = sqrt(sum c^2 / (G - 1 or G)) (0 when the sum is 0), A = c /
 * (sd + epsilon) (0 when that is <= 0), 0 for groups of equal rewards or one member; `scale:
 * 'batch'` divides by the batch std (sum of squares about the batch mean over B - 1 or B), `'none'`
 * not at all. Forward only (rewards carry no gradient in normal use): used when no gradient tape
 * records. The finite-rewards check runs in the kernel (the group's advantages are NaN; the named
 * error comes with the next fused call).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import {
  ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, rowKernelBackend, runRowKernels, storageDecls,
} from './row_kernel_webgpu.js';
import {gpuBuffersOf} from './webgpu_backend_adapter.js';

let enabled = true;

/** @internal Turns the fused webgpu groupAdvantages kernel on or off (default on). */
export function setGroupAdvantagesWebGPU(on: boolean): void {
  enabled = on;
}

const SCALES = {group: 0, batch: 1, none: 2} as const;

function shader(checks: boolean): (types: string[]) => string {
  return (types) => `
struct Params { batch : u32, groupSize : u32, numGroups : u32, scale : u32, epsilon : f32, groupDenom : f32, batchDenom : f32, p0 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['rewards', types[0]!, false], ['out', 'f32', true],
    ...(checks ? [['checkWord', 'atomic<u32>', true] as [string, string, boolean]] : [])])}
${ROW_REDUCE_WGSL}
fn safeSqrt(v : f32) -> f32 { if (0.0 >= v) { return 0.0; } return sqrt(v); }
${ROW_MAIN_WGSL}
  let lid = lidv.x;
  var batchSd = 0.0;
  if (params.scale == 1u) {
    var acc = vec4<f32>(0.0);
    for (var i = lid; i < params.batch; i = i + ${ROW_WG}u) { acc.x = acc.x + f32(rewards[i]); }
    let batchMean = rowSum4(acc, lid).x / f32(params.batch);
    acc = vec4<f32>(0.0);
    for (var i = lid; i < params.batch; i = i + ${ROW_WG}u) { let d = f32(rewards[i]) - batchMean; acc.x = acc.x + d * d; }
    batchSd = safeSqrt(rowSum4(acc, lid).x / params.batchDenom);
  }
  let g = rowIndex(wid) * ${ROW_WG}u + lid;
  if (g < params.numGroups) {
    let G = params.groupSize;
    let base = g * G;
    let first = f32(rewards[base]);
    var sum = 0.0;
    var spread = 0.0;
    var bad = false;
    for (var i = 0u; i < G; i = i + 1u) {
      let r = f32(rewards[base + i]);
      ${checks ? 'if (notFinite(r)) { bad = true; }' : ''}
      sum = sum + r;
      spread = spread + abs(r - first);
    }
    let mean = sum / f32(G);
    var sd = batchSd;
    if (params.scale == 0u) {
      var ss = 0.0;
      for (var i = 0u; i < G; i = i + 1u) { let c = f32(rewards[base + i]) - mean; ss = ss + c * c; }
      sd = safeSqrt(ss / params.groupDenom);
    }
    let denom = sd + params.epsilon;
    let degenerate = G < 2u || 0.0 >= spread;
    ${checks ? 'if (bad) { atomicOr(&checkWord[0], 1u); }' : ''}
    for (var i = 0u; i < G; i = i + 1u) {
      let c = f32(rewards[base + i]) - mean;
      var a = c;
      if (params.scale != 2u) {
        if (0.0 >= denom) { a = 0.0; } else { a = c / denom; }
      }
      if (degenerate) { a = 0.0; }
      if (bad) { a = f32NaN(); }
      out[base + i] = a;
    }
  }
}
`;
}

/**
 * @internal `groupAdvantages` of validated `rewards` in contiguous groups of `groupSize` as one webgpu
 * kernel, or null where it does not apply (another backend, a gradient tape recording, the kernel
 * turned off, buffers tfjs keeps elsewhere).
 */
export function groupAdvantagesWebGPU(rewards: tf.Tensor1D, groupSize: number,
    o: {scale: 'group' | 'batch' | 'none'; std: 'unbiased' | 'biased'; epsilon: number}): tf.Tensor1D | null {
  const batch = rewards.shape[0];
  if (!enabled || batch < 1 || groupSize < 1 || tf.engine().isTapeOn()) return null;
  const backend = rowKernelBackend();
  if (backend === null || gpuBuffersOf(backend, [rewards]) === null) return null;
  const checks = valueChecksEnabled();
  const numGroups = batch / groupSize;
  const unbiased = o.std === 'unbiased';
  const out = runRowKernels(backend, {inputs: [rewards], outputs: [[batch]],
    ints: [batch, groupSize, numGroups, SCALES[o.scale]],
    floats: [o.epsilon, unbiased ? Math.max(groupSize - 1, 1) : groupSize, unbiased ? Math.max(batch - 1, 1) : batch, 0],
    checkMessage: checks ? () => `groupAdvantages: 'rewards' expected finite values, got NaN or ±Infinity` : undefined,
    dispatches: [{key: `groupAdv${+checks}`, code: shader(checks), workgroups: rowGrid(Math.ceil(numGroups / ROW_WG))}]});
  return out === null ? null : out[0] as tf.Tensor1D;
}

/**
 * The Adam update on webgpu as one dispatch per variable (tfjs's `AdamOptimizer.applyGradients`
 * launches about 15 programs and uploads about 8 scalars per variable). Same formulas and order of
 * float32 operations as tfjs-core 4.x's adam_optimizer.js, with the clip factor folded in:
 *
 *   g = grad * factor_k                       (factor_k: the clip factor of the variable's group k)
 *   m' = m * b1 + g * (1 - b1)
 *   v' = v * b2 + (g * g) * (1 - b2)
 *   p' = ((m' / (1 - accB1)) / (sqrt(v' / (1 - accB2)) + eps)) * (-lr) + p
 *   accB1' = accB1 * b1, accB2' = accB2 * b2
 *
 * (b1, 1 - b1, b2, 1 - b2, -lr and eps rounded to float32 as tfjs's scalar uploads round them). One
 * dispatch first writes 1 - accB1, 1 - accB2, the constants and the clip factors into a small device
 * scratch buffer (WebGPU binds at most 8 storage buffers per dispatch by default: the update reads p,
 * g, m, v and that buffer and writes p', m', v') and writes accB1', accB2'. Every output is a new
 * tensor (a pooled buffer through the backend); nothing is read back, nothing is written in place.
 *
 * With a guard (value checks on), the prepare dispatch also reads the groups' gradient norms: when
 * one is NaN or infinite (tested on the loaded value) it sets a skip flag in the scratch buffer and
 * the check word, and every update dispatch copies p, m and v through unchanged (accB1 and accB2
 * too), so the variables and the moments keep their values; the check word becomes the guard's
 * named error at the next fused call (`webgpu_value_checks.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {ROW_MAIN_WGSL, ROW_REDUCE_WGSL, ROW_WG, rowGrid, storageDecls} from './row_kernel_webgpu.js';
import {
  activeDirectBackend, type BindingKind, bindGroupFor, clearBufferNow, type GpuBuffer, gpuBuffersOf, layoutFor, newOutput,
  pipelineFor, recordDispatches, scratchBuffer, uniformBuffer,
} from './webgpu_backend_adapter.js';
import {watchCheckWord} from './webgpu_value_checks.js';

/** @internal Adam's hyper-parameters (tfjs's `AdamOptimizer` fields of the same names). */
export interface AdamConstants {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** @internal One variable of an Adam update: its value, gradient, moments and clip-factor slot. */
export interface AdamSlot {
  param: tf.Tensor;
  grad: tf.Tensor;
  firstMoment: tf.Tensor;
  secondMoment: tf.Tensor;
  /** Index into the clip factors. */
  group: number;
}

/** @internal The new values of an Adam update (new tensors; the caller assigns and disposes them). */
export interface AdamUpdateResult {
  params: tf.Tensor[];
  firstMoments: tf.Tensor[];
  secondMoments: tf.Tensor[];
  accBeta1: tf.Scalar;
  accBeta2: tf.Scalar;
}

/**
 * @internal The non-finite guard of an update: the groups' gradient norms (`[groups]`) and the error
 * raised (at the next fused call) when one is NaN or infinite; the update then changes nothing.
 */
export interface AdamGuard {
  norms: tf.Tensor1D;
  message: () => string;
}

/** @internal An Adam update kernel. */
export interface AdamKernel {
  /** Whether it can run on the active backend at all (checked before any optimizer state is touched). */
  available(): boolean;
  /**
   * The new values for `slots` (same order), the gradient of slot i multiplied by
   * `factors[slots[i].group]`, or null where it does not apply (then nothing was allocated). Never
   * disposes or modifies its inputs. With `guard`, a NaN or infinite norm leaves every value as it was.
   */
  update(slots: readonly AdamSlot[], factors: tf.Tensor1D, accBeta1: tf.Tensor, accBeta2: tf.Tensor,
    c: AdamConstants, guard?: AdamGuard): AdamUpdateResult | null;
}

/**
 * Scratch layout: [0] 1 - accB1, [1] 1 - accB2, [2..7] b1, 1 - b1, b2, 1 - b2, -lr, eps, [8] skip (1: a
 * guarded norm is not finite), [9 + k] factor k.
 */
const FACTORS_AT = 9;

function prepareShader(): string {
  return `
struct Params { groups : u32, guard : u32, p1 : u32, p2 : u32,
  beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, negLr : f32, epsilon : f32, p3 : f32, p4 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['factors', 'f32', false], ['accBeta1', 'f32', false], ['accBeta2', 'f32', false], ['s', 'f32', true],
    ['newAccBeta1', 'f32', true], ['newAccBeta2', 'f32', true], ['norms', 'f32', false], ['checkWord', 'u32', true]])}
fn notFinite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lidv : vec3<u32>) {
  let lid = lidv.x;
  if (lid == 0u) {
    var skip = false;
    if (params.guard == 1u) {
      for (var k = 0u; k < params.groups; k = k + 1u) { if (notFinite(norms[k])) { skip = true; } }
    }
    s[8] = select(0.0, 1.0, skip);
    if (skip) { checkWord[0] = 1u; }
    let a1 = accBeta1[0];
    let a2 = accBeta2[0];
    s[0] = 1.0 - a1;
    s[1] = 1.0 - a2;
    s[2] = params.beta1;
    s[3] = params.oneMinusBeta1;
    s[4] = params.beta2;
    s[5] = params.oneMinusBeta2;
    s[6] = params.negLr;
    s[7] = params.epsilon;
    newAccBeta1[0] = select(a1 * params.beta1, a1, skip);
    newAccBeta2[0] = select(a2 * params.beta2, a2, skip);
  }
  for (var k = lid; k < params.groups; k = k + 64u) { s[${FACTORS_AT}u + k] = factors[k]; }
}
`;
}

function updateShader(): string {
  return `
struct Params { n : u32, slot : u32, p0 : u32, p1 : u32 };
@group(0) @binding(0) var<uniform> params : Params;
${storageDecls(1, [['p', 'f32', false], ['grad', 'f32', false], ['m', 'f32', false], ['v', 'f32', false], ['s', 'f32', false],
    ['pOut', 'f32', true], ['mOut', 'f32', true], ['vOut', 'f32', true]])}
${ROW_REDUCE_WGSL}
${ROW_MAIN_WGSL}
  let k = rowIndex(wid) * ${ROW_WG}u + lidv.x;
  if (k >= params.n) { return; }
  if (s[8] != 0.0) {
    pOut[k] = p[k];
    mOut[k] = m[k];
    vOut[k] = v[k];
    return;
  }
  let g = grad[k] * s[${FACTORS_AT}u + params.slot];
  let m1 = m[k] * s[2] + g * s[3];
  let v1 = v[k] * s[4] + (g * g) * s[5];
  let mHat = m1 / s[0];
  let vHat = v1 / s[1];
  pOut[k] = (mHat / (sqrt(vHat) + s[7])) * s[6] + p[k];
  mOut[k] = m1;
  vOut[k] = v1;
}
`;
}

const PREPARE_KINDS: BindingKind[] = ['uniform', 'read', 'read', 'read', 'rw', 'rw', 'rw', 'read', 'rw'];
const UPDATE_KINDS: BindingKind[] = ['uniform', 'read', 'read', 'read', 'read', 'read', 'rw', 'rw', 'rw'];

/**
 * @internal {@link AdamKernel} as direct webgpu dispatches (one to prepare the scalars, one per
 * slot); null off a direct webgpu backend or when a tensor is empty or not float32 in an f32 GPU buffer.
 */
export const adamUpdateWebGPU: AdamKernel = {available: () => activeDirectBackend() !== null, update: (slots, factors, accBeta1, accBeta2, c, guard) => {
  const backend = activeDirectBackend();
  if (backend === null) return null;
  if (guard !== undefined && guard.norms.size !== factors.size) return null;
  const tensors = [factors, accBeta1, accBeta2, ...slots.flatMap((s) => [s.param, s.grad, s.firstMoment, s.secondMoment]),
    ...(guard === undefined ? [] : [guard.norms])];
  if (tensors.some((t) => t.dtype !== 'float32' || t.size === 0)) return null;
  const bufs = gpuBuffersOf(backend, tensors);
  if (bufs === null || bufs.some((b) => b.type !== 'f32')) return null;
  const device = backend.device;
  const groups = factors.size;
  const scratch = scratchBuffer(device, 'adamScalars', 4 * (FACTORS_AT + groups));
  const newAcc = [newOutput(backend, []), newOutput(backend, [])];
  const prepUniform = uniformBuffer(device, [groups, guard === undefined ? 0 : 1, 0, 0],
      [c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, -c.learningRate, c.epsilon, 0, 0]);
  const check = scratchBuffer(device, 'adamCheck', 16);
  if (guard !== undefined) clearBufferNow(backend, check);
  // Without a guard the norms binding is any read buffer (the shader does not read it).
  const normsBuffer = guard === undefined ? bufs[0]!.buffer : bufs[bufs.length - 1]!.buffer;
  recordDispatches(backend, [factors, accBeta1, accBeta2, newAcc[0]!.info, newAcc[1]!.info, ...(guard === undefined ? [] : [guard.norms])], [{
    pipeline: pipelineFor(device, 'adamPrepare', PREPARE_KINDS, prepareShader),
    bindGroup: bindGroupFor(device, layoutFor(device, PREPARE_KINDS),
        [prepUniform, bufs[0]!.buffer, bufs[1]!.buffer, bufs[2]!.buffer, scratch, newAcc[0]!.buffer, newAcc[1]!.buffer,
          normsBuffer, check]),
    workgroups: [1],
  }]);
  if (guard !== undefined) watchCheckWord(backend, check, 0, false, guard.message, 'which changed nothing');
  const pipeline = pipelineFor(device, 'adamUpdate', UPDATE_KINDS, updateShader);
  const layout = layoutFor(device, UPDATE_KINDS);
  const engine = tf.engine();
  const result: AdamUpdateResult = {params: [], firstMoments: [], secondMoments: [],
    accBeta1: engine.makeTensorFromTensorInfo(newAcc[0]!.info) as tf.Scalar,
    accBeta2: engine.makeTensorFromTensorInfo(newAcc[1]!.info) as tf.Scalar};
  slots.forEach((slot, i) => {
    const n = slot.param.size;
    const outs = [newOutput(backend, slot.param.shape), newOutput(backend, slot.param.shape), newOutput(backend, slot.param.shape)];
    const buffers: GpuBuffer[] = [uniformBuffer(device, [n, slot.group, 0, 0], []),
      ...bufs.slice(3 + 4 * i, 7 + 4 * i).map((b) => b.buffer), scratch, ...outs.map((o) => o.buffer)];
    // Not the adapter's bindGroupFor: a model's hundreds of variables would overflow its shared cache
    // every step (their outputs are new pooled buffers each step, so a cache would rarely hit).
    const bindGroup = device.createBindGroup({layout, entries: buffers.map((buffer, binding) => ({binding, resource: {buffer}}))});
    recordDispatches(backend, [slot.param, slot.grad, slot.firstMoment, slot.secondMoment, ...outs.map((o) => o.info)],
        [{pipeline, bindGroup, workgroups: rowGrid(Math.ceil(n / ROW_WG))}]);
    const [pNew, mNew, vNew] = outs.map((o) => engine.makeTensorFromTensorInfo(o.info));
    result.params.push(pNew!);
    result.firstMoments.push(mNew!);
    result.secondMoments.push(vNew!);
  });
  return result;
}};

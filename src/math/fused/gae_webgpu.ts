/**
 * `gae` on webgpu as one fused kernel: one thread per sequence scans its row backwards (the
 * recursion is sequential in time, parallel over the batch), where the composed ops launch about ten
 * tfjs programs per time step (456 ms at 64 x 512 on an H200, against 49 ms for PyTorch's Python
 * loop). Same formulas and order of operations as the composed path in `gae.ts`:
 * delta_t = (r_t + gamma * V_next) - V_t, A_t = delta_t + gamma * lambda * A_next on unmasked steps
 * (masked steps get A = 0 and carry V_next, A_next through), returns = A + V.
 * Value checks (0/1 mask, finite rewards and values on unmasked steps) run in the kernel; a failure
 * makes the row NaN and is thrown by the next fused call (`webgpu_value_checks.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {valueChecksEnabled} from '../assert.js';
import {
  activeDirectBackend, bindGroupFor, clearBufferNow, gpuBuffersOf, layoutFor, newOutput, pipelineFor,
  recordDispatches, scratchBuffer, uniformBuffer,
} from './webgpu_backend_adapter.js';
import {throwPendingValueCheck, watchCheckWord} from './webgpu_value_checks.js';

const WG = 64;
let enabled = true;

/** @internal Turns the fused webgpu gae kernel on or off (default on); for self-checks. */
export function setGaeWebGPU(on: boolean): void {
  enabled = on;
}
const BAD_MASK = 1;
const BAD_REWARDS = 2;
const BAD_VALUES = 4;

function shader(types: string[], checks: boolean): string {
  const notFinite = (x: string) => `(bitcast<u32>(${x}) & 0x7f800000u) == 0x7f800000u`;
  return `
struct Params { batch : u32, time : u32, pad0 : u32, pad1 : u32, gamma : f32, gammaLambda : f32, pad2 : f32, pad3 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
@group(0) @binding(1) var<storage, read> rewards : array<${types[0]}>;
@group(0) @binding(2) var<storage, read> values : array<${types[1]}>;
@group(0) @binding(3) var<storage, read> maskValues : array<${types[2]}>;
@group(0) @binding(4) var<storage, read_write> advOut : array<f32>;
@group(0) @binding(5) var<storage, read_write> retOut : array<f32>;
@group(0) @binding(6) var<storage, read_write> checkOut : array<atomic<u32>>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let row = gid.x;
  if (row >= params.batch) { return; }
  let T = params.time;
  let base = row * T;
  var nextValue = 0.0;
  var nextAdvantage = 0.0;
  var bad = 0u;
  for (var i = 0u; i < T; i = i + 1u) {
    let k = base + (T - 1u - i);
    let m = f32(maskValues[k]);
    let v = f32(values[k]);
    var a = 0.0;
    ${checks ? `if (m != 0.0 && m != 1.0) { bad = bad | ${BAD_MASK}u; }` : ''}
    if (m != 0.0) {
      let r = f32(rewards[k]);
      ${checks ? `if (${notFinite('r')}) { bad = bad | ${BAD_REWARDS}u; }
      if (${notFinite('v')}) { bad = bad | ${BAD_VALUES}u; }` : ''}
      let delta = (r + params.gamma * nextValue) - v;
      a = delta + params.gammaLambda * nextAdvantage;
      nextValue = v;
      nextAdvantage = a;
    }
    advOut[k] = a;
    retOut[k] = a + v;
  }
  ${checks ? 'if (bad != 0u) { atomicOr(&checkOut[0], bad); }' : ''}
}
`;
}

function message(bits: number): string {
  const parts: string[] = [];
  if (bits & BAD_MASK) parts.push(`'mask' expected values in {0, 1}, got another value`);
  if (bits & BAD_REWARDS) parts.push(`'rewards' expected finite values on unmasked steps, got NaN or ±Infinity`);
  if (bits & BAD_VALUES) parts.push(`'values' expected finite values on unmasked steps, got NaN or ±Infinity`);
  return `gae: ${parts.join('; ')}`;
}

/**
 * @internal `gae` on validated `[batch, time]` inputs as one webgpu kernel, or null where it does not
 * apply (another backend, a gradient tape recording, buffers tfjs keeps elsewhere). Value checks
 * run in the kernel.
 */
export function gaeWebGPU(rewards: tf.Tensor2D, values: tf.Tensor2D, mask: tf.Tensor2D, gamma: number, lambda: number):
    {advantages: tf.Tensor2D; returns: tf.Tensor2D} | null {
  const backend = activeDirectBackend();
  const [batch, time] = rewards.shape;
  if (!enabled || backend === null || tf.engine().isTapeOn() || batch < 1 || time < 1 || Math.ceil(batch / WG) > 65535) return null;
  throwPendingValueCheck(backend);
  const bufs = gpuBuffersOf(backend, [rewards, values, mask]);
  if (bufs === null) return null;
  const device = backend.device;
  const checks = valueChecksEnabled();
  const kinds = ['uniform', 'read', 'read', 'read', 'rw', 'rw', 'rw'] as const;
  const types = bufs.map((b) => b.type);
  const pipeline = pipelineFor(device, `gae_${types.join('_')}_${+checks}`, [...kinds], () => shader(types, checks));
  const adv = newOutput(backend, [batch, time]);
  const ret = newOutput(backend, [batch, time]);
  const check = scratchBuffer(device, 'gaeCheck', 16);
  const uniform = uniformBuffer(device, [batch, time, 0, 0], [gamma, gamma * lambda, 0, 0]);
  if (checks) clearBufferNow(backend, check);
  recordDispatches(backend, [rewards, values, mask, adv.info, ret.info], [{pipeline,
    bindGroup: bindGroupFor(device, layoutFor(device, [...kinds]),
        [uniform, ...bufs.map((b) => b.buffer), adv.buffer, ret.buffer, check]),
    workgroups: [Math.ceil(batch / WG)]}]);
  if (checks) watchCheckWord(backend, check, 0, false, message);
  const engine = tf.engine();
  return {advantages: engine.makeTensorFromTensorInfo(adv.info) as tf.Tensor2D,
    returns: engine.makeTensorFromTensorInfo(ret.info) as tf.Tensor2D};
}

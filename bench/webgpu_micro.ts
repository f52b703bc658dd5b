// Every variant of the fused webgpu log-prob kernels (bench/webgpu_logprob_variants.ts), timed on the
// GPU machine in one run, with PyTorch on the same GPU beside them (--torch; needs python3 + torch):
//   node dist-bench/webgpu_micro.mjs [--torch] [--quick]   (--quick: small shapes, 3 variants; a local dry run)
// Shapes [2,512,152000], [4,512,32000] and a tiny [1,8,1024] (fixed costs: tfjs, dispatch, read-back).
// Per variant (ms, median of 20 steps, each ending with a read-back of a small output):
//   fb-sum   tokenLogProbs fwd+bwd as a user writes it: valueAndGrad of sum(tokenLogProbs) (the
//            gradient of the sum adds two tfjs programs: ones + mul)
//   fb-dy    fwd+bwd with the upstream gradient given (valueAndGrad(f)(x, dy)): our kernels only
//   fwd      tokenLogProbs forward + read-back of the [B, T] values
//   fwd-pipe forward, 10 calls then one read-back, per call: ~ GPU time when the GPU is the bottleneck
//   fb-pipe  fb-dy the same way
//   ent-fb   entropyFromLogits fwd+bwd (valueAndGrad of sum)
// References per shape: a raw WGSL vec4 copy of the logits (read + write, the backward's traffic) and
// a vec4 read-only sum (the forward's traffic), both pipelined per call, and their GB/s; memory: bytes
// held by tfjs after one fb-sum step beyond the logits (ours: the gradient only, 1.00x the logits;
// PyTorch's log_softmax + gather keeps a [rows, V] log-softmax output and a [rows, V] gradient of it),
// and the growth of the bytes tfjs has allocated over 20 steps (0: the gradient's buffer is pooled).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {execFileSync} from 'node:child_process';
import {configureValidation, entropyFromLogits, tokenLogProbs} from '../src/index.js';
import {setLogProbsWebGPU} from '../src/math/fused/log_probs_webgpu.js';
import {
  activeDirectBackend, bindGroupFor, gpuBufferOf, layoutFor, newOutput, pipelineFor, recordDispatches, uniformBuffer,
} from '../src/math/fused/webgpu_backend_adapter.js';
import {LOG_PROB_VARIANTS} from './webgpu_logprob_variants.js';
import {activateWebGPU} from './activate_webgpu.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quick = process.argv.includes('--quick');
const STEPS = quick ? 8 : 20;
const PIPE = 10;

/** Median ms of `f` (returns tensors; the first is read back, all disposed), after 5 warm-up steps. */
async function timeIt(f: () => tf.Tensor[], per = 1): Promise<number> {
  const once = async () => {
    const outs = f();
    await outs[0]!.data();
    tf.dispose(outs);
  };
  for (let i = 0; i < 3; i++) await once();
  const ts: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    await once();
    ts.push(performance.now() - t0);
  }
  return median(ts) / per;
}

/** `n` calls of `f` (each output but the last disposed at once), one read-back: per call. */
const pipelined = (f: () => tf.Tensor[]) => () => {
  for (let k = 0; k < PIPE - 1; k++) tf.dispose(f());
  return f();
};

/** Raw WGSL references over the logits buffer: a vec4 copy (read + write) and a vec4 sum (read). */
function rawReference(kind: 'copy' | 'sum', x: tf.Tensor): tf.Tensor[] {
  const backend = activeDirectBackend()!;
  const n4 = x.size / 4;
  const wgs = Math.ceil(n4 / 1024);
  const gx = Math.min(wgs, 32768);
  const gy = Math.ceil(wgs / gx);
  const code = `
struct P { n4 : u32, gx : u32, a : u32, b : u32 };
@group(0) @binding(0) var<uniform> p : P;
@group(0) @binding(1) var<storage, read> src : array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst : array<vec4<f32>>;
var<workgroup> red : array<vec4<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let base = (wid.y * p.gx + wid.x) * 1024u + lid;
  var acc = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q = q + 1u) {
    let i = base + q * 256u;
    if (i < p.n4) {
      ${kind === 'copy' ? 'dst[i] = src[i] * 1.0001;' : 'acc = acc + src[i];'}
    }
  }
  ${kind === 'copy' ? '' : `red[lid] = acc;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[wid.y * p.gx + wid.x] = red[0]; }`}
}`;
  const kinds: Array<'uniform' | 'read' | 'rw'> = ['uniform', 'read', 'rw'];
  const device = backend.device;
  const out = newOutput(backend, kind === 'copy' ? x.shape : [gx * gy * 4]);
  const xb = gpuBufferOf(backend, x)!;
  recordDispatches(backend, [x, out.info], [{pipeline: pipelineFor(device, `micro_${kind}`, kinds, () => code),
    bindGroup: bindGroupFor(device, layoutFor(device, kinds), [uniformBuffer(device, [n4, gx, 0, 0], []), xb.buffer, out.buffer]),
    workgroups: [gx, gy]}]);
  const y = tf.engine().makeTensorFromTensorInfo(out.info);
  // Read back one element only (a slice), so the read-back does not move the whole output.
  const one = tf.slice(tf.reshape(y, [-1]), [0], [4]);
  y.dispose();
  return [one];
}

interface TorchRow {key: string; shape: {B: number; T: number; V: number}; medianMs: number}

function torchTimes(shapes: ReadonlyArray<readonly [number, number, number]>): TorchRow[] {
  const cases = shapes.flatMap(([B, T, V]) => ['token_log_probs_fwd_bwd', 'entropy_fwd_bwd'].map((ref) => ({ref, shape: {B, T, V}})));
  try {
    const out = execFileSync('python3', ['bench/torch_reference.py', ...(quick ? ['--quick'] : [])],
        {input: JSON.stringify(cases), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], timeout: 300_000});
    // torch_reference.py names each result's shape as a string ("B=2,T=512,V=152000"): read B, T, V back.
    const r = JSON.parse(out) as {device: string; results: Array<{key: string; shape: string; medianMs: number}>};
    const rows = r.results.map((x) => {
      const dims = Object.fromEntries(x.shape.split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
      return {key: x.key, shape: {B: dims['B']!, T: dims['T']!, V: dims['V']!}, medianMs: x.medianMs};
    });
    console.log(`PyTorch ${r.device}: ` + rows.map((x) => `${x.key} [${x.shape.B},${x.shape.T},${x.shape.V}] ${x.medianMs.toFixed(3)} ms`).join('; '));
    return rows;
  } catch (e) {
    console.log(`PyTorch reference failed: ${(e as Error).message.split('\n')[0]}`);
    return [];
  }
}

async function main(): Promise<void> {
  await activateWebGPU();
  configureValidation({valueChecks: false});
  const features = [...((tf.backend() as unknown as {device: {features: Iterable<string>}}).device.features)];
  console.log(`webgpu device features: ${features.join(', ')}`);
  const shapes = quick ? [[2, 16, 4096], [1, 8, 1024]] as const :
    [[2, 512, 152000], [4, 512, 32000], [1, 8, 1024]] as const;
  const torch = process.argv.includes('--torch') ? torchTimes(shapes) : [];
  for (const [B, T, V] of shapes) {
    const logits = tf.randomNormal([B, T, V], 0, 2, 'float32', 6) as tf.Tensor3D;
    const tok = tf.randomUniform([B, T], 0, V, 'int32', 7) as tf.Tensor2D;
    const dy = tf.randomNormal([B, T], 0, 1, 'float32', 8) as tf.Tensor2D;
    const bytes = B * T * V * 4;
    const shape = `[${B},${T},${V}]`;
    const tt = (key: string) => torch.find((r) => r.key === key && r.shape.B === B && r.shape.T === T && r.shape.V === V)?.medianMs;
    const tl = tt('token_log_probs_fwd_bwd');
    const te = tt('entropy_fwd_bwd');
    console.log(`\n${shape}: logits ${(bytes / 1e6).toFixed(0)} MB; PyTorch fwd+bwd tokenLogProbs ${tl?.toFixed(3) ?? '-'} ms, ` +
        `entropy ${te?.toFixed(3) ?? '-'} ms`);
    const copy = await timeIt(pipelined(() => rawReference('copy', logits)), PIPE);
    const sum = await timeIt(pipelined(() => rawReference('sum', logits)), PIPE);
    console.log(`raw WGSL vec4 copy ${copy.toFixed(3)} ms (${(2 * bytes / copy / 1e6).toFixed(0)} GB/s), ` +
        `vec4 sum ${sum.toFixed(3)} ms (${(bytes / sum / 1e6).toFixed(0)} GB/s), per call, pipelined`);
    console.log(`${'variant'.padEnd(20)} ${['fb-sum', 'fb-dy', 'fwd', 'fwd-pipe', 'fb-pipe', 'ent-fb', 'fb/torch', 'mem x', 'alloc+'].map((h) => h.padStart(9)).join('')}`);
    const fb = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tokenLogProbs(x as tf.Tensor3D, tok)));
    const fbDy = tf.valueAndGrad((x: tf.Tensor3D) => tokenLogProbs(x, tok));
    const eb = tf.valueAndGrad((x: tf.Tensor) => tf.sum(entropyFromLogits(x as tf.Tensor3D)));
    let best = {name: '', ms: Infinity};
    for (const {name, v} of quick ? LOG_PROB_VARIANTS.slice(0, 3) : LOG_PROB_VARIANTS) {
      setLogProbsWebGPU(true, v);
      const fbSum = await timeIt(() => { const r = fb(logits); return [r.value, r.grad]; });
      const fbGiven = await timeIt(() => { const r = fbDy(logits, dy); return [r.value, r.grad]; });
      const fwd = await timeIt(() => [tokenLogProbs(logits, tok)]);
      const fwdPipe = await timeIt(pipelined(() => [tokenLogProbs(logits, tok)]), PIPE);
      const fbPipe = await timeIt(pipelined(() => { const r = fbDy(logits, dy); return [r.value, r.grad]; }), PIPE);
      const ent = await timeIt(() => { const r = eb(logits); return [r.value, r.grad]; });
      // Memory: bytes tfjs holds right after one step (before the read-back), beyond what it held before.
      const m0 = tf.memory() as tf.MemoryInfo & {numBytesInGPU: number; numBytesAllocatedInGPU: number};
      const r = fb(logits);
      const m1 = tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
      await r.value.data();
      tf.dispose([r.value, r.grad]);
      for (let i = 0; i < 20; i++) {
        const s = fb(logits);
        await s.value.data();
        tf.dispose([s.value, s.grad]);
      }
      const m2 = tf.memory() as tf.MemoryInfo & {numBytesAllocatedInGPU: number};
      const cells = [fbSum, fbGiven, fwd, fwdPipe, fbPipe, ent].map((x) => x.toFixed(3));
      cells.push(tl === undefined ? '-' : (fbSum / tl).toFixed(2), ((m1.numBytesInGPU - m0.numBytesInGPU) / bytes).toFixed(2),
          `${((m2.numBytesAllocatedInGPU - m0.numBytesAllocatedInGPU) / 1e6).toFixed(0)}MB`);
      console.log(`${name.padEnd(20)} ${cells.map((c) => c.padStart(9)).join('')}`);
      if (fbSum < best.ms) best = {name, ms: fbSum};
    }
    setLogProbsWebGPU(true);
    const add = await timeIt(pipelined(() => {
      const y = tf.add(logits, 1);
      const one = tf.slice(y, [0, 0, 0], [1, 1, 1]);
      y.dispose();
      return [one];
    }), PIPE);
    console.log(`best fb-sum ${shape}: ${best.name} ${best.ms.toFixed(3)} ms${tl === undefined ? '' : ` = ${(best.ms / tl).toFixed(2)}x PyTorch`}; ` +
        `tfjs tf.add(logits, 1) pipelined ${add.toFixed(3)} ms per call`);
    tf.dispose([logits, tok, dy]);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

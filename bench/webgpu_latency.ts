// Where the time of a small webgpu step goes, beside PyTorch in the same command (run on the GPU machine):
//   node dist-bench/webgpu_latency.mjs            (npx tsx bench/webgpu_latency.ts locally; --quick: fewer runs)
// Prints medians over 50 runs (the whole grid twice, the first round as warm-up) of: an empty queue wait, a 1-element op + read-back, a raw WebGPU buffer
// copy + mapAsync (no tfjs); then per shape and variant of the fused grpoLoss fwd+bwd (tf.valueAndGrad):
// the CPU time to enqueue one step (no wait), one step with its loss read back (the issue-12 target:
// <= 0.25x PyTorch CUDA eager), queue submits and compute dispatches per step, and the JavaScript time
// of grpoLoss's validation alone. Variants: value checks off; on (the default) with the check word
// read back deferred (default) or with its own submit; grpoLossWithStats (statistics on the GPU);
// the runWebGPUProgram path (`legacy`). Last, bench/torch_reference.py's grpo_loss_fwd_bwd (CUDA eager,
// loss read with .item()) for the same shapes and the ratios.
import '@tensorflow/tfjs';
import {spawnSync} from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import {configureValidation, grpoLoss, grpoLossWithStats, type GrpoLossOptions} from '../src/index.js';
import {setGrpoLossWebGPUDirect} from '../src/math/fused/grpo_loss_webgpu.js';
import {setWebGPUCheckReadback} from '../src/math/fused/webgpu_value_checks.js';
import {prepareGrpoLoss} from '../src/math/grpo_loss_options.js';
import {activateWebGPU} from './activate_webgpu.js';

const QUICK = process.argv.includes('--quick');
const N = QUICK ? 10 : 50;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let round = 0;
async function timeIt(name: string, f: () => Promise<void> | void, n = N): Promise<number> {
  if (round === 0 && name.startsWith('[')) name = `(warm-up round) ${name}`;
  for (let i = 0; i < 5; i++) await f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  console.log(`${name.padEnd(66)} median ${median(ts).toFixed(4)} ms  min ${Math.min(...ts).toFixed(4)} ms`);
  return median(ts);
}

/** Counts queue submits and compute dispatches (wrapping the device's queue and the pass prototype). */
function counters(device: GPUDevice): {submits: number; dispatches: number} {
  const c = {submits: 0, dispatches: 0};
  const queue = device.queue as unknown as {submit: (b: unknown[]) => void};
  const submit = queue.submit.bind(queue);
  queue.submit = (b) => { c.submits++; submit(b); };
  const proto = (globalThis as {GPUComputePassEncoder?: {prototype: {dispatchWorkgroups: (...a: number[]) => void}}})
      .GPUComputePassEncoder?.prototype;
  if (proto !== undefined) {
    const dispatch = proto.dispatchWorkgroups;
    proto.dispatchWorkgroups = function (this: unknown, ...a: number[]) { c.dispatches++; dispatch.apply(this, a); };
  } else {
    c.dispatches = NaN;
  }
  return c;
}

/** PyTorch's grpo_loss_fwd_bwd (bench/torch_reference.py) per shape `BxT`, or a reason it did not run. */
function torchMedians(shapes: Array<[number, number]>): Map<string, number> | string {
  const python = [process.env['PYTHON'], 'python3', '/usr/bin/python3'].find((p) => p !== undefined &&
      spawnSync(p, ['-c', 'import torch'], {encoding: 'utf8'}).status === 0);
  if (python === undefined) return 'PyTorch not installed (python3 -c "import torch" failed)';
  const cases = shapes.map(([B, T]) => ({ref: 'grpo_loss_fwd_bwd', shape: {B, T}}));
  const res = spawnSync(python, ['bench/torch_reference.py', ...(QUICK ? ['--quick'] : [])],
      {input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['pipe', 'pipe', 'inherit']});
  if (res.status !== 0) return `torch_reference.py exited with ${res.status}`;
  const out = JSON.parse(res.stdout) as {device: string; results: Array<{shape: string; medianMs: number}>};
  console.log(`PyTorch device: ${out.device}`);
  return new Map(out.results.map((r) => [r.shape, r.medianMs]));
}

async function main(): Promise<void> {
  await activateWebGPU();
  const b = tf.backend() as unknown as {
    device: GPUDevice; submitQueue: () => void; endComputePassEncoder: () => void; commandEncoder: unknown;
  };
  const drain = async () => {
    if (b.commandEncoder != null) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
    await b.device.queue.onSubmittedWorkDone();
  };
  await timeIt('queue.onSubmittedWorkDone, empty queue', drain);
  const one = tf.ones([1]);
  await timeIt('tf.add on [1] + data() (tfjs read-back)', async () => {
    const y = tf.add(one, 1);
    await y.data();
    y.dispose();
  });
  const device = b.device;
  const src = device.createBuffer({size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC});
  const dst = device.createBuffer({size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
  await timeIt('raw WebGPU: copy 16 B + mapAsync (no tfjs)', async () => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, dst, 0, 16);
    device.queue.submit([enc.finish()]);
    await dst.mapAsync(GPUMapMode.READ);
    dst.unmap();
  });
  const count = counters(device);
  const shapes: Array<[number, number]> = QUICK ? [[64, 512]] : [[64, 512], [256, 2048], [512, 8192]];
  const variants = [
    {tag: 'checks off', checks: false, readback: 'deferred', stats: false, legacy: false},
    {tag: 'checks on (default), deferred check read', checks: true, readback: 'deferred', stats: false, legacy: false},
    {tag: 'checks on, check read with own submit', checks: true, readback: 'submit', stats: false, legacy: false},
    {tag: 'WithStats, checks on (default)', checks: true, readback: 'deferred', stats: true, legacy: false},
    {tag: 'legacy, checks off', checks: false, readback: 'deferred', stats: false, legacy: true},
  ] as const;
  const summary: string[] = [];
  const readBack = new Map<string, number>();
  const options: GrpoLossOptions = {beta: 0.04, clipHigh: 0.28, implementation: 'fused'};
  // Two rounds over every shape and variant; only the second is summarized (steady state: in the first
  // the smallest shape, measured first, also pays for V8 compiling the path and tfjs's buffer pool filling).
  for (round = 0; round < 2; round++)
  for (const [B, T] of shapes) {
    const lp = tf.randomUniform([B, T], -3, -0.3);
    const x = {logProbs: lp, oldLogProbs: tf.add(lp, 0.05), refLogProbs: tf.add(lp, -0.05),
      advantages: tf.randomNormal([B]), mask: tf.ones([B, T])};
    for (const v of variants) {
      configureValidation({valueChecks: v.checks});
      setWebGPUCheckReadback(v.readback);
      setGrpoLossWebGPUDirect(!v.legacy);
      const f = tf.valueAndGrad((l: tf.Tensor) => v.stats ?
        tf.tidy(() => grpoLossWithStats({...x, logProbs: l}, options).loss) : grpoLoss({...x, logProbs: l}, options));
      const name = `[${B},${T}] ${v.tag}`;
      let outs: tf.Tensor[] = [];
      // The previous step's outputs are disposed first (their buffers return to tfjs's pool at the next
      // submit), as in a training loop.
      const enqueue = await timeIt(`${name}: enqueue only (CPU)`, () => {
        tf.dispose(outs);
        const {value, grad} = f(lp);
        outs = [value, grad];
      });
      await drain();
      tf.dispose(outs);
      const s0 = count.submits;
      const d0 = count.dispatches;
      const rb = await timeIt(`${name}: enqueue + loss read-back`, async () => {
        const {value, grad} = f(lp);
        await value.data();
        tf.dispose([value, grad]);
      });
      const steps = N + 5;
      const perStep = `${((count.submits - s0) / steps).toFixed(1)} submits, ${((count.dispatches - d0) / steps).toFixed(1)} dispatches per step`;
      if (round === 0) continue;
      summary.push(`${name.padEnd(66)} read-back ${rb.toFixed(4)} ms, enqueue ${enqueue.toFixed(4)} ms, ${perStep}`);
      if (v.tag.startsWith('checks on (default)')) readBack.set(`B=${B},T=${T}`, rb);
    }
    configureValidation({valueChecks: true});
    await timeIt(`[${B},${T}] grpoLoss validation alone (prepareGrpoLoss, JS)`, () => {
      prepareGrpoLoss(x, options, 'grpoLoss', false);
    });
    tf.dispose(Object.values(x));
  }
  setGrpoLossWebGPUDirect(true);
  setWebGPUCheckReadback('deferred');
  console.log('\nPer step (fused grpoLoss fwd+bwd, loss read back):');
  for (const line of summary) console.log(line);
  const torch = torchMedians(shapes);
  if (typeof torch === 'string') {
    console.log(`PyTorch: ${torch}`);
  } else {
    for (const [shape, rb] of readBack) {
      const t = torch.get(shape);
      if (t === undefined) continue;
      console.log(`${shape}: webgpu fused fwd+bwd + read-back (default options) ${rb.toFixed(4)} ms, PyTorch ${t.toFixed(4)} ms, ` +
          `ratio ${(rb / t).toFixed(3)} (target <= 0.25)`);
    }
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// The WGSL matmul (registerWebGPUMatmul) on webgpu: correctness against tfjs's own webgpu kernel and the
// cpu backend's float64-free reference (max relative error per case, every tile, transposes, odd sizes,
// batched and broadcast, split-K), then TFLOP/s of square products n = 1024..8192 for every tile and
// tfjs's kernel, and the transposed products of a training step. Exits 1 when a check fails.
//   node dist-bench/bench/webgpu_matmul.mjs [--quick] [--check-only] [--defaults] [--sweep-steps] [--tiles a,b]
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {
  MATMUL_TILES, registerWebGPUMatmul, setWebGPUMatmulTuning, tileWorkgroupBytes, unregisterWebGPUMatmul,
} from '../src/math/fused/matmul_webgpu.js';
import {activateWebGPU} from './activate_webgpu.js';

const quick = process.argv.includes('--quick');
const defaults = setWebGPUMatmulTuning({});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The tiles this device can run (workgroup memory within its limit; others fall back to tfjs's kernel). */
function tiles(): string[] {
  const limit = (tf.backend() as unknown as {device: GPUDevice}).device.limits.maxComputeWorkgroupStorageSize;
  const only = process.argv.includes('--tiles') ? process.argv[process.argv.indexOf('--tiles') + 1]!.split(',') : null;
  return Object.keys(MATMUL_TILES).filter((t) => tileWorkgroupBytes(MATMUL_TILES[t]!) <= limit && (only === null || only.includes(t)));
}
/** Plain A B through a transposed copy of the smaller operand and the `large` tile. */
const VIA_TRANSPOSE = {transposeBytes: 2 ** 31};

async function maxRel(x: tf.Tensor, y: tf.Tensor): Promise<number> {
  const [a, b] = [await x.data(), await y.data()];
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let worst = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d / scale);
  }
  return worst;
}

/** C = op(A) op(B) in float64 on the CPU (tfjs's own webgpu kernel is wrong for some shapes on lavapipe). */
async function reference(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): Promise<tf.Tensor> {
  const [A, B] = [await a.data(), await b.data()];
  const ra = a.rank;
  const rb = b.rank;
  const M = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const K = ta ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const N = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batchA = A.length / (M * K);
  const batchB = B.length / (K * N);
  const batch = Math.max(batchA, batchB);
  const out = new Float32Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = (batchA > 1 ? z : 0) * M * K;
    const bo = (batchB > 1 ? z : 0) * K * N;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[ao + (ta ? k * M + m : m * K + k)]! * B[bo + (tb ? n * K + k : k * N + n)]!;
      out[(z * M + m) * N + n] = s;
    }
  }
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return tf.tensor(out, [...outer, M, N]);
}

async function checks(): Promise<number> {
  let failures = 0;
  let count = 0;
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[64, 64], [64, 64], false, false], [[130, 77], [77, 45], false, false], [[33, 200], [33, 50], true, false],
    [[100, 36], [260, 36], false, true], [[37, 129], [53, 37], true, true], [[3, 70, 40], [3, 40, 90], false, false],
    [[2, 3, 64, 32], [32, 48], false, false], [[48, 64], [4, 64, 40], false, false], [[4, 40, 96], [4, 72, 96], false, true],
    [[64, 5000], [5000, 48], false, false], [[128, 4100], [40, 4100], false, true], [[4099, 64], [4099, 36], true, false],
    [[257, 128], [128, 513], false, false],
  ];
  console.log(`tiles within maxComputeWorkgroupStorageSize: ${tiles().join(', ')}`);
  const configs: Array<[string, Parameters<typeof setWebGPUMatmulTuning>[0]]> = [];
  for (const tile of tiles()) for (const maxSplitK of [1, 16]) configs.push([`${tile} split<=${maxSplitK}`, {large: tile, plain: tile, small: tile, maxSplitK}]);
  // Every plain product through the transposed copy (fill 1: small outputs too).
  for (const tile of ['128x128x16', '64x64x16']) configs.push([`${tile} via-transpose`, {...VIA_TRANSPOSE, large: tile, fill: 1, maxSplitK: 1}]);
  for (const [tag, t] of configs) {
    setWebGPUMatmulTuning({...defaults, ...t});
    for (const [sa, sb, ta, tb] of cases) {
      const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
      const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
      const ours = tf.matMul(a, b, ta, tb);
      const ref = await reference(a, b, ta, tb);
      const err = await maxRel(ours, ref);
      count++;
      const ok = err < 1e-5 && ours.shape.join() === ref.shape.join();
      if (!ok) failures++;
      if (!ok || !quick) console.log(`${ok ? 'ok  ' : 'FAIL'} matmul ${tag} [${sa}]${ta ? 'T' : ''} x [${sb}]${tb ? 'T' : ''}: ${err.toExponential(2)}`);
      tf.dispose([a, b, ours, ref]);
    }
  }
  // Gradients through the registered kernel equal those through tfjs's.
  const a = tf.randomNormal([96, 80], 0, 1, 'float32', 3);
  const w = tf.randomNormal([72, 80], 0, 1, 'float32', 4);
  const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, false, true))));
  const mine = g([a, w]);
  unregisterWebGPUMatmul();
  const theirs = g([a, w]);
  registerWebGPUMatmul();
  for (let i = 0; i < 2; i++) {
    const err = await maxRel(mine[i]!, theirs[i]!);
    count++;
    if (!(err < 1e-5)) failures++;
    console.log(`${err < 1e-5 ? 'ok  ' : 'FAIL'} matmul gradient ${i}: ${err.toExponential(2)}`);
  }
  tf.dispose([a, w, ...mine, ...theirs]);
  setWebGPUMatmulTuning(defaults);
  console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: matmul ${count} comparisons, tensors ${tf.memory().numTensors}`);
  return failures;
}

async function time(f: () => tf.Tensor, n: number): Promise<number> {
  const once = async () => {
    const y = f();
    const one = tf.slice(y.reshape([-1]), [0], [1]);
    y.dispose();
    await one.data();
    one.dispose();
  };
  for (let i = 0; i < 2; i++) await once();
  // n products enqueued back to back, one read-back: GPU-bound time per product.
  const round = async (): Promise<number> => {
    const t0 = performance.now();
    const ys: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) ys.push(f());
    const last = tf.slice(ys[n - 1]!.reshape([-1]), [0], [1]);
    await last.data();
    tf.dispose([...ys, last]);
    return (performance.now() - t0) / n;
  };
  // At least 250 ms of back-to-back products first: a GPU coming from idle or from small kernels runs
  // at lower clocks for a while (a 2048 product measured right after 1024 ones ran 3x slower).
  for (const t0 = performance.now(); performance.now() - t0 < 250;) await round();
  const ts: number[] = [];
  for (let r = 0; r < 5; r++) ts.push(await round());
  return median(ts);
}

async function speed(): Promise<void> {
  const rows: string[] = [];
  const sizes = quick ? [1024, 2048] : [1024, 2048, 4096, 8192];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 5);
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 6);
    const reps = n >= 8192 ? 3 : n >= 4096 ? 6 : 12;
    const flops = 2 * n ** 3;
    const line = [`n=${n}`];
    unregisterWebGPUMatmul();
    line.push(`tfjs ${(flops / (await time(() => tf.matMul(a, b), reps)) / 1e9).toFixed(1)}`);
    registerWebGPUMatmul();
    if (process.argv.includes('--defaults')) {
      // The default tuning only, as every tf.matMul runs it: A B, A B^T, A^T B.
      for (const [ta, tb] of [[false, false], [false, true], [true, false]] as const) {
        const ms = await time(() => tf.matMul(a, b, ta, tb), reps);
        line.push(`default${ta ? ' At' : ''}${tb ? ' Bt' : ''} ${(flops / ms / 1e9).toFixed(1)}`);
      }
      console.log(`TFLOP/s ${line.join(' | ')}`);
      tf.dispose([a, b]);
      continue;
    }
    for (const tile of tiles()) {
      setWebGPUMatmulTuning({large: tile, plain: tile, small: tile});
      for (const [ta, tb] of [[false, false], [false, true], [true, false]] as const) {
        const ms = await time(() => tf.matMul(a, b, ta, tb), reps);
        line.push(`${tile}${ta ? ' At' : ''}${tb ? ' Bt' : ''} ${(flops / ms / 1e9).toFixed(1)}`);
      }
    }
    for (const tile of ['128x128x16', '64x128x16']) {
      setWebGPUMatmulTuning({...defaults, ...VIA_TRANSPOSE, large: tile});
      line.push(`${tile} via-transpose ${(flops / (await time(() => tf.matMul(a, b), reps)) / 1e9).toFixed(1)}`);
    }
    setWebGPUMatmulTuning(defaults);
    line.push(`default ${(flops / (await time(() => tf.matMul(a, b), reps)) / 1e9).toFixed(1)}`);
    console.log(`TFLOP/s ${line.join(' | ')}`);
    rows.push(line.join(' | '));
    tf.dispose([a, b]);
  }
  await stepShapes();
}

async function stepShapes(): Promise<void> {
  // The products of a Qwen2-0.5B step at B*T = 1024 tokens (forward and both gradients).
  const shapes: Array<[string, number[], number[], boolean, boolean]> = [
    ['x W_up^T [1024,896]x[4864,896]^T', [1024, 896], [4864, 896], false, true],
    ['dY W_up [1024,4864]x[4864,896]', [1024, 4864], [4864, 896], false, false],
    ['dY^T x [1024,4864]^T x [1024,896]', [1024, 4864], [1024, 896], true, false],
    ['lm_head [1024,896]x[151936,896]^T', [1024, 896], [151936, 896], false, true],
    ['dlogits W [1024,151936]x[151936,896]', [1024, 151936], [151936, 896], false, false],
    ['attn [28,256,64]x[28,256,64]^T', [28, 256, 64], [28, 256, 64], false, true],
  ];
  for (const [name, sa, sb, ta, tb] of shapes) {
    const a = tf.randomNormal(sa, 0, 1, 'float32', 7);
    const b = tf.randomNormal(sb, 0, 1, 'float32', 8);
    const M = ta ? sa[sa.length - 1]! : sa[sa.length - 2]!;
    const K = ta ? sa[sa.length - 2]! : sa[sa.length - 1]!;
    const N = tb ? sb[sb.length - 2]! : sb[sb.length - 1]!;
    const flops = 2 * M * N * K * (sa.length === 3 ? sa[0]! : 1);
    unregisterWebGPUMatmul();
    const theirs = await time(() => tf.matMul(a, b, ta, tb), 5);
    registerWebGPUMatmul();
    const mine = await time(() => tf.matMul(a, b, ta, tb), 5);
    console.log(`step ${name.padEnd(40)} ours ${mine.toFixed(3)} ms (${(flops / mine / 1e9).toFixed(1)} TFLOP/s)  tfjs ${theirs.toFixed(3)} ms (${(flops / theirs / 1e9).toFixed(1)})`);
    if (!ta && !tb && process.argv.includes('--sweep-steps')) {
      const alt: string[] = [];
      for (const tile of tiles()) {
        setWebGPUMatmulTuning({...defaults, plain: tile, small: tile});
        alt.push(`${tile} ${(flops / (await time(() => tf.matMul(a, b), 5)) / 1e9).toFixed(1)}`);
      }
      setWebGPUMatmulTuning({...defaults, ...VIA_TRANSPOSE});
      alt.push(`via-transpose ${(flops / (await time(() => tf.matMul(a, b), 5)) / 1e9).toFixed(1)}`);
      setWebGPUMatmulTuning(defaults);
      console.log(`step-sweep ${name} TFLOP/s | ${alt.join(' | ')}`);
    }
    tf.dispose([a, b]);
  }
}

async function main(): Promise<void> {
  await activateWebGPU();
  if (!registerWebGPUMatmul()) throw new Error('registerWebGPUMatmul: webgpu kernels not loaded');
  const failures = await checks();
  if (process.argv.includes('--step-only')) await stepShapes();
  else if (!process.argv.includes('--check-only')) await speed();
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

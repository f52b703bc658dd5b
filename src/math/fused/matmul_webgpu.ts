/**
 * A tiled WGSL float32 matmul registered as the webgpu backend's `BatchMatMul` kernel, so every
 * `tf.matMul` on webgpu runs it: the policies' linear layers and attention, their gradients (tfjs's
 * BatchMatMul gradient is two more `matMul`s with transposes, which this kernel reads in place), and
 * anyone's `tf.layers` model. Shapes it does not serve (int32, fewer than 32 rows or columns, batch
 * dimensions that broadcast other than one-to-many) go to the kernel tfjs registered before it.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  bindGroupFor, gpuBuffersOf, isWebGPUDirectBackend, layoutFor, newOutput, pipelineFor, recordDispatches,
  scratchBuffer, uniformBuffer, type Dispatch, type WebGPUDirectBackend,
} from './webgpu_backend_adapter.js';
import {matmulShader, matmulShaderKey, splitKReduceShader, transposeShader, type MatmulShaderConfig} from './matmul_wgsl.js';

type Tile = Pick<MatmulShaderConfig, 'bm' | 'bn' | 'bk' | 'tm' | 'tn'>;

/** @internal The tile shapes the kernel chooses between (and the GPU sweep times). */
export const MATMUL_TILES: Readonly<Record<string, Tile>> = {
  '128x128x8': {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8},
  '128x128x16': {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8},
  '64x128x16': {bm: 64, bn: 128, bk: 16, tm: 4, tn: 8},
  '64x64x16': {bm: 64, bn: 64, bk: 16, tm: 4, tn: 4},
  '128x64x16': {bm: 128, bn: 64, bk: 16, tm: 8, tn: 4},
  '64x128x32': {bm: 64, bn: 128, bk: 32, tm: 4, tn: 8},
  '64x64x32': {bm: 64, bn: 64, bk: 32, tm: 4, tn: 4},
  '64x256x16': {bm: 64, bn: 256, bk: 16, tm: 8, tn: 8},
  '32x128x16': {bm: 32, bn: 128, bk: 16, tm: 4, tn: 8},
};

/** @internal Bytes of workgroup memory a tile stages (A and B tiles of one K step). */
export function tileWorkgroupBytes(t: Tile): number {
  return 4 * t.bk * (t.bm + t.bn);
}

/** @internal Tuning of the tile choice: the tile for large outputs, the one for small, the workgroups to fill. */
export interface MatmulTuning {
  /** Tile for large outputs when an operand is transposed (the forward of a linear layer, dW). */
  large: string;
  /** Tile for large outputs of A B with neither transposed (dX = dY W). */
  plain: string;
  small: string;
  /** Workgroups below which a smaller tile, then split-K, is used (about 2 per multiprocessor). */
  fill: number;
  /** Largest number of K chunks of split-K (1: off). */
  maxSplitK: number;
  /**
   * A B with neither operand transposed and a large output: copy the smaller operand, when it has at
   * most this many bytes, into its transpose first and run the `large` tile on the transposed form
   * (0: never).
   */
  transposeBytes: number;
}

/** @internal Default {@link MatmulTuning.transposeBytes}: operands up to 64 MiB (a 4096 x 4096 float32 matrix). */
export const DEFAULT_TRANSPOSE_BYTES = 64 * 2 ** 20;

// Chosen from the H200 sweeps (bench/results/h200-2026-12-01-matmul.txt, h200-2026-12-02-sweep-matmul.txt):
// 128x128x16 reads transposed operands at 30-40 TFLOP/s for n >= 2048; a plain A B runs at 24-30 with
// any tile (64x128x16 is among the best) but at 36 through a transposed copy of one operand (n = 2048, 4096).
let tuning: MatmulTuning = {
  large: '128x128x16', plain: '64x128x16', small: '64x128x16', fill: 128, maxSplitK: 16, transposeBytes: DEFAULT_TRANSPOSE_BYTES,
};

/** @internal Sets the tile choice (for the GPU sweep); returns the previous one. */
export function setWebGPUMatmulTuning(t: Partial<MatmulTuning>): MatmulTuning {
  const prev = tuning;
  tuning = {...tuning, ...t};
  for (const name of [tuning.large, tuning.plain, tuning.small]) {
    if (MATMUL_TILES[name] === undefined) throw new Error(`setWebGPUMatmulTuning: unknown tile '${name}'`);
  }
  return prev;
}

/**
 * @internal The tile, the split of K and the operand copied into its transpose first (`copy`) for one
 * product; `bytes` are the operands' sizes (for the copy of a plain A B, see `transposeBytes`).
 */
export function chooseMatmulPlan(batch: number, M: number, N: number, K: number, plain = false,
    bytes?: {a: number; b: number}): {tile: Tile; splitK: number; copy: 'a' | 'b' | null} {
  const count = (t: Tile) => batch * Math.ceil(M / t.bm) * Math.ceil(N / t.bn);
  const large = MATMUL_TILES[tuning.large]!;
  if (plain && bytes !== undefined && tuning.transposeBytes > 0 && count(large) >= tuning.fill &&
      Math.min(bytes.a, bytes.b) <= tuning.transposeBytes) {
    return {tile: large, splitK: 1, copy: bytes.a <= bytes.b ? 'a' : 'b'};
  }
  let tile = MATMUL_TILES[plain ? tuning.plain : tuning.large]!;
  if (count(tile) < tuning.fill) tile = MATMUL_TILES[tuning.small]!;
  let splitK = 1;
  const n = count(tile);
  if (n < tuning.fill && K >= 2048) {
    splitK = Math.max(1, Math.min(tuning.maxSplitK, Math.ceil(tuning.fill / n), Math.floor(K / 512)));
  }
  return {tile, splitK, copy: null};
}

interface KernelArgs {
  inputs: {a?: tf.TensorInfo; b?: tf.TensorInfo};
  backend: unknown;
  attrs?: {transposeA?: boolean; transposeB?: boolean};
}

let previous: tf.KernelConfig | null = null;

const sizeOf = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** The product on the GPU, or null where the kernel does not serve these inputs. */
function run(backend: WebGPUDirectBackend, a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean):
    tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const N = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const Kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  if (K !== Kb || M < 32 || N < 32 || K < 1) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  if (batchA === batchB && batchA > 1 && outerA.join() !== outerB.join()) return null;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = Math.max(batchA, batchB);
  const {tile, splitK, copy} = chooseMatmulPlan(batch, M, N, K, !transA && !transB, {a: 4 * batchA * M * K, b: 4 * batchB * K * N});
  const device = backend.device;
  if (tileWorkgroupBytes(tile) > (device.limits?.maxComputeWorkgroupStorageSize ?? 16384)) return null;
  if (Math.ceil(M / tile.bm) > 65535 || Math.ceil(N / tile.bn) > 65535 || batch * splitK > 65535) return null;
  if (copy !== null && Math.max(M, N, K) > 16 * 65535) return null; // the transpose's workgroup grid
  const bufs = gpuBuffersOf(backend, [a, b]);
  if (bufs === null || bufs.some((x) => x.type !== 'f32')) return null;
  const tA = transA || copy === 'a';
  const tB = transB || copy === 'b';
  const config: MatmulShaderConfig = {...tile, transA: tA, transB: tB, vecA: (tA ? M : K) % 4 === 0,
    vecB: (tB ? K : N) % 4 === 0, vecC: N % 4 === 0};
  const kinds = ['uniform', 'read', 'read', 'rw'] as const;
  const pipeline = pipelineFor(device, matmulShaderKey(config), [...kinds], () => matmulShader(config));
  const out = newOutput(backend, [...outer, M, N]);
  const dispatches: Dispatch[] = [];
  let [bufA, bufB] = [bufs[0]!.buffer, bufs[1]!.buffer];
  if (copy !== null) {
    // [batch, R, C] -> [batch, C, R] into a device-owned scratch buffer (dispatches of one pass run in order).
    const [R, C, count] = copy === 'a' ? [M, K, batchA] : [K, N, batchB];
    const scratch = scratchBuffer(device, 'matmulTranspose', 2 ** Math.ceil(Math.log2(4 * count * R * C)));
    const kindsT = ['uniform', 'read', 'rw'] as const;
    dispatches.push({pipeline: pipelineFor(device, 'matmulTranspose', [...kindsT], transposeShader),
      workgroups: [Math.ceil(C / 16), Math.ceil(R / 16), count],
      bindGroup: bindGroupFor(device, layoutFor(device, [...kindsT]), [uniformBuffer(device, [R, C, 0, 0], []),
        copy === 'a' ? bufA : bufB, scratch])});
    if (copy === 'a') bufA = scratch; else bufB = scratch;
  }
  const kChunk = Math.ceil(Math.ceil(K / splitK) / tile.bk) * tile.bk;
  const parts = Math.ceil(K / kChunk);
  const uniform = uniformBuffer(device, [M, N, K, batchA, batchB, parts, kChunk, 0], []);
  const workgroups: [number, number, number] = [Math.ceil(N / tile.bn), Math.ceil(M / tile.bm), batch * parts];
  if (parts === 1) {
    dispatches.push({pipeline, workgroups,
      bindGroup: bindGroupFor(device, layoutFor(device, [...kinds]), [uniform, bufA, bufB, out.buffer])});
  } else {
    // Partial products in a device-owned scratch buffer (dispatches of one pass run in order).
    const bytes = 4 * batch * parts * M * N;
    const scratch = scratchBuffer(device, 'matmulSplitK', 2 ** Math.ceil(Math.log2(bytes)));
    dispatches.push({pipeline, workgroups,
      bindGroup: bindGroupFor(device, layoutFor(device, [...kinds]), [uniform, bufA, bufB, scratch])});
    const vec = (M * N) % 4 === 0;
    const count = (batch * M * N) / (vec ? 4 : 1);
    const reduce = pipelineFor(device, `matmulSplitKReduce:${+vec}`, ['uniform', 'read', 'rw'], () => splitKReduceShader(vec));
    const groups = Math.ceil(count / 256);
    const gx = Math.min(groups, 65535);
    dispatches.push({pipeline: reduce, workgroups: [gx, Math.ceil(groups / gx)],
      bindGroup: bindGroupFor(device, layoutFor(device, ['uniform', 'read', 'rw']),
          [uniformBuffer(device, [count, parts, batch, 0], []), scratch, out.buffer])});
  }
  recordDispatches(backend, [a, b, out.info], dispatches);
  return out.info;
}

function batchMatMul(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const {a, b} = args.inputs;
  const backend = args.backend;
  if (a !== undefined && b !== undefined && isWebGPUDirectBackend(backend)) {
    const out = run(backend, a, b, args.attrs?.transposeA === true, args.attrs?.transposeB === true);
    if (out !== null) return out;
  }
  return previous!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
}

/**
 * Registers tfjs-grpo's tiled WGSL float32 matmul as the `BatchMatMul` kernel of the `webgpu`
 * backend, in place of tfjs's own (kept for the shapes it does not serve and restored by
 * {@link unregisterWebGPUMatmul}). Every `tf.matMul` on webgpu then runs it, forward and backward.
 * The training steps, {@link completionForward} and the policies call this themselves when the
 * active backend is `webgpu`, so a user only calls it to speed up their own model before those run.
 *
 * Each workgroup computes a 128 x 128 (or, for plain A B and small outputs, 64 x 128) tile of C with
 * 8 x 8 (4 x 8) accumulators per thread in registers, staging K-steps of A and B in workgroup memory;
 * products with few output tiles and a long K are split along K and summed by a second dispatch. A
 * large A B with neither operand transposed first copies its smaller operand (up to 64 MiB) into its
 * transpose, since the tile reads a transposed operand faster (36 against 24 TFLOP/s at n = 2048 on
 * an H200, the copy included). Results equal
 * `sum_k A[m,k] B[k,n]` in float32 with fused multiply-adds (summation order differs from tfjs's
 * kernel, so results differ in the last bits).
 *
 * @returns true when the kernel is registered (the `webgpu` backend's kernels are loaded, i.e.
 *   `@tensorflow/tfjs-backend-webgpu` was imported); false otherwise (nothing changes).
 * @example
 * // after: import '@tensorflow/tfjs-backend-webgpu'; await tf.setBackend('webgpu');
 * registerWebGPUMatmul(); // false unless the webgpu backend package is loaded
 * unregisterWebGPUMatmul();
 */
export function registerWebGPUMatmul(): boolean {
  const current = tf.getKernel('BatchMatMul', 'webgpu');
  if (current === undefined) return false;
  if (current.kernelFunc === (batchMatMul as unknown as tf.KernelFunc)) return true;
  previous = current;
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel({...current, kernelFunc: batchMatMul as unknown as tf.KernelFunc});
  return true;
}

/**
 * Restores the `BatchMatMul` kernel that {@link registerWebGPUMatmul} replaced (no-op when it is not
 * registered).
 * @returns true when a kernel was restored.
 * @example
 * unregisterWebGPUMatmul(); // false: nothing was registered
 */
export function unregisterWebGPUMatmul(): boolean {
  const current = tf.getKernel('BatchMatMul', 'webgpu');
  if (current === undefined || previous === null || current.kernelFunc !== (batchMatMul as unknown as tf.KernelFunc)) return false;
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel(previous);
  previous = null;
  return true;
}

/** @internal Whether the WGSL matmul is the webgpu backend's registered `BatchMatMul`. */
export function isWebGPUMatmulRegistered(): boolean {
  return tf.getKernel('BatchMatMul', 'webgpu')?.kernelFunc === (batchMatMul as unknown as tf.KernelFunc);
}

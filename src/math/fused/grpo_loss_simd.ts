/**
 * The fused GRPO loss through a WebAssembly SIMD kernel (`grpo_loss_simd.wat`, embedded as base64 in
 * `grpo_loss_simd_module.ts`): four tokens per instruction in float32, the loss accumulated in
 * float64. The kernel module is compiled synchronously on first use (2.6 kB, under the browsers'
 * 4 kB limit for synchronous compilation on the main thread). Where WebAssembly or its SIMD
 * proposal is unavailable, or for GSPO's sequence ratio, the caller falls back to the JavaScript loop
 * (`grpoLossCpuKernel`), which gives the same results to float32 tolerance.
 *
 * Data flow: the inputs are copied into the module's memory as rows padded to a multiple of 8 tokens
 * (the padding masked out), JavaScript computes the aggregation weight of every row from the mask
 * counts (counted by the kernel), the kernel computes the loss and d loss / d logProbs, and the
 * gradient is copied out. The copies cost about 0.2 ns per byte, a small part of the step.
 * @module
 */
import {type GrpoLossArrays, rowWeights} from './grpo_loss_cpu_kernel.js';
import type {ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';
import {GRPO_LOSS_SIMD_WASM_BASE64} from './grpo_loss_simd_module.js';

/** The parts of the WebAssembly JS API used here (the project's `lib` has no DOM typings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => {exports: unknown};
}

interface SimdExports {
  memory: {buffer: ArrayBuffer; grow(pages: number): number};
  row_counts(mask: number, batch: number, stride: number, out: number): void;
  grpo_loss(lp: number, old: number, ref: number, adv: number, mask: number, grad: number, scratch: number, weights: number,
      batch: number, stride: number, flags: number, lo: number, hi: number, dual: number, beta: number,
      est: number, roll: number, tisScratch: number, tisCap: number, status: number): number;
}

const KL_CODE = {k1: 0, k2: 1, k3: 2, abs: 3} as const;
const PAGE = 65536;
const MAX_BYTES = 2 ** 31 - PAGE;

/** undefined: not tried yet; null: unavailable here (no WebAssembly or no SIMD). */
let instance: SimdExports | null | undefined;
let enabled = true;

function kernel(): SimdExports | null {
  if (instance === undefined) {
    instance = null;
    try {
      const wasm = (globalThis as {WebAssembly?: WasmApi}).WebAssembly;
      if (wasm === undefined) return null;
      const bytes = decodeBase64(GRPO_LOSS_SIMD_WASM_BASE64);
      // Throws a CompileError where SIMD is not supported.
      const module = new wasm.Module(bytes);
      instance = new wasm.Instance(module, {}).exports as SimdExports;
    } catch {
      instance = null;
    }
  }
  return instance;
}

function decodeBase64(s: string): Uint8Array {
  const binary = atob(s);
  const bytes = new Uint8Array(binary.length);
  for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
  return bytes;
}

/**
 * @internal Whether the WebAssembly SIMD kernel can run here (WebAssembly with SIMD, and not switched
 * off with {@link setGrpoLossSimdEnabled}).
 */
export function grpoLossSimdAvailable(): boolean {
  return enabled && kernel() !== null;
}

/**
 * @internal Switches the WebAssembly SIMD kernel on or off (tests of the JavaScript fallback, and
 * benchmarks); returns the previous setting.
 */
export function setGrpoLossSimdEnabled(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/**
 * @internal The GRPO loss of `x` under `c` by the SIMD kernel, and d loss / d logProbs (`[batch *
 * time]`, a new array) when `withGrad`. Returns null when the kernel cannot serve this call (SIMD
 * unavailable or switched off, or GSPO's sequence ratio): the caller then runs the JavaScript loop.
 * `bad`: a value check failed (only when `x.checkValues`); the caller names the value.
 */
export function grpoLossSimdKernel(x: GrpoLossArrays, c: ResolvedGrpoLossOptions, withGrad: boolean):
    {loss: number; grad: Float32Array | null; bad: boolean} | null {
  if (!enabled) return null;
  const old = x.oldLogProbs;
  if (c.ratioLevel === 'sequence' && old !== undefined) return null;
  const k = kernel();
  if (k === null) return null;
  const {batch, time} = x;
  const ref = c.beta !== 0 ? x.refLogProbs : undefined;
  const roll = c.tisCap !== undefined ? x.rolloutLogProbs : undefined;
  const check = x.checkValues === true;
  if (check && !x.advantagesPerToken) {
    // [batch] advantages: every one finite (checked here, once per row)
    for (let i = 0; i < batch; i++) if (!Number.isFinite(x.advantages[i]!)) return {loss: NaN, grad: null, bad: true};
  }
  const stride = (time + 7) & ~7;
  const n = batch * stride;
  // Layout (byte offsets, 16-aligned): lp, old, ref, adv, mask, grad, roll: [batch, stride] float32 each;
  // weights: [batch] float64; counts: [batch] int32; scratch, tisScratch: [stride] float32 (k3's and
  // TIS's exponentials of a row); status: int32.
  const block = n * 4;
  const lpAt = 0;
  const oldAt = block;
  const refAt = 2 * block;
  const advAt = 3 * block;
  const maskAt = 4 * block;
  const gradAt = 5 * block;
  const rollAt = 6 * block;
  const weightsAt = 7 * block;
  const countsAt = weightsAt + ((batch * 8 + 15) & ~15);
  const scratchAt = countsAt + ((batch * 4 + 15) & ~15);
  const tisScratchAt = scratchAt + stride * 4;
  const statusAt = tisScratchAt + stride * 4;
  const bytes = statusAt + 16;
  const memory = k.memory;
  // Past 2 GiB (offsets must stay positive int32s) the JavaScript loop runs.
  if (bytes > MAX_BYTES) return null;
  if (memory.buffer.byteLength < bytes) {
    // The module keeps its largest size (it never shrinks).
    try {
      memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
    } catch {
      return null;
    }
  }
  const heap = new Float32Array(memory.buffer);

  const put = (src: GrpoLossArrays['logProbs'], at: number, zeroPadding: boolean): void => {
    const o = at >> 2;
    if (stride === time) {
      heap.set(src, o); // converts int32 / bool masks to float32 element-wise
      return;
    }
    for (let i = 0; i < batch; i++) {
      heap.set(src.subarray(i * time, (i + 1) * time), o + i * stride);
      if (zeroPadding) heap.fill(0, o + i * stride + time, o + (i + 1) * stride);
    }
  };
  put(x.logProbs, lpAt, false);
  if (old !== undefined) put(old, oldAt, false);
  if (ref !== undefined) put(ref, refAt, false);
  if (roll !== undefined) put(roll, rollAt, false);
  if (x.advantagesPerToken) put(x.advantages, advAt, false);
  else heap.set(x.advantages, advAt >> 2);
  put(x.mask, maskAt, true);

  // Aggregation weights, as grpoLossCpuKernel: the divisor of the batch sum is the token count
  // (token-mean) or the number of non-empty rows (seq-mean-*), unless `normalizer` is given.
  const needCounts = c.normalizer === undefined || c.aggregation === 'seq-mean-token-mean';
  let counts: Int32Array | null = null;
  if (needCounts) {
    k.row_counts(maskAt, batch, stride, countsAt);
    counts = new Int32Array(memory.buffer, countsAt, batch);
  }
  const {globalScale, seqMeanTokenMean} = rowWeights(batch, time, c, (i) => counts![i]!);
  const weights = new Float64Array(memory.buffer, weightsAt, batch);
  for (let i = 0; i < batch; i++) weights[i] = seqMeanTokenMean ? globalScale / Math.max(counts![i]!, 1) : globalScale;

  const flags = (old !== undefined ? 1 : 0) | (ref !== undefined ? 2 : 0) | (c.dualClip !== undefined ? 4 : 0) |
      (x.advantagesPerToken ? 8 : 0) | (withGrad ? 16 : 0) | (check ? 32 : 0) | (roll !== undefined ? 64 : 0);
  const loss = k.grpo_loss(lpAt, oldAt, refAt, advAt, maskAt, gradAt, scratchAt, weightsAt, batch, stride, flags,
      1 - c.clipLow, 1 + c.clipHigh, c.dualClip ?? 0, c.beta, KL_CODE[c.klEstimator], rollAt, tisScratchAt,
      c.tisCap ?? Infinity, statusAt);
  const bad = check && new Int32Array(memory.buffer, statusAt, 1)[0] !== 0;
  if (!withGrad || bad) return {loss, grad: null, bad};
  const g = gradAt >> 2;
  if (stride === time) return {loss, grad: heap.slice(g, g + n), bad};
  const grad = new Float32Array(batch * time);
  for (let i = 0; i < batch; i++) grad.set(heap.subarray(g + i * stride, g + i * stride + time), i * time);
  return {loss, grad, bad};
}

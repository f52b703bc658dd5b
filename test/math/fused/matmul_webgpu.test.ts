import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {describe, expect, it} from 'vitest';
import {
  chooseMatmulPlan, DEFAULT_TRANSPOSE_BYTES, MATMUL_TILES, registerWebGPUMatmul, setWebGPUMatmulTuning, tileWorkgroupBytes, unregisterWebGPUMatmul,
} from '../../../src/math/fused/matmul_webgpu.js';
import {ensureWebGPUFastPaths} from '../../../src/math/fused/webgpu_fast_paths.js';
import {matmulShader, matmulShaderKey, matmulThreads} from '../../../src/math/fused/matmul_wgsl.js';

describe('webgpu matmul (no GPU: plan, shader text, registration)', () => {
  it('registers over the webgpu BatchMatMul and restores it; does nothing without the webgpu kernels', () => {
    const before = tf.getKernel('BatchMatMul', 'webgpu');
    if (before === undefined) {
      expect(registerWebGPUMatmul()).toBe(false);
      expect(unregisterWebGPUMatmul()).toBe(false);
      ensureWebGPUFastPaths(); // active backend cpu: no-op
      expect(tf.getKernel('BatchMatMul', 'webgpu')).toBeUndefined();
      return;
    }
    // Another test file loaded @tensorflow/tfjs-backend-webgpu in this worker.
    expect(registerWebGPUMatmul()).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'webgpu')!.kernelFunc).not.toBe(before.kernelFunc);
    expect(registerWebGPUMatmul()).toBe(true); // idempotent
    expect(unregisterWebGPUMatmul()).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'webgpu')!.kernelFunc).toBe(before.kernelFunc);
    expect(unregisterWebGPUMatmul()).toBe(false);
  });

  it('uses the large tile for big transposed products, the plain tile for A B, split-K for few tiles with a long K', () => {
    expect(chooseMatmulPlan(1, 4096, 4096, 4096)).toEqual({tile: MATMUL_TILES['128x128x16'], splitK: 1, copy: null});
    expect(chooseMatmulPlan(1, 4096, 4096, 4096, true).tile).toBe(MATMUL_TILES['64x128x16']); // no sizes: no copy
    // dX of the lm_head of a Qwen2 step: 1024 x 896 outputs, K = 151936.
    const lm = chooseMatmulPlan(1, 1024, 896, 151936);
    expect(lm.tile).toBe(MATMUL_TILES['64x128x16']);
    expect(lm.splitK).toBeGreaterThan(1);
    expect(chooseMatmulPlan(1, 1024, 896, 512).splitK).toBe(1); // short K: no split
  });

  it('every tile splits its A and B loads evenly over its threads (vec4 and scalar) and fits 32 KiB of workgroup memory', () => {
    for (const [name, t] of Object.entries(MATMUL_TILES)) {
      const threads = matmulThreads({...t, transA: false, transB: false, vecA: true, vecB: true, vecC: true});
      for (const outer of [t.bm, t.bn]) {
        expect(Number.isInteger((outer * t.bk) / 4 / threads) && (outer * t.bk) / 4 >= threads, `${name} vec4 loads`).toBe(true);
        expect(Number.isInteger((outer * t.bk) / threads), `${name} scalar loads`).toBe(true);
      }
      expect(tileWorkgroupBytes(t)).toBeLessThanOrEqual(32768);
    }
    expect(tileWorkgroupBytes(MATMUL_TILES['128x128x16']!)).toBe(16384);
  });

  it('plain A B takes the transposed copy of the smaller operand only when enabled, for large outputs within transposeBytes', () => {
    const prev = setWebGPUMatmulTuning({transposeBytes: 64 * 2 ** 20});
    try {
      const mb = (n: number) => n * 2 ** 20;
      expect(chooseMatmulPlan(1, 2048, 2048, 2048, true, {a: mb(16), b: mb(16)})).toEqual({tile: MATMUL_TILES['128x128x16'], splitK: 1, copy: 'a'});
      expect(chooseMatmulPlan(1, 2048, 1024, 4096, true, {a: mb(32), b: mb(16)}).copy).toBe('b');
      expect(chooseMatmulPlan(1, 2048, 2048, 2048, false, {a: mb(16), b: mb(16)}).copy).toBeNull(); // transposed: no copy
      expect(chooseMatmulPlan(1, 1024, 151936, 896, true, {a: mb(100), b: mb(544)}).copy).toBeNull(); // both too large
      expect(chooseMatmulPlan(1, 256, 256, 4096, true, {a: mb(4), b: mb(4)}).copy).toBeNull(); // 4 tiles: split-K instead
      setWebGPUMatmulTuning({transposeBytes: 0});
      expect(chooseMatmulPlan(1, 2048, 2048, 2048, true, {a: mb(16), b: mb(16)}).copy).toBeNull();
      expect(prev.transposeBytes).toBe(DEFAULT_TRANSPOSE_BYTES); // on by default: n = 4096 squares copy, 8192 do not
      setWebGPUMatmulTuning(prev);
      expect(chooseMatmulPlan(1, 4096, 4096, 4096, true, {a: mb(64), b: mb(64)}).copy).toBe('a');
      expect(chooseMatmulPlan(1, 8192, 8192, 8192, true, {a: mb(256), b: mb(256)}).copy).toBeNull();
    } finally {
      setWebGPUMatmulTuning(prev);
    }
  });

  it('rejects unknown tiles by name', () => {
    expect(() => setWebGPUMatmulTuning({large: '7x7'})).toThrow(/unknown tile '7x7'/);
  });

  it('generates one shader per layout with 256 threads and fully unrolled accumulators', () => {
    const base = {...MATMUL_TILES['128x128x16']!, transA: false, transB: true, vecA: true, vecB: true, vecC: true};
    expect(matmulThreads(base)).toBe(256);
    const code = matmulShader(base);
    expect(code).toContain('@workgroup_size(16, 16, 1)');
    expect((code.match(/var c\d+_\d+_\d+ = vec4<f32>\(0.0\);/g) ?? []).length).toBe(16); // 8x8 per thread
    expect((code.match(/fma\(/g) ?? []).length).toBe(16 * 16); // bk = 16 steps of 16 vec4 FMAs
    expect(matmulShaderKey(base)).not.toBe(matmulShaderKey({...base, transB: false}));
    expect(matmulShader({...base, vecC: false})).toContain('if (n + 3u < N)');
  });
});

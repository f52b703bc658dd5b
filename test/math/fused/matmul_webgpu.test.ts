import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {describe, expect, it} from 'vitest';
import {
  chooseMatmulPlan, MATMUL_TILES, registerWebGPUMatmul, setWebGPUMatmulTuning, unregisterWebGPUMatmul,
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
    expect(chooseMatmulPlan(1, 4096, 4096, 4096)).toEqual({tile: MATMUL_TILES['128x128x16'], splitK: 1});
    expect(chooseMatmulPlan(1, 4096, 4096, 4096, true).tile).toBe(MATMUL_TILES['64x128x16']);
    // dX of the lm_head of a Qwen2 step: 1024 x 896 outputs, K = 151936.
    const lm = chooseMatmulPlan(1, 1024, 896, 151936);
    expect(lm.tile).toBe(MATMUL_TILES['64x128x16']);
    expect(lm.splitK).toBeGreaterThan(1);
    expect(chooseMatmulPlan(1, 1024, 896, 512).splitK).toBe(1); // short K: no split
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

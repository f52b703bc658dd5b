// The fused webgpu kernels of the optimizer step (gradient norms: sum_squares_webgpu.ts, Adam:
// adam_webgpu.ts) are compared with tfjs's path on a GPU by bench/webgpu_check_adam.ts. Here, without
// a GPU: they decline every backend but a direct webgpu one, allocating nothing, and the layout of
// the partial sums gives every tensor an aligned range of its own, each group one contiguous range.
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {adamUpdateWebGPU} from '../../../src/math/fused/adam_webgpu.js';
import {clipFactorsWebGPU, PARTIALS_ALIGN, SUM_SQUARES_CHUNK, sumSquaresLayout} from '../../../src/math/fused/sum_squares_webgpu.js';

describe('fused webgpu optimizer kernels', () => {
  it('decline a non-webgpu backend and allocate nothing', () => {
    const g = tf.tensor1d([3, 4]);
    const s = tf.scalar(0.9);
    const before = tf.memory().numTensors;
    expect(clipFactorsWebGPU([[g]], 1)).toBeNull();
    expect(adamUpdateWebGPU.available()).toBe(false);
    expect(adamUpdateWebGPU.update([{param: g, grad: g, firstMoment: g, secondMoment: g, group: 0}], g as tf.Tensor1D, s, s,
        {learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7})).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([g, s]);
  });

  it('lays out the partial sums: ceil(size / chunk) rows per tensor, padded to the alignment, groups contiguous', () => {
    expect(SUM_SQUARES_CHUNK).toBe(8192);
    expect(PARTIALS_ALIGN * 4).toBe(256); // bytes: WebGPU's minStorageBufferOffsetAlignment
    // 10 -> 1 row, 8192 -> 1, 8193 -> 2, 64 * 8192 + 1 -> 65 rows (padded to 128); an empty group.
    const layout = sumSquaresLayout([[10, 8192, 8193], [], [64 * 8192 + 1]]);
    expect(layout.tensors).toEqual([{offset: 0, rows: 1, paddedRows: 64}, {offset: 64, rows: 1, paddedRows: 64},
      {offset: 128, rows: 2, paddedRows: 64}, {offset: 192, rows: 65, paddedRows: 128}]);
    expect(layout.groups).toEqual([{start: 0, count: 192}, {start: 192, count: 0}, {start: 192, count: 128}]);
    expect(layout.total).toBe(320);
  });

  it('layout property: ranges aligned, disjoint, covering each tensor, each group the union of its tensors', () => {
    const sizes = [[1, 151936 * 896, 896], [4864 * 896, 7], [65536 * 8192 + 5]];
    const layout = sumSquaresLayout(sizes);
    let next = 0;
    let t = 0;
    sizes.forEach((group, k) => {
      expect(layout.groups[k]!.start).toBe(next);
      for (const n of group) {
        const r = layout.tensors[t++]!;
        expect(r.offset).toBe(next);
        expect(r.offset % PARTIALS_ALIGN).toBe(0);
        expect(r.rows * SUM_SQUARES_CHUNK).toBeGreaterThanOrEqual(n);
        expect((r.rows - 1) * SUM_SQUARES_CHUNK).toBeLessThan(n);
        expect(r.paddedRows % PARTIALS_ALIGN).toBe(0);
        expect(r.paddedRows - r.rows).toBeLessThan(PARTIALS_ALIGN);
        next += r.paddedRows;
      }
      expect(layout.groups[k]!.start + layout.groups[k]!.count).toBe(next);
    });
    expect(layout.total).toBe(next);
  });
});

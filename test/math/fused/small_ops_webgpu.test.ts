// The small fused webgpu kernels (clippedPolicyLoss, klPenalty, aggregateLoss, groupAdvantages, the
// masked statistics) are compared with the composed ops on a GPU by bench/webgpu_check_ops.ts. Here,
// without a GPU: their entry points decline every backend but a direct webgpu one (so the composed
// ops run, unchanged), and the workgroup grid covers more rows than one grid dimension holds.
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {aggregateLossWebGPU} from '../../../src/math/fused/aggregate_loss_webgpu.js';
import {clippedPolicyLossWebGPU} from '../../../src/math/fused/clipped_policy_loss_webgpu.js';
import {groupAdvantagesWebGPU} from '../../../src/math/fused/group_advantages_webgpu.js';
import {klPenaltyWebGPU} from '../../../src/math/fused/kl_penalty_webgpu.js';
import {maskedStatWebGPU} from '../../../src/math/fused/masked_stats_webgpu.js';
import {rowGrid} from '../../../src/math/fused/row_kernel_webgpu.js';

describe('small fused webgpu kernels', () => {
  it('decline a non-webgpu backend and allocate nothing', () => {
    const x = tf.tensor2d([[-1, -2], [-0.5, -0.1]]);
    const m = tf.tensor2d([[1, 0], [1, 1]]);
    const a = tf.tensor1d([1, -1]);
    const before = tf.memory().numTensors;
    expect(clippedPolicyLossWebGPU({logProbs: x, oldLogProbs: x, advantages: a, mask: m},
        {clipLow: 0.2, clipHigh: 0.2, dualClip: undefined, ratioLevel: 'token'})).toBeNull();
    expect(klPenaltyWebGPU(x, x, {estimator: 'k3'})).toBeNull();
    expect(aggregateLossWebGPU(x, m, 'token-mean', 2, undefined)).toBeNull();
    expect(groupAdvantagesWebGPU(a, 2, {scale: 'group', std: 'unbiased', epsilon: 1e-4})).toBeNull();
    for (const stat of ['sum', 'mean', 'rowSum', 'rowMean', 'variance', 'whiten'] as const) {
      expect(maskedStatWebGPU('maskedMean', x, m, stat)).toBeNull();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, m, a]);
  });

  it('rowGrid spreads rows over x then y, covering every row', () => {
    expect(rowGrid(0)).toEqual([1, 1]);
    expect(rowGrid(65535)).toEqual([65535, 1]);
    const [gx, gy] = rowGrid(70000);
    expect(gx).toBe(65535);
    expect(gx * gy).toBeGreaterThanOrEqual(70000);
  });
});

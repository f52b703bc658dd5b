// The fused webgpu distillationLoss kernels are compared with the composed ops on a GPU by
// bench/webgpu_check_distill.ts (part of bench/webgpu_check.ts). Here, without a GPU: the entry point
// declines every backend but a direct webgpu one and allocates nothing, so distillationLoss runs its
// composed ops unchanged.
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {distillationLoss} from '../../../src/math/distillation_loss.js';
import {distillationLossWebGPU, setDistillationWebGPU} from '../../../src/math/fused/distillation_webgpu.js';

describe('fused webgpu distillationLoss', () => {
  it('declines a non-webgpu backend and allocates nothing', () => {
    const s = tf.tensor3d([[[0, 1], [2, 0]]]);
    const t = tf.tensor3d([[[1, 0], [0, 0]]]);
    const m = tf.tensor2d([[1, 1]]);
    const before = tf.memory().numTensors;
    for (const divergence of ['jsd', 'forward-kl', 'reverse-kl'] as const) {
      expect(distillationLossWebGPU(s, t, m, {divergence, beta: 0.5, temperature: 1})).toBeNull();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([s, t, m]);
  });

  it('leaves the composed path as it was, switched on or off', async () => {
    const s = tf.tensor3d([[[0, 0], [1, 0]]]);
    const t = tf.tensor3d([[[0, 0], [0, 1]]]);
    const m = tf.tensor2d([[1, 1]]);
    const expected = (0 + (1 - 2 / (1 + Math.exp(-1))) * -1) / 2; // the doc example: 0.231
    for (const on of [true, false]) {
      setDistillationWebGPU(on);
      const y = distillationLoss({studentLogits: s, teacherLogits: t, mask: m}, {divergence: 'forward-kl'});
      expect((await y.data())[0]).toBeCloseTo(expected, 6);
      y.dispose();
    }
    setDistillationWebGPU(true);
    tf.dispose([s, t, m]);
  });
});

// Smoke test of the demo's and the RL benchmark's experiment (examples/grpo_vs_ppo.ts) at a toy size.
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {coldStart, type ExperimentConfig, makeTask, trainRl} from '../../examples/grpo_vs_ppo.js';

const config: ExperimentConfig = {
  seed: 0, model: 'tiny', task: 'sort', digits: 2, demos: 16, sftSteps: 2, sftBatch: 4, sftLr: 3e-3, steps: 2, batchSize: 8, groupSize: 4,
  mu: 1, lr: 3e-4, beta: 0.04, temperature: 0.7, formatWeight: 0, critic: 'separate', evalSize: 4, evalEvery: 2,
};

describe('grpo_vs_ppo experiment', () => {
  it('cold start then GRPO and PPO report time, memory, params and accuracy, and leak nothing', async () => {
    const task = makeTask(config);
    expect(task.problemsAt(1)).toHaveLength(2);
    expect(task.problemsAt(2)[0]!.prompt).not.toBe(task.problemsAt(1)[0]!.prompt);
    const before = tf.memory().numTensors;
    const policy0 = await coldStart(task, config);
    const cold = await task.evaluate(policy0);
    for (const method of ['grpo', 'ppo'] as const) {
      const policy = policy0.copy({trainable: true});
      const r = await trainRl(method, policy, task, config, cold);
      policy.dispose();
      expect(r.records).toHaveLength(2);
      expect(r.records[1]!.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.peakBytes).toBeGreaterThan(0);
      // GRPO: policy + frozen reference; PPO adds a critic trunk of the same size and a head.
      const n = policy0.numParams();
      expect(r.paramsInMemory).toBe(method === 'grpo' ? 2 * n : 3 * n + policy0.config.width + 1);
    }
    policy0.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

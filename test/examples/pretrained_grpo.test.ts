import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {digitReward, runPretrainedGrpo} from '../../examples/pretrained_grpo.js';

describe('examples/pretrained_grpo', () => {
  it('loads the Qwen2 fixture with its tokenizer and GRPO raises the probability of digits', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const {rewards, digitMassBefore, digitMassAfter} = await runPretrainedGrpo({steps: 2, groupSize: 4, learningRate: 1e-2, log: (l) => lines.push(l)});
    expect(lines[0]).toBe('Qwen2ForCausalLM: 94784 parameters, vocabulary 320');
    expect(rewards).toHaveLength(2);
    expect(rewards.every((r) => r >= 0 && r <= 1)).toBe(true);
    // The reward's gradient pushes the first completion token towards digits (0.058 at the start).
    expect(digitMassBefore).toBeCloseTo(0.0578, 3);
    expect(digitMassAfter).toBeGreaterThan(1.25 * digitMassBefore); // 0.0837 after 2 steps (lr 0: unchanged)
    // tf.train.adam keeps one tensor after dispose() (tfjs 4.22)
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 1);
  });

  it('digitReward: fraction of digit characters', () => {
    const s = (completion: string) => ({prompt: '', completion, reference: '', groupId: 0});
    expect(digitReward([s('a1b2'), s(''), s('123')])).toEqual([0.5, 0, 1]);
  });
});

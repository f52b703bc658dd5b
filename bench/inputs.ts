// Inputs shared by the benchmark cases (bench/cases.ts, bench/more_cases.ts).
import * as tf from '@tensorflow/tfjs-core';

/** One measurable workload on the active backend. */
export interface BenchCase {
  /** Display name, e.g. `grpoLoss fwd+bwd (fused)`. */
  name: string;
  /** Key of the PyTorch twin in torch_reference.py, or null. */
  ref: string | null;
  /** Named sizes, e.g. {B: 256, T: 2048}. */
  shape: Record<string, number>;
  /** Tokens processed (B * T) for the tokens/s column. */
  tokens: number;
  /** Minimal bytes read + written (inputs once, outputs once) for the effective GB/s column. */
  bytes: number;
  /** Steps per timed run (the median is divided by it); default 1. */
  stepsPerRun?: number;
  /** Creates the inputs; returns the step to time (returns tensors to sync and dispose) and a disposer. */
  setup: () => {step: () => tf.Tensor[]; readScalar: boolean; dispose: () => void};
}

export interface Shape2 { B: number; T: number }
export interface LogProbShape { B: number; T: number; V: number; H: number }

export const F32 = 4;

/**
 * RL-like inputs: log-probs in [-3, -0.3]; old and reference log-probs within 0.3 of them (all <= 0: ratios in
 * [0.74, 1.35], so both clip sides are hit but most tokens are not clipped); 90 % of tokens unmasked.
 * torch_reference.py draws the same distributions.
 */
export function lossInputs({B, T}: Shape2) {
  return tf.tidy(() => {
    const logProbs = tf.randomUniform([B, T], -3, -0.3, 'float32', 1) as tf.Tensor2D;
    return {
      logProbs,
      oldLogProbs: tf.add(logProbs, tf.randomUniform([B, T], -0.3, 0.3, 'float32', 2)) as tf.Tensor2D,
      refLogProbs: tf.add(logProbs, tf.randomUniform([B, T], -0.3, 0.3, 'float32', 3)) as tf.Tensor2D,
      advantages: tf.randomNormal([B], 0, 1, 'float32', 4) as tf.Tensor1D,
      mask: tf.cast(tf.greater(tf.randomUniform([B, T], 0, 1, 'float32', 5), 0.1), 'float32') as tf.Tensor2D,
    };
  });
}


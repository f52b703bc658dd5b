// Benchmark cases of the small ops that have fused webgpu kernels (clippedPolicyLoss, klPenalty,
// aggregateLoss, groupAdvantages, the masked statistics): the gradient cases (fwd+bwd w.r.t.
// logProbs / perToken, as a training step runs them), each with its PyTorch twin in
// bench/torch_reference.py, and on webgpu a '(composed)' twin of every small-op case with the fused
// kernels switched off, so one run shows fused, composed and PyTorch side by side.
// Only these cases: npm run bench -- --backends webgpu --filter '^(clippedPolicyLoss|groupAdvantages|klPenalty|aggregateLoss|masked|whiten)'
import * as tf from '@tensorflow/tfjs-core';
import {aggregateLoss, clippedPolicyLoss, klPenalty} from '../src/index.js';
import {setSmallOpsWebGPU} from '../src/math/fused/small_ops_webgpu_switch.js';
import {type BenchCase, F32, lossInputs, type Shape2} from './inputs.js';

/** Names of the cases (forward ones live in cases.ts / more_cases.ts) that the small fused kernels serve. */
export const SMALL_OP_CASE = /^(clippedPolicyLoss|groupAdvantages|klPenalty|aggregateLoss|masked|whiten)/;

/** fwd+bwd of clippedPolicyLoss, klPenalty k3 and aggregateLoss token-mean at `[B, T]`. */
export function smallOpGradCases(s: Shape2): BenchCase[] {
  const shape = {B: s.B, T: s.T};
  const n = s.B * s.T;
  const grad = (name: string, ref: string, bytes: number, f: (x: ReturnType<typeof lossInputs>, lp: tf.Tensor) => tf.Tensor):
      BenchCase => ({
    name, ref, shape, tokens: n, bytes,
    setup: () => {
      const x = lossInputs(s);
      const g = tf.valueAndGrad((lp: tf.Tensor) => tf.sum(f(x, lp)) as tf.Scalar);
      return {step: () => {
        const {value, grad: dx} = g(x.logProbs);
        return [value, dx];
      }, readScalar: true, dispose: () => tf.dispose(Object.values(x))};
    },
  });
  return [
    grad('clippedPolicyLoss fwd+bwd', 'clipped_policy_loss_fwd_bwd', 5 * n * F32, (x, lp) =>
      clippedPolicyLoss({logProbs: lp as tf.Tensor2D, oldLogProbs: x.oldLogProbs, advantages: x.advantages, mask: x.mask},
          {clipLow: 0.2, clipHigh: 0.28})),
    grad('klPenalty k3 fwd+bwd', 'kl_k3_fwd_bwd', 3 * n * F32, (x, lp) => klPenalty(lp, x.refLogProbs, {estimator: 'k3'})),
    grad('aggregateLoss token-mean fwd+bwd', 'aggregate_loss_fwd_bwd', 3 * n * F32, (x, lp) =>
      aggregateLoss(lp, x.mask, 'token-mean')),
  ];
}

/** `c` with the small fused webgpu kernels switched off during its steps, named `<name> (composed)`. */
export function composedTwin(c: BenchCase): BenchCase {
  return {
    ...c, name: `${c.name} (composed)`,
    setup: () => {
      const inner = c.setup();
      return {...inner, step: () => {
        setSmallOpsWebGPU(false);
        try {
          return inner.step();
        } finally {
          setSmallOpsWebGPU(true);
        }
      }};
    },
  };
}

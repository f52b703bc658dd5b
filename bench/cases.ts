// Benchmark cases: every public tensor function of tfjs-grpo, at shapes from small to large.
// Each case names its PyTorch twin in bench/torch_reference.py (same math, same shapes), or null.
import * as tf from '@tensorflow/tfjs-core';
import {
  clippedPolicyLoss, entropyFromLogits, gae, groupAdvantages, grpoLoss, grpoLossWithStats, klPenalty, linearTokenLogProbs, tokenLogProbs,
} from '../src/index.js';
import {setLogProbsWebGPU} from '../src/math/fused/log_probs_webgpu.js';
import {composedTwin, SMALL_OP_CASE, smallOpGradCases} from './small_op_cases.js';
import {type BenchCase, F32, type LogProbShape, lossInputs, type Shape2} from './inputs.js';
import {advantageExtraCases, elementwiseExtraCases, entropyCases} from './more_cases.js';
import {pipelineLossCases, rewardModelLossCases} from './pipeline_loss_cases.js';

export type {BenchCase, LogProbShape, Shape2} from './inputs.js';

/** The grpoLoss options measured everywhere: clipped loss with a k3 KL term (beta 0.04), token-mean. */
export const GRPO_OPTIONS = {beta: 0.04, klEstimator: 'k3', clipLow: 0.2, clipHigh: 0.28} as const;

function grpoCases(s: Shape2): BenchCase[] {
  const shape = {B: s.B, T: s.T};
  const n = s.B * s.T;
  const cases: BenchCase[] = [];
  for (const implementation of ['fused', 'composed'] as const) {
    cases.push({
      name: `grpoLoss fwd (${implementation})`, ref: 'grpo_loss_fwd', shape, tokens: n, bytes: 4 * n * F32,
      setup: () => {
        const x = lossInputs(s);
        return {
          step: () => [grpoLoss(x, {...GRPO_OPTIONS, implementation})],
          readScalar: true, dispose: () => tf.dispose(Object.values(x)),
        };
      },
    });
    cases.push({
      name: `grpoLoss fwd+bwd (${implementation})`, ref: 'grpo_loss_fwd_bwd', shape, tokens: n, bytes: 5 * n * F32,
      setup: () => {
        const x = lossInputs(s);
        const f = tf.valueAndGrad((lp: tf.Tensor) => grpoLoss({...x, logProbs: lp}, {...GRPO_OPTIONS, implementation}));
        return {
          step: () => {
            const {value, grad} = f(x.logProbs);
            return [value, grad];
          },
          readScalar: true, dispose: () => tf.dispose(Object.values(x)),
        };
      },
    });
  }
  // grpoLossWithStats as grpoStep runs it (the default path): the loss, its gradient and the step's
  // statistics (KL, clip fractions, ratio range), all read back. PyTorch's twin computes the loss only.
  cases.push({
    name: 'grpoLossWithStats fwd+bwd (default)', ref: 'grpo_loss_fwd_bwd', shape, tokens: n, bytes: 5 * n * F32,
    setup: () => {
      const x = lossInputs(s);
      return {
        step: () => {
          let stats: tf.Tensor[] = [];
          const {value, grad} = tf.valueAndGrad((lp: tf.Tensor) => {
            const out = grpoLossWithStats({...x, logProbs: lp}, GRPO_OPTIONS);
            stats = Object.values(out.stats).filter((t): t is tf.Scalar => t !== undefined).map((t) => tf.keep(t));
            return out.loss;
          })(x.logProbs);
          return [tf.stack([value, ...stats]), value, grad, ...stats];
        },
        readScalar: true, dispose: () => tf.dispose(Object.values(x)),
      };
    },
  });
  // The same fused step, finished by waiting for the queue instead of reading the loss back: on webgpu
  // the difference is the read-back latency.
  cases.push({
    name: 'grpoLoss fwd+bwd (fused, no read-back)', ref: 'grpo_loss_fwd_bwd', shape, tokens: n, bytes: 5 * n * F32,
    setup: () => {
      const x = lossInputs(s);
      const f = tf.valueAndGrad((lp: tf.Tensor) => grpoLoss({...x, logProbs: lp}, {...GRPO_OPTIONS, implementation: 'fused'}));
      return {
        step: () => {
          const {value, grad} = f(x.logProbs);
          return [value, grad];
        },
        readScalar: false, dispose: () => tf.dispose(Object.values(x)),
      };
    },
  });
  // Ten fused steps queued back to back and one read-back of the last loss, per step: the cost of a
  // training loop that does not read every loss (on webgpu the read-back latency is paid once).
  const pipelined = 10;
  cases.push({
    name: `grpoLoss fwd+bwd (fused, ${pipelined} steps, 1 read-back)`, ref: 'grpo_loss_fwd_bwd_x10', shape, tokens: n,
    bytes: 5 * n * F32, stepsPerRun: pipelined,
    setup: () => {
      const x = lossInputs(s);
      const f = tf.valueAndGrad((lp: tf.Tensor) => grpoLoss({...x, logProbs: lp}, {...GRPO_OPTIONS, implementation: 'fused'}));
      return {
        step: () => {
          let last: tf.Tensor[] = [];
          for (let k = 0; k < pipelined; k++) {
            tf.dispose(last);
            const {value, grad} = f(x.logProbs);
            last = [value, grad];
          }
          return last;
        },
        readScalar: true, dispose: () => tf.dispose(Object.values(x)),
      };
    },
  });
  return cases;
}

function elementwiseCases(s: Shape2): BenchCase[] {
  const shape = {B: s.B, T: s.T};
  const n = s.B * s.T;
  return [
    {
      name: 'klPenalty k3', ref: 'kl_k3', shape, tokens: n, bytes: 3 * n * F32,
      setup: () => {
        const x = lossInputs(s);
        return {step: () => [klPenalty(x.logProbs, x.refLogProbs, {estimator: 'k3'})], readScalar: false,
          dispose: () => tf.dispose(Object.values(x))};
      },
    },
    {
      name: 'clippedPolicyLoss', ref: 'clipped_policy_loss', shape, tokens: n, bytes: 4 * n * F32,
      setup: () => {
        const x = lossInputs(s);
        const {refLogProbs: _unused, ...policyInputs} = x; // named inputs reject other functions' keys
        return {step: () => [clippedPolicyLoss(policyInputs, {clipLow: 0.2, clipHigh: 0.28})], readScalar: false,
          dispose: () => tf.dispose(Object.values(x))};
      },
    },
    {
      name: 'gae', ref: 'gae', shape, tokens: n, bytes: 5 * n * F32,
      setup: () => {
        const x = lossInputs(s);
        return {
          step: () => {
            const {advantages, returns} = gae({rewards: x.logProbs, values: x.refLogProbs, mask: x.mask}, {gamma: 1, lambda: 0.95});
            return [advantages, returns];
          },
          readScalar: false, dispose: () => tf.dispose(Object.values(x)),
        };
      },
    },
  ];
}

function advantageCases(batch: number): BenchCase[] {
  return [{
    name: 'groupAdvantages', ref: 'group_advantages', shape: {B: batch, G: 16}, tokens: batch, bytes: 2 * batch * F32,
    setup: () => {
      const r = tf.randomUniform([batch], 0, 1, 'float32', 9) as tf.Tensor1D;
      return {step: () => [groupAdvantages(r, {groupSize: 16})], readScalar: false, dispose: () => r.dispose()};
    },
  }];
}

function logProbCases(s: LogProbShape): BenchCase[] {
  const {B, T, V, H} = s;
  const n = B * T;
  const tokens = () => tf.randomUniform([B, T], 0, V, 'int32', 7) as tf.Tensor2D;
  // The naive path: full [B*T, V] log-softmax, token picked by a one-hot product (tf.gather's gradient,
  // unsortedSegmentSum over B*T*V segments, is far slower on the cpu backend).
  const naiveLogProbs = (logits: tf.Tensor3D, tok: tf.Tensor2D) => tf.tidy(() => {
    const lsm = tf.logSoftmax(tf.reshape(logits, [n, V]));
    const onehot = tf.oneHot(tf.reshape(tok, [n]), V, 1, 0, 'float32');
    return tf.reshape(tf.sum(tf.mul(lsm, onehot), 1), [B, T]);
  });
  const cases: BenchCase[] = [];
  // 'default': the public function as a user calls it (on webgpu the fused kernels of
  // src/math/fused/log_probs_webgpu.ts); 'chunked': the chunked tfjs ops (kernels off).
  const withKernels = (on: boolean, f: () => tf.Tensor[]) => () => {
    setLogProbsWebGPU(on);
    try {
      return f();
    } finally {
      setLogProbsWebGPU(true);
    }
  };
  for (const variant of ['default', 'chunked', 'naive'] as const) {
    cases.push({
      name: `tokenLogProbs fwd+bwd (${variant})`, ref: 'token_log_probs_fwd_bwd', shape: {B, T, V}, tokens: n,
      bytes: 2 * n * V * F32,
      setup: () => {
        const logits = tf.randomNormal([B, T, V], 0, 2, 'float32', 6) as tf.Tensor3D;
        const tok = tokens();
        const f = tf.valueAndGrad((x: tf.Tensor) => tf.sum(variant !== 'naive' ?
          tokenLogProbs(x as tf.Tensor3D, tok) : naiveLogProbs(x as tf.Tensor3D, tok)));
        return {
          step: withKernels(variant !== 'chunked', () => {
            const {value, grad} = f(logits);
            return [value, grad];
          }),
          readScalar: true, dispose: () => tf.dispose([logits, tok]),
        };
      },
    });
  }
  for (const variant of ['default', 'chunked'] as const) {
    cases.push({
      name: `entropyFromLogits fwd+bwd (${variant})`, ref: 'entropy_fwd_bwd', shape: {B, T, V}, tokens: n,
      bytes: 2 * n * V * F32,
      setup: () => {
        const logits = tf.randomNormal([B, T, V], 0, 2, 'float32', 6) as tf.Tensor3D;
        const f = tf.valueAndGrad((x: tf.Tensor) => tf.sum(entropyFromLogits(x as tf.Tensor3D)));
        return {
          step: withKernels(variant === 'default', () => {
            const {value, grad} = f(logits);
            return [value, grad];
          }),
          readScalar: true, dispose: () => logits.dispose(),
        };
      },
    });
  }
  for (const variant of ['chunked', 'naive'] as const) {
    cases.push({
      name: `linearTokenLogProbs fwd+bwd (${variant})`, ref: 'linear_token_log_probs_fwd_bwd', shape: {B, T, H, V},
      tokens: n, bytes: (H * V + 2 * n * H + H * V) * F32,
      setup: () => {
        const hidden = tf.randomNormal([B, T, H], 0, 1, 'float32', 11) as tf.Tensor3D;
        const weight = tf.randomNormal([H, V], 0, 0.05, 'float32', 12) as tf.Tensor2D;
        const tok = tokens();
        const f = tf.grads((h: tf.Tensor, w: tf.Tensor) => tf.sum(variant === 'chunked' ?
          linearTokenLogProbs(h as tf.Tensor3D, w as tf.Tensor2D, tok) :
          naiveLogProbs(tf.reshape(tf.matMul(tf.reshape(h, [n, H]), w), [B, T, V]) as tf.Tensor3D, tok)));
        return {step: () => f([hidden, weight]), readScalar: false, dispose: () => tf.dispose([hidden, weight, tok])};
      },
    });
  }
  return cases;
}

/** Cases left out by {@link benchPlan} (reported by bench/run.ts). */
export const SKIPPED_CASES: string[] = [];

/** Sizes per mode. The log-prob shapes are chosen so the naive path's [B*T, V] logits fit memory. */
export function benchPlan(quick: boolean, backend: string): BenchCase[] {
  const gpu = backend === 'webgpu';
  const lossShapes: Shape2[] = quick ? [{B: 64, T: 512}, {B: 256, T: 2048}] :
    [{B: 64, T: 512}, {B: 256, T: 2048}, {B: 512, T: 8192}];
  const otherShapes: Shape2[] = quick ? [{B: 64, T: 512}] : lossShapes;
  const gaeShapes: Shape2[] = quick ? [{B: 64, T: 128}] : gpu ? [{B: 64, T: 512}] : [{B: 64, T: 512}, {B: 256, T: 2048}];
  // Log-probs: [B*T, V] logits per step. On 2 CPU cores tfjs needs ~2 s for 64 x 32000 (fwd+bwd), so
  // the CPU shapes are small; the GPU shapes are 4x512 at 32k and 2x512 at 152k (1.2 GB naive logits).
  const logProbShapes: LogProbShape[] = quick ? [{B: 1, T: 16, V: 32000, H: 64}] : gpu ?
    [{B: 4, T: 512, V: 32000, H: 1024}, {B: 2, T: 512, V: 152000, H: 1024}] :
    [{B: 1, T: 64, V: 32000, H: 128}, {B: 1, T: 16, V: 152000, H: 128}];
  const cases: BenchCase[] = [];
  cases.push(...advantageCases(quick ? 256 : 4096), ...advantageExtraCases(quick ? 256 : 4096),
      ...rewardModelLossCases(quick ? 256 : 4096));
  for (const s of otherShapes) {
    cases.push(...elementwiseCases(s).filter((c) => c.name !== 'gae'), ...elementwiseExtraCases(s));
  }
  for (const s of gaeShapes) cases.push(...elementwiseCases(s).filter((c) => c.name === 'gae'));
  // The composed grpoLoss (~30 tfjs ops) takes seconds per step on 2 CPU cores: quick mode measures it
  // at the small shape only, and cpu/wasm skip it above 256x2048 (> 1 min per step); the skip is logged.
  const composedLimit = quick ? 64 * 512 : gpu ? Infinity : 256 * 2048;
  for (const s of lossShapes) {
    for (const c of grpoCases(s)) {
      if (c.name.includes('(composed)') && s.B * s.T > composedLimit) {
        SKIPPED_CASES.push(`${c.name} [B=${s.B},T=${s.T}] on ${backend}`);
      } else {
        cases.push(c);
      }
    }
  }
  for (const s of otherShapes) cases.push(...smallOpGradCases(s));
  // On webgpu every small-op case also runs with its fused kernel off, beside the fused one.
  if (gpu) cases.push(...cases.filter((c) => SMALL_OP_CASE.test(c.name)).map(composedTwin));
  // '(default)' differs from '(chunked)' only where fused log-prob kernels exist (webgpu).
  for (const s of logProbShapes) {
    cases.push(...logProbCases(s).filter((c) => gpu || !c.name.includes('(default)')), ...entropyCases(s), ...pipelineLossCases(s));
  }
  return cases;
}

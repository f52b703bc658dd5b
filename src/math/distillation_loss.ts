/**
 * Token-level distillation losses of the GKD family (forward KL, reverse KL, generalized JSD),
 * chunked over the vocabulary rows and differentiable with respect to the student's logits only.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {distillationCpuApplies, distillationLossCpu} from './fused/distillation_cpu.js';
import {distillationLossWebGPU} from './fused/distillation_webgpu.js';
import {
  assertBinaryMask, assertKnownOptions, assertNumber, assertOneOf, assertRank, assertShape, check, fmtShape,
  syncValueChecksEnabled,
} from './assert.js';
import {defaultChunkRows, joinChunks} from './token_log_probs.js';

/** Which divergence {@link distillationLoss} computes per token. */
export type Divergence = 'forward-kl' | 'reverse-kl' | 'jsd';

/** Named inputs of {@link distillationLoss}. */
export interface DistillationLossInputs {
  /** `[batch, time, vocab]` float32 logits of the student (the model being trained). */
  studentLogits: tf.Tensor3D;
  /** `[batch, time, vocab]` float32 logits of the teacher at the same positions (no gradient). */
  teacherLogits: tf.Tensor3D;
  /** `[batch, time]` 1 where the token counts (completion tokens), 0 for padding and prompt. */
  mask: tf.Tensor2D;
}

/** Options of {@link distillationLoss}. */
export interface DistillationLossOptions {
  /**
   * `'jsd'` (default, as TRL's `GKDConfig` whose `beta` defaults to 0.5): generalized Jensen-Shannon;
   * `'forward-kl'`: KL(teacher ‖ student) (TRL beta = 0, classic mass-covering distillation);
   * `'reverse-kl'`: KL(student ‖ teacher) (TRL beta = 1, mode seeking, on-policy distillation).
   */
  divergence?: Divergence;
  /** JSD interpolation weight, strictly inside (0, 1); default `0.5`. Ignored by the KL divergences. */
  beta?: number;
  /** Both logits are divided by this first (no T² factor, as TRL); default `1`. Must be > 0. */
  temperature?: number;
  /**
   * Rows of the flattened `[batch * time]` axis processed at once (forward and backward). Default
   * `max(1, floor(4194304 / vocab))`; any integer >= 1.
   */
  chunkSize?: number;
}

interface ChunkLogProbs {
  lq: tf.Tensor2D;
  lp: tf.Tensor2D;
}

/** Log-softmax of the student (`lq`) and teacher (`lp`) chunks, `[n, vocab]` each. */
function chunkLogSoftmax(s: tf.Tensor2D, t: tf.Tensor2D): ChunkLogProbs {
  return {lq: tf.logSoftmax(s) as tf.Tensor2D, lp: tf.logSoftmax(t) as tf.Tensor2D};
}

/**
 * log m with m = beta p + (1 - beta) q, computed as max(lp, lq) + log1p(w * expm1(-|lp - lq|))
 * (w = beta where lp <= lq, else 1 - beta): exact (lm = lq) when p = q, and never overflows.
 */
function logMixture(lp: tf.Tensor2D, lq: tf.Tensor2D, beta: number): tf.Tensor2D {
  const d = tf.sub(lp, lq);
  const w = tf.where(tf.lessEqual(d, 0), tf.fill(d.shape, beta), tf.fill(d.shape, 1 - beta));
  return tf.add(tf.maximum(lp, lq), tf.log1p(tf.mul(w, tf.expm1(tf.neg(tf.abs(d)))))) as tf.Tensor2D;
}

/** Per-row divergence `[n]` of one chunk (see {@link distillationLoss}). */
function chunkDivergence(s: tf.Tensor2D, t: tf.Tensor2D, divergence: Divergence, beta: number): tf.Tensor1D {
  const {lq, lp} = chunkLogSoftmax(s, t);
  let d: tf.Tensor1D;
  if (divergence === 'forward-kl') {
    d = tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), 1) as tf.Tensor1D;
  } else if (divergence === 'reverse-kl') {
    d = tf.sum(tf.mul(tf.exp(lq), tf.sub(lq, lp)), 1) as tf.Tensor1D;
  } else {
    const lm = logMixture(lp, lq, beta);
    const klTeacher = tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lm)), 1);
    const klStudent = tf.sum(tf.mul(tf.exp(lq), tf.sub(lq, lm)), 1);
    d = tf.add(tf.mul(beta, klTeacher), tf.mul(1 - beta, klStudent)) as tf.Tensor1D;
  }
  return tf.relu(d) as tf.Tensor1D; // >= 0; float rounding can leave -1e-8
}

/**
 * d divergence / d s for one chunk, `[n, vocab]` (s = student logits / temperature):
 * forward KL: q - p; reverse KL: q (a - KL(q‖p)) with a = lq - lp; JSD: (1 - beta) q (b - KL(q‖m))
 * with b = lq - lm (the mixture terms cancel because sum_v dq_v = 0).
 */
function chunkDivergenceGrad(s: tf.Tensor2D, t: tf.Tensor2D, divergence: Divergence, beta: number): tf.Tensor2D {
  const {lq, lp} = chunkLogSoftmax(s, t);
  const q = tf.exp(lq);
  if (divergence === 'forward-kl') return tf.sub(q, tf.exp(lp)) as tf.Tensor2D;
  const a = divergence === 'reverse-kl' ? tf.sub(lq, lp) : tf.sub(lq, logMixture(lp, lq, beta));
  const kl = tf.sum(tf.mul(q, a), 1, true);
  const g = tf.mul(q, tf.sub(a, kl));
  return (divergence === 'reverse-kl' ? g : tf.mul(1 - beta, g)) as tf.Tensor2D;
}

/**
 * Distillation loss between a student and a teacher over the same token positions (GKD).
 *
 * With q = softmax(studentLogits / T), p = softmax(teacherLogits / T) per token (T = `temperature`):
 * `'forward-kl'` = KL(p ‖ q) = sum_v p_v (log p_v - log q_v); `'reverse-kl'` = KL(q ‖ p);
 * `'jsd'` = beta KL(p ‖ m) + (1 - beta) KL(q ‖ m) with m = beta p + (1 - beta) q.
 * Each is summed over the vocabulary and averaged over the tokens where `mask` is 1:
 * loss = sum_{b,t} mask D_{b,t} / max(1, sum mask). Agarwal et al. 2024, On-policy distillation of
 * language models (GKD), arXiv:2306.13649, eq. 1; the same convention as TRL's
 * `GKDTrainer.generalized_jsd_loss` (logits divided by T, no T² factor, `beta` 0.5; TRL's beta = 0 is
 * forward KL and beta = 1 reverse KL). The default divergence is `'jsd'` because TRL's GKD default
 * (`beta = 0.5`) is the JSD.
 *
 * Gradients flow to `studentLogits` only (the teacher is a fixed target): analytic, for forward KL
 * d loss / d studentLogits = mask (q - p) / (T * count). Computed over the flattened `[batch * time]`
 * rows in chunks of `chunkSize` with `tf.customGrad`, so no full-size softmax is held in the forward
 * or backward pass (vocabularies of 100k+). On `cpu` / `wasm` a JavaScript loop over the rows runs
 * instead (float64 sums, the gradient only when asked for), on webgpu fused row kernels (two passes
 * over the logits forward, one backward); `chunkSize` applies to the chunked ops only. Masked rows contribute exactly 0 to the loss and the
 * gradient, even if their logits are NaN. Stable for logits of ±1000. Returns 0 when no token is
 * unmasked. Identical distributions give exactly 0.
 *
 * @param inputs.studentLogits `[batch, time, vocab]` float32.
 * @param inputs.teacherLogits `[batch, time, vocab]` float32, same shape (a vocabulary mismatch is
 *   an error: teacher and student need the same tokenizer).
 * @param inputs.mask `[batch, time]` 0/1.
 * @param options.divergence `'jsd'` (default), `'forward-kl'` or `'reverse-kl'`.
 * @param options.beta JSD weight in (0, 1); default `0.5`.
 * @param options.temperature logits divided by this; default `1`.
 * @param options.chunkSize rows per chunk; default `max(1, floor(4194304 / vocab))`.
 * @returns scalar float32 loss, >= 0; the JSD is at most the binary entropy of beta (log 2 at 0.5).
 * @throws on wrong ranks, shapes or dtypes, different vocabulary sizes, a non-binary mask, non-finite
 *   logits on unmasked tokens (value checks), or bad options.
 * @example
 * const student = tf.tensor3d([[[0, 0], [1, 0]]]); // [1, 2, 2]
 * const teacher = tf.tensor3d([[[0, 0], [0, 1]]]);
 * const mask = tf.tensor2d([[1, 1]]);
 * distillationLoss({studentLogits: student, teacherLogits: teacher, mask}, {divergence: 'forward-kl'});
 * // (0 + (1 - 2 sigmoid(1)) * (-1)) / 2 = 0.231
 */
export function distillationLoss(
    inputs: DistillationLossInputs, options: DistillationLossOptions = {}): tf.Scalar {
  const fn = 'distillationLoss';
  check(typeof inputs === 'object' && inputs !== null, fn, () => `'inputs' expected {studentLogits, teacherLogits, mask}`);
  const expected = ['studentLogits', 'teacherLogits', 'mask'];
  for (const key of Object.keys(inputs)) {
    check(expected.includes(key), fn, () =>
      `unknown input '${key}'; expected ${expected.map((k) => `'${k}'`).join(', ')}`);
  }
  const {studentLogits, teacherLogits, mask} = inputs;
  assertKnownOptions(options, ['divergence', 'beta', 'temperature', 'chunkSize'], fn);
  assertRank(studentLogits, 3, fn, 'studentLogits', ['batch', 'time', 'vocab'], 'float32');
  assertRank(teacherLogits, 3, fn, 'teacherLogits', ['batch', 'time', 'vocab'], 'float32');
  const [batch, time, vocab] = studentLogits.shape;
  check(teacherLogits.shape[2] === vocab, fn, () =>
    `'teacherLogits' vocabulary size ${teacherLogits.shape[2]} differs from 'studentLogits' vocabulary size ${vocab}; ` +
    'teacher and student must share one tokenizer');
  assertShape(teacherLogits, [batch, time, vocab], fn, 'teacherLogits', ['batch', 'time', 'vocab']);
  check(vocab > 0, fn, () => `'studentLogits' expected a vocab axis of size >= 1, got ${fmtShape(studentLogits.shape)}`);
  assertShape(mask, [batch, time], fn, 'mask', ['batch', 'time']);
  // cpu / wasm: the JavaScript loop runs the value checks in one pass of its own.
  const cpuLoop = distillationCpuApplies();
  if (!cpuLoop) assertBinaryMask(mask, fn);
  const {divergence = 'jsd', beta = 0.5, temperature = 1, chunkSize = defaultChunkRows(vocab)} = options;
  assertOneOf(divergence, ['forward-kl', 'reverse-kl', 'jsd'], fn, 'divergence');
  assertNumber(beta, fn, 'beta', {min: 0, max: 1, minExclusive: true});
  check(beta < 1, fn, () => `'beta' expected < 1 (strictly inside (0, 1)), got ${beta}`);
  assertNumber(temperature, fn, 'temperature', {min: 0, minExclusive: true});
  assertNumber(chunkSize, fn, 'chunkSize', {min: 1, integer: true});
  const rows = batch * time;
  if (rows === 0) return tf.scalar(0);
  if (!cpuLoop && syncValueChecksEnabled()) assertFiniteWhereMasked(studentLogits, teacherLogits, mask, fn);
  // webgpu: fused row kernels (src/math/fused/distillation_webgpu.ts), value checks in the kernel.
  // cpu / wasm: one JavaScript loop over the rows (src/math/fused/distillation_cpu.ts).
  const fused = distillationLossWebGPU(studentLogits, teacherLogits, mask, {divergence, beta, temperature}) ??
    distillationLossCpu(studentLogits, teacherLogits, mask, {divergence, beta, temperature, checks: syncValueChecksEnabled()});
  if (fused !== null) return fused;

  return tf.tidy(() => {
    const teacher2 = tf.reshape(teacherLogits, [rows, vocab]) as tf.Tensor2D;
    const maskFlat = tf.reshape(tf.cast(mask, 'float32'), [rows]) as tf.Tensor1D;
    const keep = tf.greater(maskFlat, 0) as tf.Tensor1D;
    const count = tf.maximum(tf.sum(maskFlat), 1);
    const scale = (x: tf.Tensor2D): tf.Tensor2D => (temperature === 1 ? x : tf.div(x, temperature));
    const chunkOf = (teacher: tf.Tensor2D, kept: tf.Tensor1D, start: number) => {
      const n = Math.min(chunkSize, rows - start);
      return {n, t: scale(tf.slice(teacher, [start, 0], [n, vocab])), keep: tf.slice(kept, [start], [n])};
    };
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const x2 = tf.reshape(x, [rows, vocab]) as tf.Tensor2D;
      const parts: tf.Tensor1D[] = [];
      for (let start = 0; start < rows; start += chunkSize) {
        parts.push(tf.tidy(() => {
          const c = chunkOf(teacher2, keep, start);
          const d = chunkDivergence(scale(tf.slice(x2, [start, 0], [c.n, vocab])), c.t, divergence, beta);
          return tf.where(c.keep, d, tf.zerosLike(d)) as tf.Tensor1D;
        }));
      }
      // The teacher and the mask are saved too: the tidy that made them has ended when the gradient runs.
      save([x, teacher2, keep, count]);
      const value = tf.div(tf.sum(joinChunks(parts)), count) as tf.Scalar;
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const [xs, teacherSaved, keepSaved, countSaved] = saved as [tf.Tensor, tf.Tensor2D, tf.Tensor1D, tf.Scalar];
        const xs2 = tf.reshape(xs, [rows, vocab]) as tf.Tensor2D;
        const factor = tf.div(dy, tf.mul(countSaved, temperature));
        const grads: tf.Tensor2D[] = [];
        for (let start = 0; start < rows; start += chunkSize) {
          grads.push(tf.tidy(() => {
            const c = chunkOf(teacherSaved, keepSaved, start);
            const g = chunkDivergenceGrad(scale(tf.slice(xs2, [start, 0], [c.n, vocab])), c.t, divergence, beta);
            const kept = tf.where(tf.expandDims(c.keep, 1), g, tf.zerosLike(g));
            return tf.mul(kept, factor) as tf.Tensor2D;
          }));
        }
        return tf.reshape(joinChunks(grads), [batch, time, vocab]);
      };
      return {value, gradFunc};
    });
    return op(studentLogits) as tf.Scalar;
  });
}

/** Non-finite logits on an unmasked token are an error (they would make the loss NaN). */
function assertFiniteWhereMasked(student: tf.Tensor3D, teacher: tf.Tensor3D, mask: tf.Tensor2D, fn: string): void {
  const bad = tf.tidy(() => {
    const keep = tf.expandDims(tf.greater(mask, 0), 2);
    const nonFinite = (x: tf.Tensor) => tf.any(tf.logicalAnd(keep, tf.logicalNot(tf.isFinite(x))));
    return tf.stack([tf.cast(nonFinite(student), 'int32'), tf.cast(nonFinite(teacher), 'int32')]);
  });
  const [s, t] = bad.dataSync();
  bad.dispose();
  check(s === 0, fn, () => `'studentLogits' expected finite values on unmasked tokens, got NaN or Infinity`);
  check(t === 0, fn, () => `'teacherLogits' expected finite values on unmasked tokens, got NaN or Infinity`);
}

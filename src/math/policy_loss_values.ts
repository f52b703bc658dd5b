/**
 * Value checks of the policy-loss inputs (`clippedPolicyLoss`, `grpoLoss`, `ppoLoss`): the mask is
 * 0/1, advantages are finite, and on unmasked tokens every log-prob (policy, old, reference,
 * rollout) is finite and at most {@link LOG_PROB_LIMIT} (a larger value means probabilities were
 * passed where log-probabilities belong).
 *
 * Two halves: {@link checkPolicyLossValues} runs the checks with tfjs ops (one scalar read back) for
 * the composed path; the fused cpu/wasm kernels run the same tests inside their own pass. Either way,
 * when something is wrong, {@link policyLossValueError} scans the values in one fixed order and names
 * the first offender (argument, position, value), so both paths throw the same message.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {fmtShape, syncValueChecksEnabled} from './assert.js';

/**
 * Largest accepted log-prob on an unmasked token. Log-probs are <= 0; float32 rounding of a
 * log-softmax can give a few ulps above 0, hence the margin. A log-prob above it is flagged as
 * probabilities passed by mistake.
 */
export const LOG_PROB_LIMIT = 1e-4;

/** @internal {@link LOG_PROB_LIMIT} as float32 (what the tfjs ops and the kernels compare against). */
export const LOG_PROB_LIMIT_F32 = Math.fround(LOG_PROB_LIMIT);

/**
 * @internal One log-prob argument to check: its name in messages and its values. `finiteOnly`: a
 * per-token tensor that is not a log-prob (ppoLoss's `entropy`), checked finite on unmasked tokens
 * but not against {@link LOG_PROB_LIMIT}.
 */
export interface NamedLogProbs<T> {
  name: string;
  values: T;
  finiteOnly?: boolean;
}

type Values = ArrayLike<number>;

/** @internal The inputs of {@link policyLossValueError} as flat row-major arrays. */
export interface PolicyLossValues {
  /** `[batch * time]`. */
  mask: Values;
  /** `[batch]`, or `[batch * time]` when `advantagesPerToken`. */
  advantages: Values;
  advantagesPerToken: boolean;
  /** In the order they are checked (and named). */
  logProbs: Array<NamedLogProbs<Values>>;
  batch: number;
  time: number;
}

/**
 * @internal The message (without the `fn: ` prefix) of the first bad value, or null. Order: the mask
 * (every element), then the advantages (every element of `[batch]` advantages, the unmasked ones of
 * `[batch, time]`), then each log-prob argument in the order given (unmasked tokens only).
 */
export function policyLossValueError(v: PolicyLossValues): string | null {
  const {mask, advantages, batch, time} = v;
  const shape = fmtShape([batch, time]);
  const at = (k: number) => `[${Math.floor(k / time)}, ${k % time}] (flat index ${k}, shape ${shape})`;
  const n = batch * time;
  for (let k = 0; k < n; k++) {
    const m = Number(mask[k]);
    if (m !== 0 && m !== 1) return `'mask' expected values in {0, 1}, got ${m} at ${at(k)}`;
  }
  if (v.advantagesPerToken) {
    for (let k = 0; k < n; k++) {
      if (mask[k] !== 0 && !Number.isFinite(advantages[k]!)) {
        return `'advantages' expected finite values, got ${advantages[k]} at flat index ${k} (shape ${shape}, an unmasked token)`;
      }
    }
  } else {
    for (let i = 0; i < batch; i++) {
      if (!Number.isFinite(advantages[i]!)) {
        return `'advantages' expected finite values, got ${advantages[i]} at flat index ${i} (shape [${batch}])`;
      }
    }
  }
  for (const {name, values, finiteOnly = false} of v.logProbs) {
    for (let k = 0; k < n; k++) {
      if (mask[k] === 0) continue;
      const x = values[k]!;
      if (!Number.isFinite(x)) return `'${name}' expected finite values on unmasked tokens, got ${x} at ${at(k)}`;
      if (!finiteOnly && x > LOG_PROB_LIMIT_F32) {
        return `'${name}' expected log-probabilities (<= ${LOG_PROB_LIMIT}) on unmasked tokens, got ${x} at ` +
            `${at(k)}: were probabilities passed instead of log-probabilities? (take tf.log of them, or use ` +
            'tokenLogProbs on the logits)';
      }
    }
  }
  return null;
}

/** @internal Throws `fn: <message>` of {@link policyLossValueError} on the tensors' values, if any. */
export function throwPolicyLossValueError(
    fn: string, mask: tf.Tensor, advantages: tf.Tensor, logProbs: Array<NamedLogProbs<tf.Tensor>>): void {
  const [batch, time] = mask.shape as [number, number];
  const message = policyLossValueError({
    mask: mask.dataSync() as Values, advantages: advantages.dataSync() as Values, advantagesPerToken: advantages.rank === 2,
    logProbs: logProbs.map(({name, values, finiteOnly}) => ({name, values: values.dataSync() as Values, finiteOnly})),
    batch, time,
  });
  if (message !== null) throw new Error(`${fn}: ${message}`);
}

/**
 * @internal The value checks with tfjs ops (the composed path): one boolean reduction, one scalar
 * read back; on a bad value the arrays are read to name it. Skipped when value checks are off
 * ({@link configureValidation}). Inputs are validated for shape and dtype already.
 */
export function checkPolicyLossValues(
    fn: string, mask: tf.Tensor, advantages: tf.Tensor, logProbs: Array<NamedLogProbs<tf.Tensor>>): void {
  if (!syncValueChecksEnabled() || mask.size === 0) return;
  // Only ops that save no tensor for a gradient tape (a check that throws inside tf.grad must not
  // leave saved tensors behind): comparisons, logical ops, any.
  const bad = tf.tidy(() => {
    const m = tf.cast(mask, 'float32');
    const active = tf.notEqual(m, 0);
    let any = tf.logicalAnd(active, tf.notEqual(m, 1));
    if (advantages.rank === 2) any = tf.logicalOr(any, tf.logicalAnd(active, tf.logicalNot(tf.isFinite(advantages))));
    for (const {values, finiteOnly = false} of logProbs) {
      const ok = finiteOnly ? tf.isFinite(values)
        : tf.logicalAnd(tf.lessEqual(values, LOG_PROB_LIMIT), tf.greater(values, -Infinity));
      any = tf.logicalOr(any, tf.logicalAnd(active, tf.logicalNot(ok)));
    }
    const flag = tf.any(any);
    return advantages.rank === 2 ? flag : tf.logicalOr(flag, tf.any(tf.logicalNot(tf.isFinite(advantages))));
  });
  const isBad = bad.dataSync()[0] !== 0;
  bad.dispose();
  if (isBad) throwPolicyLossValueError(fn, mask, advantages, logProbs);
}

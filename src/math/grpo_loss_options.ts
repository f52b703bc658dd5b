/**
 * Inputs and options of `grpoLoss` / `grpoLossWithStats`, their validation and the choice of
 * implementation (everything that runs before the loss is computed).
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import {LOSS_AGGREGATIONS, type LossAggregation, resolveAggregationOptions} from './aggregate_loss.js';
import {
  assertDtype, assertKnownInputs, assertKnownOptions, assertNumber, assertOneOf, assertSameShape, check,
  valueChecksEnabled,
} from './assert.js';
import {type RatioLevel, resolveClipOptions, validatePolicyLossInputs} from './clipped_policy_loss.js';
import {KL_ESTIMATORS, type KlEstimator} from './kl_penalty.js';
import {checkPolicyLossValues, type NamedLogProbs} from './policy_loss_values.js';
import {fusedGrpoLossChecksValues, type GrpoLossImplementation, useFusedGrpoLoss} from './fused/grpo_loss_fused.js';
import type {GrpoLossTensors, ResolvedGrpoLossOptions} from './fused/grpo_loss_kernel_inputs.js';
import {ensureWebGPUFastPaths} from './fused/webgpu_fast_paths.js';

/** Default cap C of the truncated importance-sampling weight (the TIS paper's and verl's usual value). */
const DEFAULT_TIS_CAP = 2;

/** Tensors of {@link grpoLoss}. All per-token tensors are `[batch, time]` float32. */
export interface GrpoLossInputs {
  /** `[batch, time]` log pi_theta(y_t) of the sampled tokens; gradients flow here. */
  logProbs: tf.Tensor;
  /**
   * `[batch, time]` log pi_old(y_t), the sampling policy. Default: stop-gradient(`logProbs`), i.e.
   * one update per batch (ratio 1, the gradient still flows, as TRL with `num_iterations = 1`).
   */
  oldLogProbs?: tf.Tensor;
  /** `[batch, time]` log pi_ref(y_t) of the reference policy; required when `beta > 0`. */
  refLogProbs?: tf.Tensor;
  /** `[batch]` (per sequence, broadcast over time) or `[batch, time]` float32 advantages. */
  advantages: tf.Tensor;
  /** `[batch, time]` 1 for completion tokens, 0 for padding (holes allowed); float32, int32 or bool. */
  mask: tf.Tensor;
  /**
   * `[batch, time]` log pi_rollout(y_t) as reported by the sampler (vLLM-style inference engine, a
   * quantised or differently batched forward pass), for truncated importance sampling (see
   * `tisCap`). Also accepted as an option; giving both is an error.
   */
  rolloutLogProbs?: tf.Tensor;
}

/** Options of {@link grpoLoss}; every field is optional. Unknown names are rejected. */
export interface GrpoLossOptions {
  /**
   * KL coefficient. Default `0`, as TRL (since v0.17), DAPO and Dr. GRPO: the KL term is not needed
   * for verifiable-reward training and its reference forward pass is the most expensive part of a
   * step. DeepSeekMath's GRPO used `0.04` (TRL's earlier default). Must be >= 0.
   */
  beta?: number;
  /** Per-token KL estimator (see {@link klPenalty}). Default `'k3'` (GRPO's, TRL's, verl `low_var_kl`). */
  klEstimator?: KlEstimator;
  /** Lower clip epsilon (ratio clipped below at 1 - clipLow). Default `0.2`. */
  clipLow?: number;
  /** Upper clip epsilon. Default `clipLow`; DAPO's clip-higher uses `0.28`. */
  clipHigh?: number;
  /** Dual-clip bound c > 1 for negative advantages (verl `clip_ratio_c`, TRL `delta`). Default off. */
  dualClip?: number;
  /** `'token'` (default) or `'sequence'` (GSPO; see {@link clippedPolicyLoss}). */
  ratioLevel?: RatioLevel;
  /** Loss aggregation (see {@link aggregateLoss}). Default `'token-mean'` (DAPO's token-level loss). */
  aggregation?: LossAggregation;
  /** Divisor of `'seq-mean-token-sum-norm'` (Dr. GRPO's max completion length). Default `time`. */
  maxLength?: number;
  /**
   * Fixed denominator for gradient accumulation: total mask tokens over all micro-batches
   * (`'token-mean'`) or total non-empty sequences (`seq-mean-*`). Default: this batch's count.
   */
  normalizer?: number;
  /**
   * `[batch, time]` rollout log-probs for truncated importance sampling, when not given in the
   * inputs object (the same tensor either way; both is an error).
   */
  rolloutLogProbs?: tf.Tensor;
  /**
   * Cap C of the truncated importance-sampling (TIS) weight w_t = min(exp(oldLogProbs_t -
   * rolloutLogProbs_t), C), which multiplies the policy-gradient term (not the KL term) and carries
   * no gradient (verl's `tis_imp_ratio_cap`; Yao et al. 2025, "Your efficient RL framework secretly
   * brings you off-policy RL training"). Off unless `rolloutLogProbs` is given; then default `2`.
   * Must be > 0 (`Infinity`: untruncated importance sampling). Rejected without `rolloutLogProbs`.
   */
  tisCap?: number;
  // --- fused dispatch (issue 6, src/math/fused/) ---
  /**
   * Which implementation runs (see {@link fusedGrpoLossAvailable}). Default `'auto'`: the fused
   * kernel where the active backend has one (`cpu`, `wasm`: one typed-array loop; `webgpu`: WGSL
   * compute shaders), else the composed tfjs ops. `'fused'` insists (an error elsewhere);
   * `'composed'` always runs tfjs ops. Both give the same loss and gradients to float32 tolerance on
   * every input: every path clamps the log-ratio to ±20 before `exp` (as verl). On `cpu`/`wasm` the
   * kernel also runs the value checks in its own pass. On `webgpu` the fused kernel differentiates
   * w.r.t. `logProbs` only; it serves `rolloutLogProbs` and, with the statistics computed on the GPU,
   * {@link grpoLossWithStats}. Honoured and validated by {@link grpoLossWithStats} too.
   */
  implementation?: GrpoLossImplementation;
  // --- end fused dispatch ---
}


const FN = 'grpoLoss';
const KNOWN_OPTIONS = [
  'beta', 'klEstimator', 'clipLow', 'clipHigh', 'dualClip', 'ratioLevel', 'aggregation', 'maxLength', 'normalizer',
  'rolloutLogProbs', 'tisCap',
  'implementation', // fused dispatch (issue 6)
];


/** @internal Value checks in the kernel's pass: when they are on and the active backend's kernel runs them. */
export function kernelChecks(): boolean {
  return valueChecksEnabled() && fusedGrpoLossChecksValues();
}

/**
 * @internal Validates `options` (names and values) and fills in the defaults. `fn` names the public
 * function in error messages. `tisCap` is resolved against the inputs by {@link prepareGrpoLoss}.
 */
export function resolveGrpoLossOptions(options: GrpoLossOptions | undefined, fn = FN): ResolvedGrpoLossOptions {
  const o = options ?? {};
  assertKnownOptions(o, KNOWN_OPTIONS, fn);
  const beta = o.beta ?? 0;
  assertNumber(beta, fn, 'beta', {min: 0});
  const klEstimator = o.klEstimator ?? 'k3';
  assertOneOf(klEstimator, KL_ESTIMATORS, fn, 'klEstimator');
  const clip = resolveClipOptions(o, fn);
  const aggregation = o.aggregation ?? 'token-mean';
  assertOneOf(aggregation, LOSS_AGGREGATIONS, fn, 'aggregation');
  const {maxLength, normalizer} = resolveAggregationOptions(
      {maxLength: o.maxLength, normalizer: o.normalizer}, aggregation, fn, false);
  const tisCap = o.tisCap;
  if (tisCap !== undefined) {
    check(typeof tisCap === 'number' && tisCap > 0, fn, () =>
      `'tisCap' expected a number > 0 (Infinity allowed), got ${String(tisCap)}`);
  }
  return {beta, klEstimator, ...clip, aggregation, maxLength, normalizer, tisCap};
}

/**
 * @internal Everything {@link grpoLoss} and {@link grpoLossWithStats} do before computing: options,
 * shapes and dtypes, the rollout log-probs (inputs or options, not both) and `tisCap`, the choice of
 * implementation, and the value checks with tfjs ops unless the fused kernel runs them in its pass.
 */
export function prepareGrpoLoss(inputs: GrpoLossInputs, options: GrpoLossOptions | undefined, fn: string,
    withStats: boolean): {tensors: GrpoLossTensors; resolved: ResolvedGrpoLossOptions; fused: boolean} {
  ensureWebGPUFastPaths();
  const resolved = resolveGrpoLossOptions(options, fn);
  validateGrpoLossInputs(inputs, resolved, fn, false);
  const fromInputs = inputs.rolloutLogProbs;
  const fromOptions = options?.rolloutLogProbs;
  check(fromInputs === undefined || fromOptions === undefined, fn, () =>
    "'rolloutLogProbs' given both in the inputs and in the options; pass it once");
  const rollout = fromInputs ?? fromOptions;
  if (rollout === undefined) {
    check(resolved.tisCap === undefined, fn, () =>
      `'tisCap' (${resolved.tisCap}) needs 'rolloutLogProbs' (the sampler's log-probs); pass them or drop tisCap`);
  } else {
    assertSameShape(rollout, inputs.logProbs, fn, 'rolloutLogProbs', 'logProbs');
    assertDtype(rollout, 'float32', fn, 'rolloutLogProbs');
    resolved.tisCap ??= DEFAULT_TIS_CAP;
  }
  const tensors: GrpoLossTensors = {
    logProbs: inputs.logProbs, oldLogProbs: inputs.oldLogProbs, refLogProbs: inputs.refLogProbs,
    rolloutLogProbs: rollout, advantages: inputs.advantages, mask: inputs.mask,
  };
  const fused = useFusedGrpoLoss(options?.implementation, tensors, fn, {stats: withStats, tis: rollout !== undefined});
  if (!(fused && kernelChecks())) {
    const logProbs: Array<NamedLogProbs<tf.Tensor>> = [{name: 'logProbs', values: inputs.logProbs}];
    if (inputs.oldLogProbs !== undefined) logProbs.push({name: 'oldLogProbs', values: inputs.oldLogProbs});
    if (inputs.refLogProbs !== undefined && (resolved.beta > 0 || withStats)) {
      logProbs.push({name: 'refLogProbs', values: inputs.refLogProbs});
    }
    if (rollout !== undefined) logProbs.push({name: 'rolloutLogProbs', values: rollout});
    checkPolicyLossValues(fn, inputs.mask, inputs.advantages, logProbs);
  }
  return {tensors, resolved, fused};
}

/**
 * @internal Validates the tensors against resolved options: shapes, dtypes; `refLogProbs` required
 * when `beta > 0`. Values (0/1 mask, finite advantages and log-probs) too unless `checkValues` is
 * false ({@link prepareGrpoLoss} checks them itself, or leaves them to the kernel).
 */
export function validateGrpoLossInputs(inputs: GrpoLossInputs, resolved: ResolvedGrpoLossOptions, fn = FN,
    checkValues: boolean | 'logProbs' = 'logProbs'): void {
  assertKnownInputs(inputs, ['logProbs', 'oldLogProbs', 'rolloutLogProbs', 'refLogProbs', 'advantages', 'mask'], fn);
  validatePolicyLossInputs(inputs, fn, true, checkValues);
  const {refLogProbs, logProbs} = inputs;
  if (refLogProbs === undefined) {
    check(resolved.beta === 0, fn, () =>
      `'refLogProbs' is required when beta > 0 (beta = ${resolved.beta}); pass the reference policy's ` +
      `log-probs or set beta: 0`);
  } else {
    assertSameShape(refLogProbs, logProbs, fn, 'refLogProbs', 'logProbs');
    assertDtype(refLogProbs, 'float32', fn, 'refLogProbs');
  }
}


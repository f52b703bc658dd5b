/**
 * Clipped importance-ratio policy loss (PPO / GRPO / DAPO clip-higher / dual-clip / GSPO).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertDtype, assertKnownOptions, assertNumber, assertOneOf, assertRank, assertSameShape, check, fmtShape,
} from './assert.js';
import {assertKnownInputs, assertTensor} from './assert.js';
import {checkPolicyLossValues, type NamedLogProbs} from './policy_loss_values.js';
import {clippedPolicyLossWebGPU} from './fused/clipped_policy_loss_webgpu.js';

type FusedClipInputs = Parameters<typeof clippedPolicyLossWebGPU>[0];

/** Where the importance ratio is formed; see {@link clippedPolicyLoss}. */
export type RatioLevel = 'token' | 'sequence';

/** Tensors of {@link clippedPolicyLoss}, by name so that the log-probs cannot be swapped silently. */
export interface PolicyLossInputs {
  /** `[batch, time]` float32 log pi_theta(y_t) of the sampled tokens (the policy being trained). */
  logProbs: tf.Tensor;
  /** `[batch, time]` float32 log pi_old(y_t) under the policy that sampled the batch (no gradient). */
  oldLogProbs: tf.Tensor;
  /**
   * `[batch]` (one advantage per sequence, broadcast over time) or `[batch, time]` (per token)
   * float32 advantages, finite where `mask` is 1.
   */
  advantages: tf.Tensor;
  /** `[batch, time]` 1 for completion tokens, 0 for padding (holes allowed); float32, int32 or bool. */
  mask: tf.Tensor;
}

/** Options of {@link clippedPolicyLoss}. */
export interface ClippedPolicyLossOptions {
  /** Lower clip epsilon: the ratio is clipped below at 1 - clipLow. Default `0.2`; must be >= 0. */
  clipLow?: number;
  /**
   * Upper clip epsilon: the ratio is clipped above at 1 + clipHigh. Default `clipLow` (symmetric
   * PPO clip); DAPO's clip-higher uses 0.28 with clipLow 0.2. Must be >= 0.
   */
  clipHigh?: number;
  /**
   * Dual-clip bound c > 1: for negative advantages the loss is capped at -c * A. Default: off.
   * verl's `clip_ratio_c` (3.0 there, always on); TRL's `delta` is the same bound when delta > 1 + clipHigh.
   */
  dualClip?: number;
  /**
   * `'token'` (default): r_t = exp(logProbs_t - oldLogProbs_t). `'sequence'`: GSPO's ratio
   * s = exp(masked mean over the sequence of the log-ratio), with GSPO-token gradients.
   */
  ratioLevel?: RatioLevel;
}

/** @internal Resolved clip options (defaults filled in, validated). */
export interface ResolvedClipOptions {
  clipLow: number;
  clipHigh: number;
  dualClip: number | undefined;
  ratioLevel: RatioLevel;
}

/** @internal The pieces of the clipped loss, for the loss itself and for statistics. */
export interface ClippedLossParts {
  /** `[batch, time]` per-token loss, exactly 0 where masked. */
  perToken: tf.Tensor2D;
  /** `[batch, time]` the ratio the clip acts on (meaningless where masked: use the mask). */
  ratio: tf.Tensor2D;
}

/** @internal Where each clip is active (bool `[batch, time]`, false where masked). */
export interface ClipIndicators {
  /** A < 0 and ratio < 1 - clipLow. */
  lowClipped: tf.Tensor2D;
  /** A > 0 and ratio > 1 + clipHigh. */
  highClipped: tf.Tensor2D;
  /** A < 0 and ratio > dualClip (all false when dual-clip is off). */
  dualClipped: tf.Tensor2D;
}

/**
 * @internal |log r| is clamped to this before exp() (verl's value) on every path: the composed ops
 * ({@link clippedLossParts}), the JavaScript loop, the WebAssembly and the WGSL kernels.
 */
export const LOG_RATIO_LIMIT = 20;

const FN = 'clippedPolicyLoss';
const KNOWN = ['clipLow', 'clipHigh', 'dualClip', 'ratioLevel'];
const RATIO_LEVELS: readonly RatioLevel[] = ['token', 'sequence'];
const MASK_DTYPES: readonly tf.DataType[] = ['float32', 'int32', 'bool'];

/**
 * Per-token clipped surrogate policy loss (PPO's objective, negated), with DAPO's asymmetric clip,
 * the dual-clip bound and GSPO's sequence-level ratio.
 *
 * $$L_t = -\min\big(r_t A_t,\ \operatorname{clip}(r_t, 1 - \epsilon_{low}, 1 + \epsilon_{high})\, A_t\big),
 * \qquad r_t = \exp(\log\pi_\theta(y_t) - \log\pi_{old}(y_t))$$
 * ($\epsilon_{low}$ = `clipLow`, $\epsilon_{high}$ = `clipHigh`); with `dualClip` c:
 * $L_t = \min(L_t, -c A_t)$ where $A_t < 0$. Where the clip is active (A > 0 and
 * r > 1 + clipHigh, or A < 0 and r < 1 - clipLow) or the dual bound is active (A < 0 and r > c) the
 * token's gradient is exactly 0; inside the clip range L_t = -r_t A_t. `clipLow = clipHigh = 0` is
 * allowed (the ratio is then clipped to 1 on the active side).
 * Schulman et al. 2017, PPO, arXiv:1707.06347; Shao et al. 2024, GRPO, arXiv:2402.03300;
 * Yu et al. 2025, DAPO (clip-higher), arXiv:2503.14476; Ye et al. 2020, dual-clip PPO, arXiv:1912.09729.
 *
 * `ratioLevel: 'sequence'` (GSPO, Zheng et al. 2025, arXiv:2507.18071): s_i = exp(sum_t m_t (lp_t -
 * old_t) / sum_t m_t) and the per-token ratio is GSPO-token's s_i,t = sg[s_i] pi(y_t) / sg[pi(y_t)]:
 * every token's value is s_i while its gradient flows through its own log-prob only. With `[batch]`
 * advantages this gives GSPO's gradient exactly; GSPO uses much tighter clips (3e-4 / 4e-4).
 *
 * Padding: tokens with mask 0 have loss exactly 0 and gradient exactly 0 even if their log-probs are
 * NaN or infinite (the inputs are replaced by 0 there before any arithmetic, with `tf.where`).
 * The log-ratio is clamped to ±20 before exp(), as in verl (TRL does not clamp): ratios beyond
 * e^20 = 4.9e8, which only garbage or a diverged policy produce, would otherwise overflow float32 and
 * make gradients NaN; beyond the clamp the token's gradient is 0.
 *
 * @param inputs.logProbs `[batch, time]` float32, log pi_theta (gradients flow here).
 * @param inputs.oldLogProbs `[batch, time]` float32, log pi_old (treated as a constant).
 * @param inputs.advantages `[batch]` or `[batch, time]` float32 (`[batch, 1]` is rejected unless time is 1).
 * @param inputs.mask `[batch, time]` 0/1 (float32, int32 or bool).
 * @param options.clipLow default `0.2`.
 * @param options.clipHigh default `clipLow`.
 * @param options.dualClip default off; must be > 1.
 * @param options.ratioLevel `'token'` (default) or `'sequence'`.
 * On webgpu (the direct-dispatch backend) this runs as one fused kernel forward and one per requested
 * gradient, with the value checks in the kernel (a failure gives NaN there and the named error on
 * the next fused call; `settleWebGPUValueChecks` waits for it); elsewhere as tfjs ops.
 *
 * @returns `[batch, time]` float32 per-token loss, 0 where masked; reduce it with {@link aggregateLoss}.
 * @throws on a wrong rank, shape or dtype, a mask that is not 0/1, non-finite advantages, a non-finite
 *   or positive (> 1e-4: probabilities passed) log-prob on an unmasked token, a negative
 *   clip, `dualClip <= 1`, an unknown `ratioLevel` or an unknown option name.
 * @example
 * const loss = clippedPolicyLoss({
 *   logProbs: tf.tensor2d([[Math.log(1.5), 0]]),
 *   oldLogProbs: tf.tensor2d([[0, 0]]),
 *   advantages: tf.tensor1d([2]),
 *   mask: tf.tensor2d([[1, 0]]),
 * }, {clipLow: 0.2, clipHigh: 0.28});
 * // r = 1.5 > 1.28 and A > 0: clipped, L = -1.28 * 2 = -2.56; padding: 0  =>  [[-2.56, 0]]
 */
export function clippedPolicyLoss(inputs: PolicyLossInputs, options: ClippedPolicyLossOptions = {}): tf.Tensor2D {
  const resolved = resolveClipOptions(options, FN);
  assertKnownInputs(inputs, ['logProbs', 'oldLogProbs', 'advantages', 'mask'], FN);
  validatePolicyLossInputs(inputs, FN, false, false);
  const fused = clippedPolicyLossWebGPU(inputs as FusedClipInputs, resolved);
  if (fused !== null) return fused;
  validatePolicyLossInputs(inputs, FN, false, 'logProbs');
  return tf.tidy(() => {
    const {maskB, lp, old, adv} = sanitizePolicyInputs(inputs);
    const parts = clippedLossParts(lp, old, adv, maskB, resolved);
    return parts.perToken;
  });
}

/** @internal Validates and fills in clip options; `fn` names the public function in errors. */
export function resolveClipOptions(options: ClippedPolicyLossOptions | undefined, fn: string): ResolvedClipOptions {
  const o = options ?? {};
  if (fn === FN) assertKnownOptions(o, KNOWN, fn);
  const clipLow = o.clipLow ?? 0.2;
  assertNumber(clipLow, fn, 'clipLow', {min: 0});
  const clipHigh = o.clipHigh ?? clipLow;
  assertNumber(clipHigh, fn, 'clipHigh', {min: 0});
  const dualClip = o.dualClip;
  if (dualClip !== undefined) assertNumber(dualClip, fn, 'dualClip', {min: 1, minExclusive: true});
  const ratioLevel = o.ratioLevel ?? 'token';
  assertOneOf(ratioLevel, RATIO_LEVELS, fn, 'ratioLevel');
  return {clipLow, clipHigh, dualClip, ratioLevel};
}

/**
 * @internal Checks the policy-loss tensors: `logProbs` `[batch, time]` float32; `oldLogProbs` the same
 * (optional when `oldOptional`); `mask` the same shape; `advantages` `[batch]` or `[batch, time]`.
 * `checkValues` (value checks; skipped when {@link configureValidation} turns them off): `true`
 * (default) the mask 0/1, advantages finite (where the mask is 1 for per-token ones); `'logProbs'`
 * also `logProbs` / `oldLogProbs` finite and <= 1e-4 on unmasked tokens; `false` none (the caller
 * checks them, or a fused kernel does in its pass).
 */
export function validatePolicyLossInputs(
    inputs: Partial<PolicyLossInputs> | undefined, fn: string, oldOptional: boolean,
    checkValues: boolean | 'logProbs' = true): void {
  check(typeof inputs === 'object' && inputs !== null, fn, () =>
    `'inputs' expected an object {logProbs, oldLogProbs, advantages, mask}, got ${String(inputs)}`);
  const {logProbs, oldLogProbs, advantages, mask} = inputs;
  assertRank(logProbs, 2, fn, 'logProbs', ['batch', 'time'], 'float32');
  if (oldLogProbs !== undefined || !oldOptional) {
    assertSameShape(oldLogProbs, logProbs, fn, 'oldLogProbs', 'logProbs');
    assertDtype(oldLogProbs, 'float32', fn, 'oldLogProbs');
  }
  assertSameShape(mask, logProbs, fn, 'mask', 'logProbs');
  assertDtype(mask, MASK_DTYPES, fn, 'mask');
  const [batch, time] = logProbs.shape as [number, number];
  assertTensor(advantages, fn, 'advantages');
  const ok = (advantages.rank === 1 && advantages.shape[0] === batch) ||
      (advantages.rank === 2 && advantages.shape[0] === batch && advantages.shape[1] === time);
  check(ok, fn, () => `'advantages' expected shape [batch]=[${batch}] or [batch, time]=[${batch},${time}], ` +
      `got ${fmtShape(advantages.shape)}`);
  assertDtype(advantages, 'float32', fn, 'advantages');
  if (checkValues === false) return;
  const logProbNames: Array<NamedLogProbs<tf.Tensor>> = [];
  if (checkValues === 'logProbs') {
    logProbNames.push({name: 'logProbs', values: logProbs});
    if (oldLogProbs !== undefined) logProbNames.push({name: 'oldLogProbs', values: oldLogProbs});
  }
  checkPolicyLossValues(fn, mask, advantages, logProbNames);
}

/**
 * @internal Replaces padded positions by 0 (so that NaN/Inf there can reach neither values nor
 * gradients) and broadcasts `[batch]` advantages to `[batch, time]`. `old` is undefined when
 * `oldLogProbs` was not given (meaning stop-gradient(logProbs)). Call inside `tf.tidy`.
 */
export function sanitizePolicyInputs(inputs: Partial<PolicyLossInputs>): {
  maskB: tf.Tensor2D; lp: tf.Tensor2D; old: tf.Tensor2D | undefined; adv: tf.Tensor2D;
} {
  const logProbs = inputs.logProbs as tf.Tensor2D;
  const maskB = tf.cast(inputs.mask as tf.Tensor, 'bool') as tf.Tensor2D;
  const zeros = tf.zerosLike(logProbs);
  const lp = tf.where(maskB, logProbs, zeros) as tf.Tensor2D;
  const old = inputs.oldLogProbs === undefined ? undefined : tf.where(maskB, inputs.oldLogProbs, zeros) as tf.Tensor2D;
  const a = inputs.advantages as tf.Tensor;
  // zeros + a[:, None], not tf.broadcastTo: broadcastTo runs tfjs's Tile kernel, which the webgpu
  // backend executes on the CPU when its input is CPU-resident and small (a [batch] tensor made with
  // tf.tensor1d), producing the [batch, time] tensor in JavaScript (260 ms at 512 x 8192 on an H200).
  const adv2d = a.rank === 1 ? tf.add(zeros, tf.expandDims(a, 1)) : a;
  const adv = tf.where(maskB, adv2d, zeros) as tf.Tensor2D;
  return {maskB, lp, old, adv};
}

/**
 * @internal Stop-gradient: the value of `x`, with a zero gradient (tfjs has no `stopGradient` op).
 */
export const stopGradient = tf.customGrad((x) => ({
  value: tf.clone(x as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

/**
 * @internal The clipped loss on sanitized inputs (see {@link sanitizePolicyInputs}): padded
 * positions of `lp`, `old` and `adv` are 0. `old` undefined means stop-gradient(`lp`): ratio 1 with
 * the gradient of the current policy (one update per batch). Call inside `tf.tidy`.
 *
 * Written with max/min/clip only, no boolean ops on the path from the inputs to the loss: tfjs has no
 * gradient for comparisons, so `tf.where` on a condition computed from `logProbs` (or `advantages`)
 * would make `tf.grad` throw. Max/min route the gradient to the selected branch only, and clip's
 * gradient is 0 outside its range, so clipped tokens get exactly 0 gradient.
 */
export function clippedLossParts(
    lp: tf.Tensor2D, old: tf.Tensor2D | undefined, adv: tf.Tensor2D, maskB: tf.Tensor2D,
    {clipLow, clipHigh, dualClip, ratioLevel}: ResolvedClipOptions): ClippedLossParts {
  const oldLp = old ?? stopGradient(lp);
  let logRatio: tf.Tensor = tf.sub(lp, oldLp);
  if (ratioLevel === 'sequence') {
    // GSPO-token: log s_i,t = sg[mean_t m_t (lp_t - old_t)] + lp_t - sg[lp_t]. Padded log-ratios are 0.
    const count = tf.maximum(tf.sum(tf.cast(maskB, 'float32'), 1, true), 1);
    const seqLogRatio = tf.div(tf.sum(logRatio, 1, true), count);
    logRatio = tf.add(stopGradient(seqLogRatio), tf.sub(lp, stopGradient(lp)));
  }
  // Clamp as verl does: exp() overflows float32 above 88, and an infinite ratio makes the gradient
  // NaN even where the clip is active (0 * Inf in exp's backward pass). e^20 = 4.9e8 is far beyond
  // any clip range, so only absurd ratios are affected (their gradient becomes 0).
  const ratio = tf.exp(tf.clipByValue(logRatio, -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT));
  const surrogate = tf.neg(tf.mul(ratio, adv));
  // clip() as max/min, not tf.clipByValue: the wasm backend (XNNPACK) rejects an empty range
  // (clipLow = clipHigh = 0). The gradient is the same: 1 inside [lo, hi] (ends included), 0 outside.
  const clipped = tf.neg(tf.mul(tf.minimum(tf.maximum(ratio, 1 - clipLow), 1 + clipHigh), adv));
  // -min(rA, clip(r)A) = max(-rA, -clip(r)A); at a tie (r inside the range) the gradient goes to -rA.
  let loss = tf.maximum(surrogate, clipped);
  if (dualClip !== undefined) {
    // min(loss, -c A) for A < 0 only: the bound is pushed to 1e30 where A >= 0 (step() has a zero gradient).
    const nonNegative = tf.sub(1, tf.step(tf.neg(adv)));
    const bound = tf.add(tf.mul(-dualClip, adv), tf.mul(nonNegative, 1e30));
    loss = tf.minimum(loss, bound);
  }
  const perToken = tf.where(maskB, loss, tf.zerosLike(loss));
  return {perToken, ratio} as ClippedLossParts;
}

/** @internal Which clip is active per token (for statistics; not differentiable). Call inside `tf.tidy`. */
export function clipIndicators(
    ratio: tf.Tensor2D, adv: tf.Tensor2D, maskB: tf.Tensor2D,
    {clipLow, clipHigh, dualClip}: ResolvedClipOptions): ClipIndicators {
  const negA = tf.logicalAnd(maskB, tf.less(adv, 0));
  const posA = tf.logicalAnd(maskB, tf.greater(adv, 0));
  return {
    lowClipped: tf.logicalAnd(negA, tf.less(ratio, 1 - clipLow)),
    highClipped: tf.logicalAnd(posA, tf.greater(ratio, 1 + clipHigh)),
    dualClipped: dualClip === undefined ? tf.zerosLike(maskB) : tf.logicalAnd(negA, tf.greater(ratio, dualClip)),
  } as ClipIndicators;
}

/**
 * The fused GRPO loss as one JavaScript loop over typed arrays: loss, d loss / d logProbs, value
 * checks and (on request) the statistics of `grpoLossWithStats`, in one pass over the tokens.
 *
 * **The per-token formula every kernel mirrors** (this loop, `grpo_loss_simd.wat`, the WGSL of
 * `grpo_loss_wgsl.ts`), equal to `grpoLossComposed` (the oracle) to float32 tolerance. For an
 * unmasked token with log-probs lp (policy), old, ref, roll (rollout) and advantage A:
 *
 * 1. log-ratio d = lp - old (GSPO `ratioLevel: 'sequence'`: the row's masked mean of lp - old; no
 *    `oldLogProbs`: d = 0); r = exp(clamp(d, -20, 20)) (verl's clamp, {@link LOG_RATIO_LIMIT}).
 * 2. policy term pg = -min(r A, clip(r, 1 - clipLow, 1 + clipHigh) A): the clipped branch is taken
 *    only for A < 0, r < 1 - clipLow (pg = -(1 - clipLow) A) and A > 0, r > 1 + clipHigh
 *    (pg = -(1 + clipHigh) A), with gradient 0; else pg = -r A with d pg / d lp = -r A, except 0
 *    where |d| > 20 (the clamp). Dual-clip c: A < 0 and r > c gives pg = -c A, gradient 0.
 * 3. truncated importance sampling (with `rolloutLogProbs`): w = min(exp(old - roll), tisCap)
 *    (old = lp when `oldLogProbs` is absent), a constant: pg and its gradient are multiplied by w.
 * 4. KL term (beta > 0): beta * k(lp - ref), k1 = x, k2 = x^2 / 2, k3 = e^-x - 1 + x, abs = |x|
 *    (d|x|/dx = -1 at 0, as tfjs).
 * 5. loss = sum over tokens of rowWeight * (pg + KL), rowWeight the aggregation's weight of the row
 *    (1 / tokens for token-mean, 1 / (rows * rowTokens) for seq-mean-token-mean, ...); gradient
 *    rowWeight * (d pg / d lp + d KL / d lp). Masked tokens: loss and gradient exactly 0, whatever
 *    their inputs.
 *
 * Value checks (when `checkValues`): the mask is 0/1 everywhere; on unmasked tokens lp, old, ref (when
 * used) and roll are finite and <= 1e-4, per-token advantages finite. The loop only flags a bad
 * value; the caller names it with `policyLossValueError`.
 * @module
 */
import {LOG_RATIO_LIMIT} from '../clipped_policy_loss.js';
import {LOG_PROB_LIMIT_F32 as LOG_PROB_LIMIT} from '../policy_loss_values.js';
import {fastExp} from './fast_exp.js';
import type {ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';

type NumericArray = Float32Array | Int32Array | Uint8Array;

/** @internal The data of a fused GRPO loss as flat row-major arrays. */
export interface GrpoLossArrays {
  /** `[batch * time]` log-probs of the current policy. */
  logProbs: NumericArray;
  /** `[batch * time]` or undefined (ratio 1). */
  oldLogProbs?: NumericArray | undefined;
  /** `[batch * time]` or undefined (no KL term). */
  refLogProbs?: NumericArray | undefined;
  /** `[batch * time]` rollout log-probs (TIS, with `tisCap`) or undefined. */
  rolloutLogProbs?: NumericArray | undefined;
  /** `[batch]` or `[batch * time]` (see `advantagesPerToken`). */
  advantages: NumericArray;
  /** `[batch * time]` 0/1 weights. */
  mask: NumericArray;
  /** Number of rows (sequences). */
  batch: number;
  /** Number of columns (tokens per row). */
  time: number;
  /** Whether `advantages` holds one value per token rather than one per row. */
  advantagesPerToken: boolean;
  /** Run the value checks in the pass (see the module doc). Default false. */
  checkValues?: boolean;
}

/**
 * @internal Optional outputs of {@link grpoLossCpuKernel}: gradients w.r.t. the inputs that RL treats
 * as constants (computed only when a caller differentiates w.r.t. them). Each is zero-filled by the
 * caller; `advantages` is `[batch]` or `[batch * time]` like the input.
 */
export interface GrpoLossExtraGradients {
  /** d loss / d oldLogProbs (0 for the sequence ratio, which GSPO stops the gradient of). */
  oldLogProbs: Float32Array | null;
  /** d loss / d refLogProbs. */
  refLogProbs: Float32Array | null;
  /** d loss / d advantages. */
  advantages: Float32Array | null;
}

/** @internal Sums behind `GrpoLossStats`, over the unmasked tokens. */
export interface GrpoLossKernelStats {
  tokens: number;
  clipLow: number;
  clipHigh: number;
  clipDual: number;
  ratioSum: number;
  ratioMin: number;
  ratioMax: number;
  /** Sum of the per-token KL estimate; NaN when no `refLogProbs`. */
  klSum: number;
}

/** @internal What {@link grpoLossCpuKernel} reports besides the loss. */
export interface GrpoLossKernelReport {
  /** Set to true when a value check failed (only with `checkValues`). */
  bad: boolean;
  /** Filled in when not null (the statistics pass). */
  stats: GrpoLossKernelStats | null;
}

const KL_CODE = {k1: 0, k2: 1, k3: 2, abs: 3} as const;

/** @internal The aggregation's divisor and per-row weight (shared with the SIMD driver). */
export function rowWeights(batch: number, time: number, c: ResolvedGrpoLossOptions,
    rowCount: (i: number) => number): {globalScale: number; seqMeanTokenMean: boolean} {
  let denominator = c.normalizer ?? 0;
  if (c.normalizer === undefined) {
    let count = 0;
    if (c.aggregation === 'token-mean') {
      for (let i = 0; i < batch; i++) count += rowCount(i);
    } else {
      for (let i = 0; i < batch; i++) if (rowCount(i) > 0) count++;
    }
    denominator = Math.max(count, 1);
  }
  const globalScale = c.aggregation === 'seq-mean-token-sum-norm' ?
      1 / (denominator * (c.maxLength ?? time)) : 1 / denominator;
  return {globalScale, seqMeanTokenMean: c.aggregation === 'seq-mean-token-mean'};
}

/**
 * @internal Computes the GRPO loss of `x` under `c` and, when `grad` is given, writes
 * d loss / d logProbs into it (`[batch * time]`). Returns the scalar loss. One read of every input
 * (two of the mask, and of the row for `ratioLevel: 'sequence'`), one write of `grad`.
 */
export function grpoLossCpuKernel(
    x: GrpoLossArrays, c: ResolvedGrpoLossOptions, grad: Float32Array | null,
    extra: GrpoLossExtraGradients | null = null, report: GrpoLossKernelReport | null = null): number {
  const {logProbs: lp, oldLogProbs: old, advantages: adv, mask, batch, time, advantagesPerToken} = x;
  const stats = report?.stats ?? null;
  const ref = c.beta !== 0 || stats !== null ? x.refLogProbs : undefined;
  const roll = c.tisCap !== undefined ? x.rolloutLogProbs : undefined;
  const cap = c.tisCap ?? Infinity;
  const check = x.checkValues === true;
  const beta = c.beta;
  const lo = 1 - c.clipLow;
  const hi = 1 + c.clipHigh;
  const useDual = c.dualClip !== undefined;
  const dual = c.dualClip ?? 0;
  const est = KL_CODE[c.klEstimator];
  const sequenceRatio = c.ratioLevel === 'sequence' && old !== undefined;
  let bad = false;

  const counts = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    let n = 0;
    for (let k = i * time, end = k + time; k < end; k++) if (mask[k] !== 0) n++;
    counts[i] = n;
  }
  const {globalScale, seqMeanTokenMean} = rowWeights(batch, time, c, (i) => counts[i]!);

  let total = 0;
  for (let i = 0; i < batch; i++) {
    const base = i * time;
    const end = base + time;
    const rowCount = counts[i]!;
    const rowWeight = seqMeanTokenMean ? globalScale / Math.max(rowCount, 1) : globalScale;
    let seqRatio = 1;
    let seqClamped = false;
    if (sequenceRatio) {
      // GSPO: the ratio of the masked mean log-ratio (the gradient goes token-wise, GSPO-token).
      let rowLogRatio = 0;
      for (let k = base; k < end; k++) if (mask[k] !== 0) rowLogRatio += lp[k]! - old![k]!;
      const d = rowLogRatio / Math.max(rowCount, 1);
      seqClamped = d > LOG_RATIO_LIMIT || d < -LOG_RATIO_LIMIT;
      seqRatio = fastExp(d > LOG_RATIO_LIMIT ? LOG_RATIO_LIMIT : d < -LOG_RATIO_LIMIT ? -LOG_RATIO_LIMIT : d);
    }
    const rowAdvantage = advantagesPerToken ? 0 : adv[i]!;
    if (check && !advantagesPerToken && !Number.isFinite(rowAdvantage)) bad = true;
    let rowSum = 0;
    for (let k = base; k < end; k++) {
      const m = mask[k]!;
      if (m === 0) {
        if (grad !== null) grad[k] = 0;
        continue;
      }
      const lpk = lp[k]!;
      const a = advantagesPerToken ? adv[k]! : rowAdvantage;
      if (check && (m !== 1 || !(lpk <= LOG_PROB_LIMIT && lpk > -Infinity) ||
          (old !== undefined && !(old[k]! <= LOG_PROB_LIMIT && old[k]! > -Infinity)) ||
          (ref !== undefined && !(ref[k]! <= LOG_PROB_LIMIT && ref[k]! > -Infinity)) ||
          (roll !== undefined && !(roll[k]! <= LOG_PROB_LIMIT && roll[k]! > -Infinity)) ||
          (advantagesPerToken && !Number.isFinite(a)))) {
        bad = true;
      }
      let r = 1;
      let clamped = false;
      if (sequenceRatio) {
        r = seqRatio;
        clamped = seqClamped;
      } else if (old !== undefined) {
        const d = lpk - old[k]!;
        clamped = d > LOG_RATIO_LIMIT || d < -LOG_RATIO_LIMIT;
        r = fastExp(d > LOG_RATIO_LIMIT ? LOG_RATIO_LIMIT : d < -LOG_RATIO_LIMIT ? -LOG_RATIO_LIMIT : d);
      }
      // -min(r A, clip(r, lo, hi) A): the clipped branch is active (and constant, gradient 0) only for
      // A < 0, r < lo and for A > 0, r > hi; elsewhere it is -r A, whose gradient is -r A too
      // (d r / d logProbs = r, also for GSPO-token), or 0 where the log-ratio clamp is active.
      let loss: number;
      let g: number;
      let slope: number; // d loss / d A
      const lowClip = a < 0 && r < lo;
      const highClip = a > 0 && r > hi;
      const dualClip = useDual && a < 0 && r > dual;
      if (dualClip) {
        loss = -dual * a;
        g = 0;
        slope = -dual;
      } else if (lowClip) {
        loss = -lo * a;
        g = 0;
        slope = -lo;
      } else if (highClip) {
        loss = -hi * a;
        g = 0;
        slope = -hi;
      } else {
        loss = -r * a;
        g = clamped ? 0 : loss;
        slope = -r;
      }
      if (roll !== undefined) {
        // TIS: a constant weight min(exp(old - rollout), cap) on the policy term.
        const e = fastExp((old !== undefined ? old[k]! : lpk) - roll[k]!);
        const w = e < cap ? e : cap;
        loss *= w;
        g *= w;
        slope *= w;
      }
      const gPolicy = g;
      let gKl = 0;
      if (ref !== undefined) {
        const d = lpk - ref[k]!;
        let kl: number;
        if (est === 2) {
          const e = fastExp(-d);
          kl = e - 1 + d;
          gKl = beta * (1 - e);
        } else if (est === 0) {
          kl = d;
          gKl = beta;
        } else if (est === 1) {
          kl = 0.5 * d * d;
          gKl = beta * d;
        } else {
          kl = d > 0 ? d : -d;
          gKl = d > 0 ? beta : -beta; // tfjs: d|d|/dd = step(d, -1), which is -1 at 0
        }
        if (beta !== 0) {
          loss += beta * kl;
          g += gKl;
        }
        if (stats !== null) stats.klSum += kl;
      }
      if (stats !== null) {
        stats.tokens++;
        stats.ratioSum += r;
        if (r < stats.ratioMin) stats.ratioMin = r;
        if (r > stats.ratioMax) stats.ratioMax = r;
        if (lowClip) stats.clipLow++;
        if (highClip) stats.clipHigh++;
        if (dualClip) stats.clipDual++;
      }
      rowSum += loss;
      if (grad !== null) grad[k] = rowWeight * g;
      if (extra !== null) {
        if (extra.oldLogProbs !== null && !sequenceRatio) extra.oldLogProbs[k] = -rowWeight * gPolicy;
        if (extra.refLogProbs !== null) extra.refLogProbs[k] = -rowWeight * gKl;
        if (extra.advantages !== null) {
          if (advantagesPerToken) extra.advantages[k] = rowWeight * slope;
          else extra.advantages[i] = extra.advantages[i]! + rowWeight * slope;
        }
      }
    }
    total += rowWeight * rowSum;
  }
  if (report !== null) report.bad = bad;
  return total;
}

/** @internal Fresh statistics sums. */
export function emptyKernelStats(): GrpoLossKernelStats {
  return {tokens: 0, clipLow: 0, clipHigh: 0, clipDual: 0, ratioSum: 0, ratioMin: Infinity, ratioMax: -Infinity,
    klSum: 0};
}

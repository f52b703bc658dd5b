/**
 * WGSL shared by the two webgpu paths of the fused `grpoLoss` (`grpo_loss_webgpu.ts`, through tfjs's
 * `runWebGPUProgram`, and `grpo_loss_webgpu_direct.ts`, on the backend's device): the per-row body
 * ({@link rowLossWgsl}: GSPO's sequence ratio, the row weight, the token loop) and the per-token loss,
 * gradient and statistics ({@link tokenLossWgsl}), so that both compute exactly the same formulas
 * from one source.
 * @module
 */
import type {ResolvedGrpoLossOptions} from './grpo_loss_kernel_inputs.js';

/** @internal Which variant of the per-token code a shader needs. */
export interface TokenLossFlags {
  hasOld: boolean;
  sequence: boolean;
  kl: boolean;
  klEstimator: ResolvedGrpoLossOptions['klEstimator'];
  dual: boolean;
  perTokenAdvantages: boolean;
  /** Truncated importance sampling: `rolloutLogProbs` bound, `tisCap` in the uniforms. */
  tis: boolean;
  /** In-kernel value checks: OR the {@link VALUE_CHECK_BITS} of bad values into `bad` (a u32 var). */
  checks: boolean;
  /**
   * Accumulate the statistics of `grpoLossWithStats` into the `st*` variables (see
   * {@link STATS_DECLS_WGSL}); with `kl` or `klStats` the KL estimate is summed into `stKl`.
   */
  stats: boolean;
  /** `refLogProbs` bound for the statistics only (beta = 0): the KL estimate is computed, not added. */
  klStats: boolean;
}

/** @internal WGSL declaring the per-thread statistics accumulators that {@link tokenLossWgsl} updates. */
export const STATS_DECLS_WGSL = `var stLow = 0.0;
  var stHigh = 0.0;
  var stDual = 0.0;
  var stRatio = 0.0;
  var stKl = 0.0;
  var stMin = 3.0e38;
  var stMax = -3.0e38;`;

/** @internal The policy log-ratio is clamped to [-LIMIT, LIMIT] before exp, as the composed ops do. */
export const LOG_RATIO_LIMIT_WGSL = '20.0';

/**
 * @internal Bits of the value-check word the kernels write (0 = every value fine), in the order
 * of the messages of {@link valueCheckMessage}.
 */
export const VALUE_CHECK_BITS = {
  maskNotBinary: 1, advantagesNotFinite: 2,
  logProbsNotFinite: 4, oldLogProbsNotFinite: 8, refLogProbsNotFinite: 16, rolloutLogProbsNotFinite: 32,
  logProbsPositive: 64, oldLogProbsPositive: 128, refLogProbsPositive: 256, rolloutLogProbsPositive: 512,
} as const;

/** Log-probs above this are flagged as probabilities passed by mistake (log p <= 0 up to rounding). */
export const MAX_LOG_PROB = 1e-4;

/** @internal The errors named by a non-zero value-check word, joined; `fn` names the public function. */
export function valueCheckMessage(fn: string, bits: number): string {
  const B = VALUE_CHECK_BITS;
  const parts: string[] = [];
  if (bits & B.maskNotBinary) parts.push(`'mask' expected values in {0, 1}, got another value`);
  if (bits & B.advantagesNotFinite) parts.push(`'advantages' expected finite values on unmasked tokens, got NaN or ±Infinity`);
  for (const name of ['logProbs', 'oldLogProbs', 'refLogProbs', 'rolloutLogProbs'] as const) {
    if (bits & B[`${name}NotFinite`]) parts.push(`'${name}' expected finite values on unmasked tokens, got NaN or ±Infinity`);
    if (bits & B[`${name}Positive`]) {
      parts.push(`'${name}' expected log-probabilities (<= 0), got values > ${MAX_LOG_PROB} on unmasked tokens ` +
          `(probabilities passed instead of log-probabilities?)`);
    }
  }
  return `${fn}: ${parts.join('; ')}`;
}

/** WGSL: ORs `bit` into `bad` when the f32 `x` is NaN or ±Inf (exponent all ones), `pos` when > MAX_LOG_PROB. */
function checkLogProbWgsl(x: string, notFinite: number, positive: number): string {
  return `if ((bitcast<u32>(${x}) & 0x7f800000u) == 0x7f800000u) { bad = bad | ${notFinite}u; }
      else if (${x} > ${MAX_LOG_PROB}) { bad = bad | ${positive}u; }`;
}

/**
 * @internal WGSL of the KL estimate `klv` = k(d) and its derivative `gk` = dk/dd, with `d` = lp - ref
 * in scope.
 */
export function klWgsl(estimator: ResolvedGrpoLossOptions['klEstimator']): string {
  switch (estimator) {
    case 'k1': return 'let klv = d; let gk = 1.0;';
    case 'k2': return 'let klv = 0.5 * d * d; let gk = d;';
    case 'k3': return 'let e = exp(-d); let klv = e - 1.0 + d; let gk = 1.0 - e;';
    // tfjs's gradient of abs is step(d, -1): -1 at d = 0.
    case 'abs': return 'let klv = abs(d); let gk = select(-1.0, 1.0, d > 0.0);';
  }
}

/**
 * @internal WGSL for one unmasked token `k`: counts it, computes its clipped-surrogate loss (DAPO's
 * asymmetric clip, dual-clip, GSPO's `seqRatio`), the policy log-ratio clamped to ±20 before `exp`
 * (zero gradient outside, as the composed ops' `clipByValue`), times the detached truncated
 * importance weight min(exp(old - rollout), tisCap) when `tis`, plus the KL term into `loss`;
 * d loss / d logProbs_k into `g` (declared by the caller), and adds `loss` to `sum`. With `stats`
 * it counts the clipped tokens (A < 0, r < lo; A > 0, r > hi; A < 0, r > dual), sums r and the KL
 * estimate and tracks min / max r (the same indicators as `clipIndicators`). Needs `k`, `count`,
 * `sum`, `g`, `rowAdvantage`, `seqRatio`, `seqInRange` (and `bad` with `checks`, the `st*`
 * variables with `stats`) in scope; `u` names the uniform struct (`lo`, `hi`, `dual`, `beta`, `tisCap`).
 */
export function tokenLossWgsl(f: TokenLossFlags, u: string): string {
  const B = VALUE_CHECK_BITS;
  const L = LOG_RATIO_LIMIT_WGSL;
  const tokenRatio = f.hasOld && !f.sequence;
  return `
      count = count + 1.0;
      let lpk = f32(logProbs[k]);
      let a = ${f.perTokenAdvantages ? 'f32(advantages[k])' : 'rowAdvantage'};
      ${f.hasOld ? 'let oldk = f32(oldLogProbs[k]);' : 'let oldk = lpk;'}
      ${f.checks ? `${checkLogProbWgsl('lpk', B.logProbsNotFinite, B.logProbsPositive)}
      ${f.hasOld ? checkLogProbWgsl('oldk', B.oldLogProbsNotFinite, B.oldLogProbsPositive) : ''}
      if ((bitcast<u32>(a) & 0x7f800000u) == 0x7f800000u) { bad = bad | ${B.advantagesNotFinite}u; }` : ''}
      ${tokenRatio ? `let lr = lpk - oldk;
      let r = exp(clamp(lr, -${L}, ${L}));
      let inRange = lr >= -${L} && lr <= ${L};` : f.sequence && f.hasOld ? `let r = seqRatio;
      let inRange = seqInRange;` : `let r = 1.0;
      let inRange = true;`}
      var loss = -r * a;
      g = select(0.0, loss, inRange);
      if (a < 0.0 && r < ${u}.lo) {
        loss = -${u}.lo * a;
        g = 0.0;
      } else if (a > 0.0 && r > ${u}.hi) {
        loss = -${u}.hi * a;
        g = 0.0;
      }
      ${f.dual ? `if (a < 0.0 && r > ${u}.dual) {
        loss = -${u}.dual * a;
        g = 0.0;
      }` : ''}
      ${f.tis ? `let rollk = f32(rolloutLogProbs[k]);
      ${f.checks ? checkLogProbWgsl('rollk', B.rolloutLogProbsNotFinite, B.rolloutLogProbsPositive) : ''}
      let w = min(exp(oldk - rollk), ${u}.tisCap);
      loss = loss * w;
      g = g * w;` : ''}
      ${f.kl || (f.stats && f.klStats) ? `let refk = f32(refLogProbs[k]);
      ${f.checks ? checkLogProbWgsl('refk', B.refLogProbsNotFinite, B.refLogProbsPositive) : ''}
      let d = lpk - refk;
      ${klWgsl(f.klEstimator)}
      ${f.kl ? `loss = loss + ${u}.beta * klv;
      g = g + ${u}.beta * gk;` : ''}
      ${f.stats ? 'stKl = stKl + klv;' : ''}` : ''}
      ${f.stats ? `stLow = stLow + select(0.0, 1.0, a < 0.0 && r < ${u}.lo);
      stHigh = stHigh + select(0.0, 1.0, a > 0.0 && r > ${u}.hi);
      ${f.dual ? `stDual = stDual + select(0.0, 1.0, a < 0.0 && r > ${u}.dual);` : ''}
      stRatio = stRatio + r;
      stMin = min(stMin, r);
      stMax = max(stMax, r);` : ''}
      sum = sum + loss;`;
}

/**
 * @internal WGSL tree reduction of two f32 values over the `wg` threads of a workgroup (every thread
 * must call it): workgroup arrays `${parts}A`/`${parts}B` and `fn name(lid : u32, a : f32, b : f32)`.
 */
export function reduceTwoWgsl(name: string, parts: string, wg: number): string {
  const [A, B] = [`${parts}A`, `${parts}B`];
  return `
var<workgroup> ${A} : array<f32, ${wg}>;
var<workgroup> ${B} : array<f32, ${wg}>;
fn ${name}(lid : u32, a : f32, b : f32) -> vec2<f32> {
  ${A}[lid] = a;
  ${B}[lid] = b;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      ${A}[lid] = ${A}[lid] + ${A}[lid + s];
      ${B}[lid] = ${B}[lid] + ${B}[lid + s];
    }
    workgroupBarrier();
  }
  let out = vec2<f32>(${A}[0], ${B}[0]);
  workgroupBarrier();
  return out;
}
`;
}

/**
 * @internal WGSL tree reduction of the statistics over the `wg` threads of a workgroup (every thread
 * must call it): `fn reduceStats(lid, a, b) -> StatPair` sums `a` = (low, high, dual, ratio sum)
 * and reduces `b` = (KL sum, min ratio, max ratio, token count) by (sum, min, max, sum).
 */
export function reduceStatsWgsl(wg: number): string {
  return `
var<workgroup> statA : array<vec4<f32>, ${wg}>;
var<workgroup> statB : array<vec4<f32>, ${wg}>;
struct StatPair { a : vec4<f32>, b : vec4<f32>, };
fn reduceStats(lid : u32, a : vec4<f32>, b : vec4<f32>) -> StatPair {
  statA[lid] = a;
  statB[lid] = b;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      statA[lid] = statA[lid] + statA[lid + s];
      let x = statB[lid];
      let y = statB[lid + s];
      statB[lid] = vec4<f32>(x.x + y.x, min(x.y, y.y), max(x.z, y.z), x.w + y.w);
    }
    workgroupBarrier();
  }
  let out = StatPair(statA[0], statB[0]);
  workgroupBarrier();
  return out;
}
`;
}

/** @internal Names and expressions {@link rowLossWgsl} is written against. */
export interface RowLossNames {
  /** The uniform struct (`numCols` and the fields {@link tokenLossWgsl} reads). */
  u: string;
  /** u32 expressions: the row, the thread's index in its workgroup, the first token and one past the last. */
  row: string;
  lid: string;
  start: string;
  end: string;
  /** Workgroup size. */
  wg: number;
  /** A function of {@link reduceTwoWgsl}. */
  reduceTwo: string;
  /** The statement storing the gradient `value` of token `k` (only when `writeGrad`). */
  storeGrad: (value: string) => string;
}

/** @internal Whether the per-row pre-pass (GSPO's sequence ratio, 'seq-mean-token-mean' row weights) is needed. */
export function needsRowPass(f: {sequence: boolean; hasOld: boolean; seqMeanTokenMean: boolean}): boolean {
  return (f.sequence && f.hasOld) || f.seqMeanTokenMean;
}

/**
 * @internal The body of one workgroup's part of a row, shared by both webgpu paths: the row's token
 * count and mean log-ratio when {@link needsRowPass} (over the whole row), `seqRatio`, the row weight
 * (1 / tokens for 'seq-mean-token-mean', else 1), then the tokens [start, end): {@link tokenLossWgsl},
 * the mask check, the gradient times the row weight. Leaves `sum` (unweighted loss sum), `count`,
 * `rowWeight` (and `bad`, the `st*` statistics) per thread, not yet reduced over the workgroup.
 * Every thread of the workgroup must run it (it may reduce).
 */
export function rowLossWgsl(f: TokenLossFlags & {seqMeanTokenMean: boolean; writeGrad: boolean}, o: RowLossNames): string {
  const WG = `${o.wg}u`;
  return `
  let row = ${o.row};
  let lid = ${o.lid};
  let T = u32(${o.u}.numCols);
  let base = row * T;
  let start = ${o.start};
  let end = ${o.end};
  var bad = 0u;
  var rowCount = 0.0;
  var rowLogRatio = 0.0;
  ${needsRowPass(f) ? `
  for (var t = lid; t < T; t = t + ${WG}) {
    let k = base + t;
    if (f32(maskValues[k]) != 0.0) {
      rowCount = rowCount + 1.0;
      ${f.sequence && f.hasOld ? 'rowLogRatio = rowLogRatio + (f32(logProbs[k]) - f32(oldLogProbs[k]));' : ''}
    }
  }
  let rowStats = ${o.reduceTwo}(lid, rowCount, rowLogRatio);
  rowCount = rowStats.x;
  rowLogRatio = rowStats.y;` : ''}
  let seqLogRatio = rowLogRatio / max(rowCount, 1.0);
  let seqRatio = exp(clamp(seqLogRatio, -${LOG_RATIO_LIMIT_WGSL}, ${LOG_RATIO_LIMIT_WGSL}));
  let seqInRange = seqLogRatio >= -${LOG_RATIO_LIMIT_WGSL} && seqLogRatio <= ${LOG_RATIO_LIMIT_WGSL};
  let rowWeight = ${f.seqMeanTokenMean ? '1.0 / max(rowCount, 1.0)' : '1.0'};
  let rowAdvantage = ${f.perTokenAdvantages ? '0.0' : 'f32(advantages[row])'};
  var sum = 0.0;
  var count = 0.0;
  ${f.stats ? STATS_DECLS_WGSL : ''}
  for (var t = start + lid; t < end; t = t + ${WG}) {
    let k = base + t;
    var g = 0.0;
    let m = f32(maskValues[k]);
    ${f.checks ? `if (m != 0.0 && m != 1.0) { bad = bad | ${VALUE_CHECK_BITS.maskNotBinary}u; }` : ''}
    if (m != 0.0) {
      ${tokenLossWgsl(f, o.u)}
    }
    ${f.writeGrad ? o.storeGrad('rowWeight * g') : ''}
  }`;
}

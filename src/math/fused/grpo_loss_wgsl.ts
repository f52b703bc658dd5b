/**
 * WGSL shared by the two webgpu paths of the fused `grpoLoss` (`grpo_loss_webgpu.ts`, through tfjs's
 * `runWebGPUProgram`, and `grpo_loss_webgpu_direct.ts`, on the backend's device): the per-token loss
 * and gradient, so that both compute exactly the same formulas.
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
}

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
 * @internal WGSL adding beta * KL_t to `loss` and d/d logProbs of it to `g`, with `d` = lp - ref
 * in scope; `u` names the uniform struct holding `beta`.
 */
export function klWgsl(estimator: ResolvedGrpoLossOptions['klEstimator'], u: string): string {
  switch (estimator) {
    case 'k1': return `loss = loss + ${u}.beta * d; g = g + ${u}.beta;`;
    case 'k2': return `loss = loss + ${u}.beta * 0.5 * d * d; g = g + ${u}.beta * d;`;
    case 'k3': return `let e = exp(-d); loss = loss + ${u}.beta * (e - 1.0 + d); g = g + ${u}.beta * (1.0 - e);`;
    // tfjs's gradient of abs is step(d, -1): -1 at d = 0.
    case 'abs': return `loss = loss + ${u}.beta * abs(d); g = g + select(-${u}.beta, ${u}.beta, d > 0.0);`;
  }
}

/**
 * @internal WGSL for one unmasked token `k`: counts it, computes its clipped-surrogate loss (DAPO's
 * asymmetric clip, dual-clip, GSPO's `seqRatio`), the policy log-ratio clamped to ±20 before `exp`
 * (zero gradient outside, as the composed ops' `clipByValue`), times the detached truncated
 * importance weight min(exp(old - rollout), tisCap) when `tis`, plus the KL term into `loss`;
 * d loss / d logProbs_k into `g` (declared by the caller), and adds `loss` to `sum`. Needs `k`,
 * `count`, `sum`, `g`, `rowAdvantage`, `seqRatio`, `seqInRange` (and `bad` with `checks`) in scope;
 * `u` names the uniform struct (`lo`, `hi`, `dual`, `beta`, `tisCap`).
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
      ${f.kl ? `let refk = f32(refLogProbs[k]);
      ${f.checks ? checkLogProbWgsl('refk', B.refLogProbsNotFinite, B.refLogProbsPositive) : ''}
      let d = lpk - refk;
      ${klWgsl(f.klEstimator, u)}` : ''}
      sum = sum + loss;`;
}

/**
 * @internal WGSL tree reduction of two f32 values over the `wg` threads of a workgroup (every thread
 * must call it): workgroup arrays `${parts}A`/`${parts}B` and `fn name(lid : u32, a : f32, b : f32)`,
 * or `fn name(a : f32, b : f32)` reading tfjs's `localIndex` when `lidFromLocalIndex`.
 */
export function reduceTwoWgsl(name: string, parts: string, wg: number, lidFromLocalIndex: boolean): string {
  const [A, B] = [`${parts}A`, `${parts}B`];
  return `
var<workgroup> ${A} : array<f32, ${wg}>;
var<workgroup> ${B} : array<f32, ${wg}>;
fn ${name}(${lidFromLocalIndex ? '' : 'lid : u32, '}a : f32, b : f32) -> vec2<f32> {
  ${lidFromLocalIndex ? 'let lid = localIndex;' : ''}
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

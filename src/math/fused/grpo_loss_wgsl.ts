/**
 * WGSL shared by the two webgpu paths of the fused `grpoLoss` (`grpo_loss_webgpu.ts`, through tfjs's
 * `runWebGPUProgram`, and `grpo_loss_webgpu_direct.ts`, on the backend's device): the per-token loss
 * and gradient, so that both compute exactly the same formulas.
 * @module
 */
import type {ResolvedGrpoLossOptions} from '../grpo_loss.js';

/** @internal Which variant of the per-token code a shader needs. */
export interface TokenLossFlags {
  hasOld: boolean;
  sequence: boolean;
  kl: boolean;
  klEstimator: ResolvedGrpoLossOptions['klEstimator'];
  dual: boolean;
  perTokenAdvantages: boolean;
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
 * asymmetric clip, dual-clip, GSPO's `seqRatio`) plus the KL term into `loss`, d loss / d logProbs_k
 * into `g` (declared by the caller), and adds `loss` to `sum`. Needs `k`, `count`, `sum`, `g`,
 * `rowAdvantage` and `seqRatio` in scope; `u` names the uniform struct (`lo`, `hi`, `dual`, `beta`).
 */
export function tokenLossWgsl(f: TokenLossFlags, u: string): string {
  return `
      count = count + 1.0;
      let lpk = f32(logProbs[k]);
      let a = ${f.perTokenAdvantages ? 'f32(advantages[k])' : 'rowAdvantage'};
      let r = ${f.sequence && f.hasOld ? 'seqRatio' : f.hasOld ? 'exp(lpk - f32(oldLogProbs[k]))' : '1.0'};
      var loss = -r * a;
      g = loss;
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
      ${f.kl ? `let d = lpk - f32(refLogProbs[k]);
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

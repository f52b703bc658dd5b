/**
 * WGSL of the direct-device fused `grpoLoss` on webgpu (`grpo_loss_webgpu_direct.ts` records them):
 * three compute shaders sharing one bind-group layout, so that one bind group serves every dispatch
 * of a step.
 * 1. `rows`: workgroups of 256 threads, one per sequence, or for 'token-mean' with token-level ratios
 *    (no per-row statistic needed) one per chunk of {@link CHUNK} tokens of a sequence, so that long
 *    rows still fill the GPU: per-token loss and d loss / d logProbs (unscaled, times the row weight
 *    of 'seq-mean-token-mean'), partial loss sum, token count and value-check bits.
 * 2. `finalize`: reduces the partials to the denominator (token count, non-empty rows or
 *    `normalizer`, times `maxLength` for Dr. GRPO); writes the loss (NaN when a value check failed)
 *    and the value-check word. With a gradient and at most {@link COMBINED_MAX_PARTIALS} partials,
 *    one workgroup per chunk also multiplies its part of the gradient by 1 / denominator (each
 *    recomputes the small reduction); with more, one workgroup stores 1 / denominator for
 * 3. `scale`: one workgroup per chunk, gradient times 1 / denominator.
 * @module
 */
import {reduceTwoWgsl, tokenLossWgsl, type TokenLossFlags, VALUE_CHECK_BITS} from './grpo_loss_wgsl.js';

/** @internal Threads per workgroup. */
export const WG = 256;
/** @internal Tokens per workgroup of the `rows` dispatch when a row may be split. */
export const CHUNK = 1024;
/** @internal Largest number of row partials for which the finalize dispatch also scales the gradient. */
export const COMBINED_MAX_PARTIALS = 1024;

/** @internal Code-shaping flags (each combination compiles once per device). */
export interface GrpoShaderFlags extends TokenLossFlags {
  seqMeanTokenMean: boolean;
  tokenMean: boolean;
  sumNorm: boolean;
  writeGrad: boolean;
  /** Rows split into chunks of CHUNK tokens (each workgroup writes one partial). */
  chunked: boolean;
  /** WGSL element type of each input buffer (tfjs keeps int32 and bool, sometimes float32, in i32 buffers). */
  types: {logProbs: string; oldLogProbs: string; refLogProbs: string; rolloutLogProbs: string; advantages: string;
    mask: string};
}

/**
 * @internal Names of the bindings after the uniform (binding 0), in order, of the `rows` stage
 * (inputs, old/ref/rollout only when used, then partials and grad) or of the `finalize`/`scale`
 * stage (partials, grad, loss): two layouts keep each within WebGPU's default of 8 storage buffers.
 */
export function bindingNames(f: GrpoShaderFlags, stage: 'rows' | 'finalize'): string[] {
  if (stage === 'finalize') return ['partials', 'grad', 'lossOut'];
  const names = ['logProbs'];
  if (f.hasOld) names.push('oldLogProbs');
  if (f.kl) names.push('refLogProbs');
  if (f.tis) names.push('rolloutLogProbs');
  names.push('advantages', 'maskValues', 'partials', 'grad');
  return names;
}

/** @internal Whether a binding is written by the shaders. */
export function isWritten(name: string): boolean {
  return ['partials', 'grad', 'lossOut'].includes(name);
}

/** @internal Index in `partials` (f32) of the value-check word that `finalize` writes. */
export function checkWordIndex(numPartials: number): number {
  return 2 * numPartials + 1;
}

/** @internal The cache key of the shaders of `f`. */
export function shaderKey(f: GrpoShaderFlags): string {
  const t = f.types;
  return [f.hasOld, f.sequence, f.kl, f.klEstimator, f.dual, f.perTokenAdvantages, f.tis, f.checks,
    f.seqMeanTokenMean, f.tokenMean, f.sumNorm, f.writeGrad, f.chunked,
    t.logProbs, t.oldLogProbs, t.refLogProbs, t.rolloutLogProbs, t.advantages, t.mask].map(String).join('_');
}

function header(f: GrpoShaderFlags, stage: 'rows' | 'finalize'): string {
  const type: Record<string, string> = {logProbs: f.types.logProbs, oldLogProbs: f.types.oldLogProbs,
    refLogProbs: f.types.refLogProbs, rolloutLogProbs: f.types.rolloutLogProbs, advantages: f.types.advantages,
    maskValues: f.types.mask};
  const decls = bindingNames(f, stage).map((n, i) => isWritten(n) ?
    `@group(0) @binding(${i + 1}) var<storage, read_write> ${n} : array<${type[n] ?? 'f32'}>;` :
    `@group(0) @binding(${i + 1}) var<storage, read> ${n} : array<${type[n]}>;`);
  return `
struct Params {
  numRows : u32, numCols : u32, numChunks : u32, chunkSize : u32,
  lo : f32, hi : f32, dual : f32, beta : f32, normalizer : f32, maxLength : f32, tisCap : f32, pad1 : f32,
};
@group(0) @binding(0) var<uniform> params : Params;
${decls.join('\n')}
var<workgroup> badBits : atomic<u32>;
${reduceTwoWgsl('reduceTwo', 'part', WG, false)}`;
}

/** @internal Whether the per-row pre-pass (GSPO's sequence ratio, 'seq-mean-token-mean' row weights) is needed. */
export function needsRowPass(f: {sequence: boolean; hasOld: boolean; seqMeanTokenMean: boolean}): boolean {
  return (f.sequence && f.hasOld) || f.seqMeanTokenMean;
}

/**
 * @internal Per-token loss, unscaled gradient and partials, one workgroup per (chunk, row) (one
 * chunk per row unless `chunked`): partials = [loss sums (P) | token counts (P) | gradScale, 3 pad |
 * check bits as f32 (P)], P = rows * chunks; `finalize` writes the OR of all check bits, as f32, at
 * 2P + 1 ({@link checkWordIndex}), partial index row * chunks + chunk.
 */
export function rowsShader(f: GrpoShaderFlags): string {
  const needRowPass = needsRowPass(f);
  return `${header(f, 'rows')}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.y;
  let T = params.numCols;
  let base = row * T;
  let start = wid.x * params.chunkSize;
  let end = min(start + params.chunkSize, T);
  var bad = 0u;
  if (lid == 0u) { atomicStore(&badBits, 0u); }
  workgroupBarrier();
  var rowCount = 0.0;
  var rowLogRatio = 0.0;
  ${needRowPass ? `
  for (var t = lid; t < T; t = t + ${WG}u) {
    let k = base + t;
    if (f32(maskValues[k]) != 0.0) {
      rowCount = rowCount + 1.0;
      ${f.sequence && f.hasOld ? 'rowLogRatio = rowLogRatio + (f32(logProbs[k]) - f32(oldLogProbs[k]));' : ''}
    }
  }
  let rowStats = reduceTwo(lid, rowCount, rowLogRatio);
  rowCount = rowStats.x;
  rowLogRatio = rowStats.y;` : ''}
  let seqLogRatio = rowLogRatio / max(rowCount, 1.0);
  let seqRatio = exp(clamp(seqLogRatio, -20.0, 20.0));
  let seqInRange = seqLogRatio >= -20.0 && seqLogRatio <= 20.0;
  let rowWeight = ${f.seqMeanTokenMean ? '1.0 / max(rowCount, 1.0)' : '1.0'};
  let rowAdvantage = ${f.perTokenAdvantages ? '0.0' : 'f32(advantages[row])'};
  var sum = 0.0;
  var count = 0.0;
  for (var t = start + lid; t < end; t = t + ${WG}u) {
    let k = base + t;
    var g = 0.0;
    let m = f32(maskValues[k]);
    ${f.checks ? `if (m != 0.0 && m != 1.0) { bad = bad | ${VALUE_CHECK_BITS.maskNotBinary}u; }` : ''}
    if (m != 0.0) {
      ${tokenLossWgsl(f, 'params')}
    }
    ${f.writeGrad ? 'grad[k] = rowWeight * g;' : ''}
  }
  ${f.checks ? 'if (bad != 0u) { atomicOr(&badBits, bad); }' : ''}
  let totals = reduceTwo(lid, sum, count);
  if (lid == 0u) {
    let p = row * params.numChunks + wid.x;
    let P = params.numRows * params.numChunks;
    partials[p] = rowWeight * totals.x;
    partials[P + p] = totals.y;
    ${f.checks ? 'partials[2u * P + 4u + p] = f32(atomicLoad(&badBits));' : ''}
  }
}
`;
}

/**
 * @internal Reduces the partials (per row, or per chunk for 'token-mean', whose denominator is the
 * plain token count); workgroup (0, 0) writes the loss and the check word. `combined`: one workgroup
 * per (chunk, row), each also scales its part of the gradient. Otherwise one workgroup, which stores
 * 1 / denominator for `scale`.
 */
export function finalizeShader(f: GrpoShaderFlags, combined: boolean): string {
  return `${header(f, 'finalize')}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let P = params.numRows * params.numChunks;
  if (lid == 0u) { atomicStore(&badBits, 0u); }
  workgroupBarrier();
  var sum = 0.0;
  var count = 0.0;
  var bad = 0u;
  for (var i = lid; i < P; i = i + ${WG}u) {
    sum = sum + partials[i];
    let c = partials[P + i];
    count = count + ${f.tokenMean ? 'c' : 'select(0.0, 1.0, c > 0.0)'};
    ${f.checks ? 'bad = bad | u32(partials[2u * P + 4u + i]);' : ''}
  }
  ${f.checks ? 'if (bad != 0u) { atomicOr(&badBits, bad); }' : ''}
  let totals = reduceTwo(lid, sum, count);
  var denominator = select(max(totals.y, 1.0), params.normalizer, params.normalizer > 0.0);
  ${f.sumNorm ? 'denominator = denominator * params.maxLength;' : ''}
  let gradScale = 1.0 / denominator;
  if (wid.x == 0u && wid.y == 0u && lid == 0u) {
    ${f.checks ? `let allBad = atomicLoad(&badBits);
    partials[2u * P + 1u] = f32(allBad);
    lossOut[0] = select(totals.x / denominator, bitcast<f32>(0x7fc00000u | (allBad & 0u)), allBad != 0u);` :
    'lossOut[0] = totals.x / denominator;'}
    ${combined ? '' : 'partials[2u * P] = gradScale;'}
  }
  ${combined ? `
  let base = wid.y * params.numCols;
  let start = wid.x * params.chunkSize;
  let end = min(start + params.chunkSize, params.numCols);
  for (var t = start + lid; t < end; t = t + ${WG}u) {
    grad[base + t] = grad[base + t] * gradScale;
  }` : ''}
}
`;
}

/** @internal One workgroup per (chunk, row): gradient times the 1 / denominator that `finalize` stored. */
export function scaleShader(f: GrpoShaderFlags): string {
  return `${header(f, 'finalize')}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let gradScale = partials[2u * params.numRows * params.numChunks];
  let base = wid.y * params.numCols;
  let start = wid.x * params.chunkSize;
  let end = min(start + params.chunkSize, params.numCols);
  for (var t = start + lid; t < end; t = t + ${WG}u) {
    grad[base + t] = grad[base + t] * gradScale;
  }
}
`;
}

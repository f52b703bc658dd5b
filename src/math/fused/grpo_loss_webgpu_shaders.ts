/**
 * WGSL of the direct-device fused `grpoLoss` on webgpu (`grpo_loss_webgpu_direct.ts` records them),
 * built on the row body shared with the `runWebGPUProgram` path (`grpo_loss_wgsl.ts`): up to four
 * compute shaders over three bind-group layouts (`rows`; `finalize` and `scale`; `stats`).
 * 1. `rows`: workgroups of 256 threads, one per sequence, or for 'token-mean' with token-level ratios
 *    (no per-row statistic needed) one per chunk of {@link CHUNK} tokens of a sequence, so that long
 *    rows still fill the GPU: per-token loss and d loss / d logProbs (unscaled, times the row weight
 *    of 'seq-mean-token-mean'), partial loss sum, token count and value-check bits (and, for
    `grpoLossWithStats`, partial clip counts, ratio sum / min / max and KL sum).
 * 2. `finalize`: reduces the partials to the denominator (token count, non-empty rows or
 *    `normalizer`, times `maxLength` for Dr. GRPO); writes the loss (NaN when a value check failed)
 *    and the value-check word. With a gradient and at most {@link COMBINED_MAX_PARTIALS} partials,
 *    one workgroup per chunk also multiplies its part of the gradient by 1 / denominator (each
 *    recomputes the small reduction); with more, one workgroup stores 1 / denominator for
 *    `scale`.
 * 3. `scale`: one workgroup per chunk, gradient times 1 / denominator.
 * 4. `stats` (`grpoLossWithStats` only): one workgroup reduces the statistics partials into one
 *    scalar output per statistic.
 * @module
 */
import {reduceStatsWgsl, reduceTwoWgsl, rowLossWgsl, type TokenLossFlags} from './grpo_loss_wgsl.js';

export {needsRowPass} from './grpo_loss_wgsl.js';

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
  /** With `stats`: the `kl` statistic is written (refLogProbs given). */
  statsKl: boolean;
  /** WGSL element type of each input buffer (tfjs keeps int32 and bool, sometimes float32, in i32 buffers). */
  types: {logProbs: string; oldLogProbs: string; refLogProbs: string; rolloutLogProbs: string; advantages: string;
    mask: string};
}

/** @internal The bind-group layouts: `rows`, `finalize` (also `scale`) and `stats`. */
export type GrpoStage = 'rows' | 'finalize' | 'stats';

/**
 * @internal Names of the bindings after the uniform (binding 0), in order, of the `rows` stage
 * (inputs, old/ref/rollout only when used, then partials and grad), of the `finalize`/`scale`
 * stage (partials, grad, loss) or of the `stats` stage (partials, one scalar per statistic): three
 * layouts keep each within WebGPU's default of 8 storage buffers.
 */
export function bindingNames(f: GrpoShaderFlags, stage: GrpoStage): string[] {
  if (stage === 'finalize') return ['partials', 'grad', 'lossOut'];
  if (stage === 'stats') return ['partials', ...STAT_OUTPUTS.filter((n) => n !== 'kl' || f.statsKl)];
  const names = ['logProbs'];
  if (f.hasOld) names.push('oldLogProbs');
  if (f.kl || (f.stats && f.klStats)) names.push('refLogProbs');
  if (f.tis) names.push('rolloutLogProbs');
  names.push('advantages', 'maskValues', 'partials', 'grad');
  return names;
}

/** @internal Whether a binding is written by the shaders. */
export function isWritten(name: string): boolean {
  return ['partials', 'grad', 'lossOut', ...STAT_OUTPUTS].includes(name);
}

/** @internal Index in `partials` (f32) of the value-check word that `finalize` writes. */
export function checkWordIndex(numPartials: number): number {
  return 2 * numPartials + 1;
}

/** @internal The cache key of the shaders of `f`. */
export function shaderKey(f: GrpoShaderFlags): string {
  const t = f.types;
  return [f.hasOld, f.sequence, f.kl, f.klEstimator, f.dual, f.perTokenAdvantages, f.tis, f.checks,
    f.seqMeanTokenMean, f.tokenMean, f.sumNorm, f.writeGrad, f.chunked, f.stats, f.klStats, f.statsKl,
    t.logProbs, t.oldLogProbs, t.refLogProbs, t.rolloutLogProbs, t.advantages, t.mask].map(String).join('_');
}

function header(f: GrpoShaderFlags, stage: GrpoStage): string {
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
${reduceTwoWgsl('reduceTwo', 'part', WG)}
${f.stats && stage !== 'finalize' ? reduceStatsWgsl(WG) : ''}`;
}

/**
 * @internal Per-token loss, unscaled gradient and partials, one workgroup per (chunk, row) (one
 * chunk per row unless `chunked`): partials = [loss sums (P) | token counts (P) | gradScale, 3 pad |
 * check bits as f32 (P) | with `stats`: 8 per partial (low, high, dual, ratio sum, KL sum, min ratio,
 * max ratio, 0) from {@link statsOffset}], P = rows * chunks; `finalize` writes the OR of all check
 * bits, as f32, at 2P + 1 ({@link checkWordIndex}), partial index row * chunks + chunk.
 */
export function rowsShader(f: GrpoShaderFlags): string {
  return `${header(f, 'rows')}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lidIn : u32) {
  if (lidIn == 0u) { atomicStore(&badBits, 0u); }
  workgroupBarrier();
  ${rowLossWgsl(f, {u: 'params', row: 'wid.y', lid: 'lidIn', start: 'wid.x * params.chunkSize',
    end: 'min(start + params.chunkSize, T)', wg: WG, reduceTwo: 'reduceTwo', storeGrad: (v) => `grad[k] = ${v};`})}
  ${f.checks ? 'if (bad != 0u) { atomicOr(&badBits, bad); }' : ''}
  let totals = reduceTwo(lid, sum, count);
  ${f.stats ? 'let st = reduceStats(lid, vec4<f32>(stLow, stHigh, stDual, stRatio), vec4<f32>(stKl, stMin, stMax, 0.0));' : ''}
  if (lid == 0u) {
    let p = row * params.numChunks + wid.x;
    let P = params.numRows * params.numChunks;
    partials[p] = rowWeight * totals.x;
    partials[P + p] = totals.y;
    ${f.checks ? 'partials[2u * P + 4u + p] = f32(atomicLoad(&badBits));' : ''}
    ${f.stats ? `let s = 3u * P + 4u + 8u * p;
    partials[s] = st.a.x;
    partials[s + 1u] = st.a.y;
    partials[s + 2u] = st.a.z;
    partials[s + 3u] = st.a.w;
    partials[s + 4u] = st.b.x;
    partials[s + 5u] = st.b.y;
    partials[s + 6u] = st.b.z;` : ''}
  }
}
`;
}

/** @internal Index in `partials` (f32) of the first statistics partial. */
export function statsOffset(numPartials: number): number {
  return 3 * numPartials + 4;
}

/** @internal Length (f32) of the partials buffer. */
export function partialsLength(numPartials: number, stats: boolean): number {
  return statsOffset(numPartials) + (stats ? 8 * numPartials : 0);
}

/** @internal The statistics outputs, in binding order of the `stats` stage (`kl` only with refLogProbs). */
export const STAT_OUTPUTS = ['clipFracLow', 'clipFracHigh', 'clipFracDual', 'ratioMean', 'ratioMin', 'ratioMax', 'kl'] as const;

/**
 * @internal One workgroup: reduces the statistics partials (and the token counts) and writes each
 * statistic as a scalar, with the composed formulas: fractions of the token count (at least 1),
 * ratio mean / min / max (1 with no tokens), mean KL. NaN everywhere when a value check failed
 * (read from the check word `finalize` wrote before this dispatch).
 */
export function statsShader(f: GrpoShaderFlags): string {
  const out = (name: string, v: string) => `${name}[0] = select(${v}, nan, failed);`;
  return `${header(f, 'stats')}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid : u32) {
  let P = params.numRows * params.numChunks;
  let S = 3u * P + 4u;
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0, 3.0e38, -3.0e38, 0.0);
  for (var i = lid; i < P; i = i + ${WG}u) {
    let s = S + 8u * i;
    a = a + vec4<f32>(partials[s], partials[s + 1u], partials[s + 2u], partials[s + 3u]);
    b = vec4<f32>(b.x + partials[s + 4u], min(b.y, partials[s + 5u]), max(b.z, partials[s + 6u]), b.w + partials[P + i]);
  }
  let st = reduceStats(lid, a, b);
  if (lid == 0u) {
    let n = max(st.b.w, 1.0);
    let any = st.b.w > 0.0;
    let failed = ${f.checks ? 'partials[2u * P + 1u] != 0.0' : 'false'};
    let nan = bitcast<f32>(0x7fc00000u | u32(P & 0u));
    ${out('clipFracLow', 'st.a.x / n')}
    ${out('clipFracHigh', 'st.a.y / n')}
    ${out('clipFracDual', 'st.a.z / n')}
    ${out('ratioMean', 'select(1.0, st.a.w / n, any)')}
    ${out('ratioMin', 'select(1.0, st.b.y, any)')}
    ${out('ratioMax', 'select(1.0, st.b.z, any)')}
    ${f.statsKl ? out('kl', 'st.b.x / n') : ''}
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

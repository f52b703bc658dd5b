/**
 * WGSL of the fused log-prob kernels on webgpu (`log_probs_webgpu.ts`): `tokenLogProbs` and
 * `entropyFromLogits` over a `[rows, vocab]` float32 logits buffer, z = logits * invTemp.
 *
 * Forward (one read of the logits): an online log-sum-exp per thread (running max m,
 * s = sum e^(z - m), and for the entropy t = sum e^(z - m) (z - m), rescaled when m grows), merged
 * across the workgroup ({@link rowReduction}). One-pass: one workgroup of {@link LP_WG} threads per
 * row writes the value (logp = z[token] - m - log s, or H = log s - t / s) and per-row stats
 * [m, log s, t / s] for the backward pass. Split: workgroups over (span, row) write partial
 * (m, s, t), then one thread per row merges them and writes the same outputs ({@link finishRow} is
 * shared). `unroll` loads that many elements per thread before one max / rescale step (more loads in
 * flight per thread).
 *
 * Backward (one workgroup per `LP_WG * bwdIter` logits of a row, one read of the logits and one
 * write of the gradient, nothing else of size [rows, vocab]): p = e^(z - m - log s),
 * d logp / d logits = (onehot(token) - p) * dy * invTemp, d H / d logits = p * (t / s - (z - m)) * dy * invTemp.
 *
 * With `vec4` (vocab % 4 == 0) the logits and the gradient are read and written 16 bytes at a time;
 * otherwise every access is scalar (still coalesced across the workgroup).
 *
 * Every loaded logit is tested for NaN and +-Infinity (its exponent bits); a row with one gets a NaN
 * value and sets the check word (`log_probs_webgpu.ts` turns it into a named error).
 * @module
 */

/** @internal Threads per workgroup. */
export const LP_WG = 256;
/** @internal Elements handled per thread of the backward pass (in vec4 units with vec4). */
export const LP_BWD_ITER = 4;
/** @internal Default vec4 (or scalar) elements per workgroup of the split forward pass. */
export const LP_SPLIT_SPAN = 2048;

/** @internal Which kernel and layout. */
export interface LogProbShaderFlags {
  mode: 'logp' | 'entropy';
  vec4: boolean;
  /** Elements (vec4 with `vec4`) per thread of the backward pass; default {@link LP_BWD_ITER}. */
  bwdIter?: number;
  /** Loads per thread per step of the forward reduction (1, 2, 4 or 8); default 1. */
  unroll?: number;
  /** Elements (vec4 with `vec4`) per workgroup of the split forward; default {@link LP_SPLIT_SPAN}. */
  splitSpan?: number;
}

type Kind = 'uniform' | 'read' | 'rw';

/** @internal Binding kinds of the forward shader, in order. */
export function forwardKinds(f: LogProbShaderFlags): Kind[] {
  return f.mode === 'logp' ? ['uniform', 'read', 'read', 'rw', 'rw', 'rw'] : ['uniform', 'read', 'rw', 'rw', 'rw'];
}

/** @internal Binding kinds of the backward shader, in order. */
export function backwardKinds(f: LogProbShaderFlags): Kind[] {
  return f.mode === 'logp' ? ['uniform', 'read', 'read', 'read', 'read', 'rw'] : ['uniform', 'read', 'read', 'read', 'rw'];
}

/** @internal Binding kinds of the split forward's partial pass (uniform, logits, partials). */
export const SPLIT_KINDS: Kind[] = ['uniform', 'read', 'rw'];

/** @internal Binding kinds of the split forward's finalize pass. */
export function splitFinalizeKinds(f: LogProbShaderFlags): Kind[] {
  return f.mode === 'logp' ? ['uniform', 'read', 'read', 'read', 'rw', 'rw', 'rw'] : ['uniform', 'read', 'rw', 'rw', 'rw'];
}

/** The uniforms (binding 0) and storage bindings 1.. in order: [name, 'read' | 'rw', element type]. */
function header(bindings: Array<[string, 'read' | 'rw', string]>): string {
  return `
struct Params { rows : u32, vocab : u32, pad0 : u32, pad1 : u32, invTemp : f32, pad2 : f32, pad3 : f32, pad4 : f32 };
@group(0) @binding(0) var<uniform> params : Params;
${bindings.map(([name, access, type], i) => `@group(0) @binding(${i + 1}) var<storage, ${access === 'rw' ? 'read_write' : 'read'}> ${name} : array<${type}>;`).join('\n')}
fn notFinite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
fn notFinite4(x : vec4<f32>) -> bool {
  return any((bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) == vec4<u32>(0x7f800000u));
}
fn merge(a : vec3<f32>, b : vec3<f32>) -> vec3<f32> {
  let m = max(a.x, b.x);
  let fa = exp(a.x - m);
  let fb = exp(b.x - m);
  return vec3<f32>(m, a.y * fa + b.y * fb, fa * (a.z + (a.x - m) * a.y) + fb * (b.z + (b.x - m) * b.y));
}`;
}

/** One online step over `u` loads at logits[base + i + k * LP_WG], k < u. */
function onlineStep(f: LogProbShaderFlags, u: number): string {
  const ent = f.mode === 'entropy';
  const ks = Array.from({length: u}, (_, k) => k);
  const hmax = (z: string) => (f.vec4 ? `max(max(${z}.x, ${z}.y), max(${z}.z, ${z}.w))` : z);
  // The finiteness test reads the loaded value (a test of the computed z was dropped by the H200's driver).
  const lines = ks.flatMap((k) => [`let x${k} = logits[base + i${k === 0 ? '' : ` + ${k * LP_WG}u`}];`,
    `if (${f.vec4 ? 'notFinite4' : 'notFinite'}(x${k})) { bad = true; }`, `let z${k} = x${k} * params.invTemp;`]);
  lines.push(`let mx = ${ks.map((k) => hmax(`z${k}`)).reduce((a, b) => `max(${a}, ${b})`)};`,
      `if (mx > m) {
      let fm = exp(m - mx);
      ${ent ? 't = fm * (t + (m - mx) * s);' : ''}
      s = s * fm;
      m = mx;
    }`);
  for (const k of ks) {
    lines.push(`let d${k} = z${k} - ${f.vec4 ? 'vec4<f32>(m)' : 'm'};`, `let e${k} = exp(d${k});`,
        f.vec4 ? `s = s + (e${k}.x + e${k}.y) + (e${k}.z + e${k}.w);` : `s = s + e${k};`);
    if (ent) lines.push(f.vec4 ? `t = t + dot(e${k}, d${k});` : `t = t + e${k} * d${k};`);
  }
  return lines.join('\n    ');
}

/**
 * @internal The shared row reduction: every thread folds logits[base + i], i in [start, end) with
 * stride {@link LP_WG}, into (m, s, t), then a tree over workgroup memory leaves the merge in red[0]
 * (read it after the last barrier); `wbad` (workgroup atomic) is non-zero when a loaded logit was
 * NaN or +-Infinity. Expects `base`, `start`, `end`, `lid`, `red` and `wbad` in scope.
 */
export function rowReduction(f: LogProbShaderFlags): string {
  const u = f.unroll ?? 1;
  return `var m = -3.0e38;
  var s = 0.0;
  var t = 0.0;
  var bad = false;
  var i = start + lid;
  ${u > 1 ? `for (; i + ${(u - 1) * LP_WG}u < end; i = i + ${u * LP_WG}u) {
    ${onlineStep(f, u)}
  }` : ''}
  for (; i < end; i = i + ${LP_WG}u) {
    ${onlineStep(f, 1)}
  }
  if (bad) { atomicOr(&wbad, 1u); }
  red[lid] = vec3<f32>(m, s, t);
  workgroupBarrier();
  for (var w = ${LP_WG / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = merge(red[lid], red[lid + w]); }
    workgroupBarrier();
  }`;
}

/**
 * The shared end of a row: stats and the value from the merged (m, s, t) `r` of row `row`;
 * `tokenLogit(tok)` reads the raw logit of token `tok` (a u32) of that row. The check word gets 1 for
 * a token id outside [0, vocab), 2 for a non-finite logit (`rowBad`), and the value NaN.
 */
function finishRow(f: LogProbShaderFlags, tokenLogit: (tok: string) => string): string {
  return `let logS = log(r.y);
    let mean = r.z / r.y;
    stats[3u * row] = r.x;
    stats[3u * row + 1u] = logS;
    stats[3u * row + 2u] = mean;
    ${f.mode === 'entropy' ? 'values[row] = logS - mean;' : `let tok = tokens[row];
    if (tok < 0 || u32(tok) >= params.vocab) {
      values[row] = bitcast<f32>(0x7fc00000u | (u32(tok) & 0u));
      checkOut[0] = 1u;
    } else {
      values[row] = (${tokenLogit('u32(tok)')} * params.invTemp - r.x) - logS;
    }`}
    if (rowBad) {
      values[row] = bitcast<f32>(0x7fc00000u | (row & 0u));
      checkOut[0] = 2u;
    }`;
}

const elem = (f: LogProbShaderFlags) => (f.vec4 ? 'vec4<f32>' : 'f32');
const countExpr = (f: LogProbShaderFlags) => (f.vec4 ? 'params.vocab / 4u' : 'params.vocab');

/** @internal The one-pass forward shader: one workgroup per row. */
export function forwardShader(f: LogProbShaderFlags): string {
  const b: Array<[string, 'read' | 'rw', string]> = [['logits', 'read', elem(f)]];
  if (f.mode === 'logp') b.push(['tokens', 'read', 'i32']);
  b.push(['values', 'rw', 'f32'], ['stats', 'rw', 'f32'], ['checkOut', 'rw', 'u32']);
  const tokenLogit = (tok: string) => (f.vec4 ? `logits[(row * params.vocab + ${tok}) / 4u][(row * params.vocab + ${tok}) % 4u]` :
    `logits[row * params.vocab + ${tok}]`);
  return `${header(b)}
var<workgroup> red : array<vec3<f32>, ${LP_WG}>;
var<workgroup> wbad : atomic<u32>;
@compute @workgroup_size(${LP_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.x;
  let base = row * (${countExpr(f)});
  let start = 0u;
  let end = ${countExpr(f)};
  ${rowReduction(f)}
  if (lid == 0u) {
    let r = red[0];
    let rowBad = atomicLoad(&wbad) != 0u;
    ${finishRow(f, tokenLogit)}
  }
}
`;
}

/**
 * @internal Split forward, pass 1: workgroup (c, row) reduces (m, s, t) over span c of the row
 * (`splitSpan` elements, vec4 with `vec4`) into partials[(row * numSplits + c) * 3 ..].
 * `pad0` of the uniforms holds numSplits.
 */
export function splitPartialShader(f: LogProbShaderFlags): string {
  const span = f.splitSpan ?? LP_SPLIT_SPAN;
  return `${header([['logits', 'read', elem(f)], ['partials', 'rw', 'f32']])}
var<workgroup> red : array<vec3<f32>, ${LP_WG}>;
var<workgroup> wbad : atomic<u32>;
@compute @workgroup_size(${LP_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.y;
  let base = row * (${countExpr(f)});
  let start = wid.x * ${span}u;
  let end = min(start + ${span}u, ${countExpr(f)});
  ${rowReduction(f)}
  if (lid == 0u) {
    let p = 3u * (row * params.pad0 + wid.x);
    // A non-finite logit in this span: the partial max is +Infinity (the merge pass tests the loaded value).
    partials[p] = select(red[0].x, bitcast<f32>(0x7f800000u | (p & 0u)), atomicLoad(&wbad) != 0u);
    partials[p + 1u] = red[0].y;
    partials[p + 2u] = red[0].z;
  }
}
`;
}

/**
 * @internal Split forward, pass 2: one thread per row merges its partials and writes the value and
 * the stats, as the one-pass forward does.
 */
export function splitFinalizeShader(f: LogProbShaderFlags): string {
  const b: Array<[string, 'read' | 'rw', string]> = f.mode === 'logp' ? [['logits', 'read', 'f32'], ['tokens', 'read', 'i32']] : [];
  b.push(['partials', 'read', 'f32'], ['values', 'rw', 'f32'], ['stats', 'rw', 'f32'], ['checkOut', 'rw', 'u32']);
  return `${header(b)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) { return; }
  let S = params.pad0;
  var r = vec3<f32>(-3.0e38, 0.0, 0.0);
  var rowBad = false;
  for (var c = 0u; c < S; c = c + 1u) {
    let p = 3u * (row * S + c);
    let pm = partials[p];
    if (notFinite(pm)) { rowBad = true; }
    r = merge(r, vec3<f32>(pm, partials[p + 1u], partials[p + 2u]));
  }
  ${finishRow(f, (tok) => `logits[row * params.vocab + ${tok}]`)}
}
`;
}

/** @internal The backward shader: gradient w.r.t. the logits, one workgroup per span of a row. */
export function backwardShader(f: LogProbShaderFlags): string {
  const ent = f.mode === 'entropy';
  const b: Array<[string, 'read' | 'rw', string]> = [['logits', 'read', elem(f)]];
  if (!ent) b.push(['tokens', 'read', 'i32']);
  b.push(['stats', 'read', 'f32'], ['dy', 'read', 'f32'], ['grad', 'rw', elem(f)]);
  const iter = f.bwdIter ?? LP_BWD_ITER;
  const splat = (x: string) => (f.vec4 ? `vec4<f32>(${x})` : x);
  const onehot = f.vec4 ? `let j = i * 4u;
      let onehot = vec4<f32>(select(0.0, 1.0, j == tok), select(0.0, 1.0, j + 1u == tok),
          select(0.0, 1.0, j + 2u == tok), select(0.0, 1.0, j + 3u == tok));` :
    'let onehot = select(0.0, 1.0, i == tok);';
  return `${header(b)}
@compute @workgroup_size(${LP_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.y;
  let count = ${countExpr(f)};
  let rowBase = row * count;
  let m = stats[3u * row];
  let logS = stats[3u * row + 1u];
  let mean = stats[3u * row + 2u];
  let g = dy[row] * params.invTemp;
  ${ent ? '' : 'let tok = u32(tokens[row]);'}
  let start = wid.x * ${LP_WG * iter}u + lid;
  for (var q = 0u; q < ${iter}u; q = q + 1u) {
    let i = start + q * ${LP_WG}u;
    if (i < count) {
      let d = logits[rowBase + i] * params.invTemp - ${splat('m')};
      let p = exp(d - ${splat('logS')});
      ${ent ? `grad[rowBase + i] = p * (${splat('mean')} - d) * g;` : `${onehot}
      grad[rowBase + i] = (onehot - p) * g;`}
    }
  }
}
`;
}

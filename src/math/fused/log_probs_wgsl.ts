/**
 * WGSL of the fused log-prob kernels on webgpu (`log_probs_webgpu.ts`): `tokenLogProbs` and
 * `entropyFromLogits` over a `[rows, vocab]` float32 logits buffer, z = logits * invTemp.
 *
 * Forward (one workgroup of {@link LP_WG} threads per row, one read of the row): an online
 * log-sum-exp per thread (running max m, s = sum e^(z - m), and for the entropy
 * t = sum e^(z - m) (z - m), rescaled when m grows), merged across the workgroup. Writes the value
 * (logp = z[token] - m - log s, or H = log s - t / s) and per-row stats [m, log s, t / s] for the
 * backward pass.
 *
 * Backward (one workgroup per {@link LP_BWD_SPAN} logits of a row, one read of the logits and one
 * write of the gradient): p = e^(z - m - log s), d logp / d logits = (onehot(token) - p) * dy *
 * invTemp, d H / d logits = p * (t / s - (z - m)) * dy * invTemp.
 *
 * With `vec4` (vocab % 4 == 0) the logits and the gradient are read and written 16 bytes at a time.
 * @module
 */

/** @internal Threads per workgroup. */
export const LP_WG = 256;
/** @internal Elements handled per thread of the backward pass (in vec4 units with vec4). */
export const LP_BWD_ITER = 4;

/** @internal Which kernel and layout. */
export interface LogProbShaderFlags {
  mode: 'logp' | 'entropy';
  vec4: boolean;
  /** Elements (vec4 with `vec4`) per thread of the backward pass; default {@link LP_BWD_ITER}. */
  bwdIter?: number;
}

/** @internal Binding kinds of the forward shader, in order. */
export function forwardKinds(f: LogProbShaderFlags): Array<'uniform' | 'read' | 'rw'> {
  return f.mode === 'logp' ? ['uniform', 'read', 'read', 'rw', 'rw', 'rw'] : ['uniform', 'read', 'rw', 'rw', 'rw'];
}

/** @internal Binding kinds of the backward shader, in order. */
export function backwardKinds(f: LogProbShaderFlags): Array<'uniform' | 'read' | 'rw'> {
  return f.mode === 'logp' ? ['uniform', 'read', 'read', 'read', 'read', 'rw'] : ['uniform', 'read', 'read', 'read', 'rw'];
}

const PARAMS = `
struct Params { rows : u32, vocab : u32, pad0 : u32, pad1 : u32, invTemp : f32, pad2 : f32, pad3 : f32, pad4 : f32 };
@group(0) @binding(0) var<uniform> params : Params;`;

/** Merges (m, s, t) of two parts of a row (t only for the entropy). */
const MERGE = `
fn merge(a : vec3<f32>, b : vec3<f32>) -> vec3<f32> {
  let m = max(a.x, b.x);
  let fa = exp(a.x - m);
  let fb = exp(b.x - m);
  return vec3<f32>(m, a.y * fa + b.y * fb, fa * (a.z + (a.x - m) * a.y) + fb * (b.z + (b.x - m) * b.y));
}`;

/** @internal The forward shader. */
export function forwardShader(f: LogProbShaderFlags): string {
  const ent = f.mode === 'entropy';
  const logitsType = f.vec4 ? 'vec4<f32>' : 'f32';
  const b = (i: number) => i; // binding numbers in order of forwardKinds
  let n = 1;
  const decl = (name: string, access: string, type: string) =>
    `@group(0) @binding(${b(n++)}) var<storage, ${access}> ${name} : array<${type}>;`;
  const decls = [decl('logits', 'read', logitsType)];
  if (!ent) decls.push(decl('tokens', 'read', 'i32'));
  decls.push(decl('values', 'read_write', 'f32'), decl('stats', 'read_write', 'f32'), decl('checkOut', 'read_write', 'u32'));
  const step = f.vec4 ? `
    let z = logits[base4 + i] * params.invTemp;
    let mx = max(max(z.x, z.y), max(z.z, z.w));
    if (mx > m) {
      let fm = exp(m - mx);
      ${ent ? 't = fm * (t + (m - mx) * s);' : ''}
      s = s * fm;
      m = mx;
    }
    let d = z - vec4<f32>(m);
    let e = exp(d);
    s = s + (e.x + e.y) + (e.z + e.w);
    ${ent ? 't = t + dot(e, d);' : ''}` : `
    let z = logits[base + i] * params.invTemp;
    if (z > m) {
      let fm = exp(m - z);
      ${ent ? 't = fm * (t + (m - z) * s);' : ''}
      s = s * fm;
      m = z;
    }
    let d = z - m;
    let e = exp(d);
    s = s + e;
    ${ent ? 't = t + e * d;' : ''}`;
  return `${PARAMS}
${decls.join('\n')}
var<workgroup> red : array<vec3<f32>, ${LP_WG}>;
${MERGE}
@compute @workgroup_size(${LP_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.x;
  let V = params.vocab;
  let base = row * V;
  let base4 = base / 4u;
  let count = ${f.vec4 ? 'V / 4u' : 'V'};
  var m = -3.0e38;
  var s = 0.0;
  var t = 0.0;
  for (var i = lid; i < count; i = i + ${LP_WG}u) {${step}
  }
  red[lid] = vec3<f32>(m, s, t);
  workgroupBarrier();
  for (var w = ${LP_WG / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = merge(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = red[0];
    let logS = log(r.y);
    let mean = r.z / r.y;
    stats[3u * row] = r.x;
    stats[3u * row + 1u] = logS;
    stats[3u * row + 2u] = mean;
    ${ent ? 'values[row] = logS - mean;' : `let tok = tokens[row];
    if (tok < 0 || u32(tok) >= V) {
      values[row] = bitcast<f32>(0x7fc00000u | (u32(tok) & 0u));
      checkOut[0] = 1u;
    } else {
      ${f.vec4 ? 'let zt = logits[(base + u32(tok)) / 4u][u32(tok) % 4u] * params.invTemp;' :
        'let zt = logits[base + u32(tok)] * params.invTemp;'}
      values[row] = (zt - r.x) - logS;
    }`}
  }
}
`;
}

/** @internal The backward shader: gradient w.r.t. the logits, one workgroup per span of a row. */
export function backwardShader(f: LogProbShaderFlags): string {
  const ent = f.mode === 'entropy';
  const type = f.vec4 ? 'vec4<f32>' : 'f32';
  let n = 1;
  const decl = (name: string, access: string, t: string) =>
    `@group(0) @binding(${n++}) var<storage, ${access}> ${name} : array<${t}>;`;
  const decls = [decl('logits', 'read', type)];
  if (!ent) decls.push(decl('tokens', 'read', 'i32'));
  decls.push(decl('stats', 'read', 'f32'), decl('dy', 'read', 'f32'), decl('grad', 'read_write', type));
  const idx = f.vec4 ? `let j = i * 4u;
      let onehot = vec4<f32>(select(0.0, 1.0, j == tok), select(0.0, 1.0, j + 1u == tok),
          select(0.0, 1.0, j + 2u == tok), select(0.0, 1.0, j + 3u == tok));` :
    'let onehot = select(0.0, 1.0, i == tok);';
  return `${PARAMS}
${decls.join('\n')}
@compute @workgroup_size(${LP_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.y;
  let V = params.vocab;
  let count = ${f.vec4 ? 'V / 4u' : 'V'};
  let rowBase = row * count;
  let m = stats[3u * row];
  let logS = stats[3u * row + 1u];
  let mean = stats[3u * row + 2u];
  let g = dy[row] * params.invTemp;
  ${ent ? '' : 'let tok = u32(tokens[row]);'}
  let start = wid.x * ${LP_WG * (f.bwdIter ?? LP_BWD_ITER)}u + lid;
  for (var q = 0u; q < ${f.bwdIter ?? LP_BWD_ITER}u; q = q + 1u) {
    let i = start + q * ${LP_WG}u;
    if (i < count) {
      let d = logits[rowBase + i] * params.invTemp - ${f.vec4 ? 'vec4<f32>(m)' : 'm'};
      let p = exp(d - ${f.vec4 ? 'vec4<f32>(logS)' : 'logS'});
      ${ent ? `grad[rowBase + i] = p * (${f.vec4 ? 'vec4<f32>(mean)' : 'mean'} - d) * g;` :
        `${idx}
      grad[rowBase + i] = (onehot - p) * g;`}
    }
  }
}
`;
}

/** @internal vec4 (or scalar) elements per workgroup of the split forward pass. */
export const LP_SPLIT_SPAN = 2048;

/** @internal Binding kinds of the split forward's partial pass (uniform, logits, partials). */
export const SPLIT_KINDS: Array<'uniform' | 'read' | 'rw'> = ['uniform', 'read', 'rw'];

/** @internal Binding kinds of the split forward's finalize pass. */
export function splitFinalizeKinds(f: LogProbShaderFlags): Array<'uniform' | 'read' | 'rw'> {
  return f.mode === 'logp' ? ['uniform', 'read', 'read', 'read', 'rw', 'rw', 'rw'] : ['uniform', 'read', 'rw', 'rw', 'rw'];
}

/**
 * @internal Split forward, pass 1: workgroup (c, row) reduces (m, s, t) over span c of the row
 * ({@link LP_SPLIT_SPAN} elements, vec4 with `vec4`) into partials[(row * numSplits + c) * 3 ..].
 * `pad0` of the uniforms holds numSplits.
 */
export function splitPartialShader(f: LogProbShaderFlags): string {
  const ent = f.mode === 'entropy';
  const type = f.vec4 ? 'vec4<f32>' : 'f32';
  const step = f.vec4 ? `
    let z = logits[base + i] * params.invTemp;
    let mx = max(max(z.x, z.y), max(z.z, z.w));
    if (mx > m) {
      let fm = exp(m - mx);
      ${ent ? 't = fm * (t + (m - mx) * s);' : ''}
      s = s * fm;
      m = mx;
    }
    let d = z - vec4<f32>(m);
    let e = exp(d);
    s = s + (e.x + e.y) + (e.z + e.w);
    ${ent ? 't = t + dot(e, d);' : ''}` : `
    let z = logits[base + i] * params.invTemp;
    if (z > m) {
      let fm = exp(m - z);
      ${ent ? 't = fm * (t + (m - z) * s);' : ''}
      s = s * fm;
      m = z;
    }
    let d = z - m;
    let e = exp(d);
    s = s + e;
    ${ent ? 't = t + e * d;' : ''}`;
  return `${PARAMS}
@group(0) @binding(1) var<storage, read> logits : array<${type}>;
@group(0) @binding(2) var<storage, read_write> partials : array<f32>;
var<workgroup> red : array<vec3<f32>, ${LP_WG}>;
${MERGE}
@compute @workgroup_size(${LP_WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let row = wid.y;
  let count = ${f.vec4 ? 'params.vocab / 4u' : 'params.vocab'};
  let base = row * count;
  let start = wid.x * ${LP_SPLIT_SPAN}u;
  let end = min(start + ${LP_SPLIT_SPAN}u, count);
  var m = -3.0e38;
  var s = 0.0;
  var t = 0.0;
  for (var i = start + lid; i < end; i = i + ${LP_WG}u) {${step}
  }
  red[lid] = vec3<f32>(m, s, t);
  workgroupBarrier();
  for (var w = ${LP_WG / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = merge(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let p = 3u * (row * params.pad0 + wid.x);
    partials[p] = red[0].x;
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
  const ent = f.mode === 'entropy';
  let n = 1;
  const decl = (name: string, access: string, t: string) =>
    `@group(0) @binding(${n++}) var<storage, ${access}> ${name} : array<${t}>;`;
  const decls = [];
  if (!ent) decls.push(decl('logits', 'read', 'f32'), decl('tokens', 'read', 'i32'));
  decls.push(decl('partials', 'read', 'f32'), decl('values', 'read_write', 'f32'), decl('stats', 'read_write', 'f32'),
      decl('checkOut', 'read_write', 'u32'));
  return `${PARAMS}
${decls.join('\n')}
${MERGE}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) { return; }
  let V = params.vocab;
  let S = params.pad0;
  var r = vec3<f32>(-3.0e38, 0.0, 0.0);
  for (var c = 0u; c < S; c = c + 1u) {
    let p = 3u * (row * S + c);
    r = merge(r, vec3<f32>(partials[p], partials[p + 1u], partials[p + 2u]));
  }
  let logS = log(r.y);
  let mean = r.z / r.y;
  stats[3u * row] = r.x;
  stats[3u * row + 1u] = logS;
  stats[3u * row + 2u] = mean;
  ${ent ? 'values[row] = logS - mean;' : `let tok = tokens[row];
  if (tok < 0 || u32(tok) >= V) {
    values[row] = bitcast<f32>(0x7fc00000u | (u32(tok) & 0u));
    checkOut[0] = 1u;
  } else {
    values[row] = (logits[row * V + u32(tok)] * params.invTemp - r.x) - logS;
  }`}
}
`;
}

/**
 * WGSL of the tiled float32 matmul behind {@link registerWebGPUMatmul}: C[b] = op(A[b]) op(B[b]) with
 * op = identity or transpose for each operand, generated fully unrolled for one tile configuration.
 *
 * Each workgroup computes a `bm x bn` tile of C. Its `(bm / tm) x (bn / tn)` threads each hold a
 * `tm x tn` block of accumulators in registers (named variables, so no register array can spill to
 * local memory), made of 4 x 4 sub-blocks strided across the tile so that the shared-memory reads of
 * a warp are contiguous `vec4`s and the stores of C are coalesced. Per step of `bk` along K, the
 * workgroup stages the A tile (k-major, `bk x bm`) and the B tile (`bk x bn`) in workgroup memory,
 * while the next step's global loads are already in flight in registers (one shared buffer, two
 * barriers per step). Operands whose contiguous axis is a multiple of 4 are read as `vec4`s;
 * `splitK > 1` gives each z-slice of the dispatch one chunk of K, written as a partial product
 * to be summed by {@link splitKReduceShader}.
 * @module
 */

/** @internal One tile configuration and operand layout of the matmul shader. */
export interface MatmulShaderConfig {
  /** Rows of C per workgroup. */
  bm: number;
  /** Columns of C per workgroup. */
  bn: number;
  /** Step along K staged in workgroup memory (a multiple of 4). */
  bk: number;
  /** Rows of C per thread (a multiple of 4). */
  tm: number;
  /** Columns of C per thread (a multiple of 4). */
  tn: number;
  /** A is stored `[batch, K, M]` (else `[batch, M, K]`). */
  transA: boolean;
  /** B is stored `[batch, N, K]` (else `[batch, K, N]`). */
  transB: boolean;
  /** A's contiguous axis is a multiple of 4: read it as vec4. */
  vecA: boolean;
  /** B's contiguous axis is a multiple of 4: read it as vec4. */
  vecB: boolean;
  /** N is a multiple of 4: write C as vec4. */
  vecC: boolean;
}

/** @internal The cache key of a configuration (it determines the shader's code). */
export function matmulShaderKey(c: MatmulShaderConfig): string {
  return `matmul:${c.bm}x${c.bn}x${c.bk}:${c.tm}x${c.tn}:${+c.transA}${+c.transB}${+c.vecA}${+c.vecB}${+c.vecC}`;
}

/** @internal The threads of one workgroup of a configuration. */
export function matmulThreads(c: MatmulShaderConfig): number {
  return (c.bm / c.tm) * (c.bn / c.tn);
}

const range = (n: number): number[] => Array.from({length: n}, (_, i) => i);

/**
 * @internal Lines that load one operand's tile (`rows x bk` of the operand in its own layout) into
 * registers `<name>r<l>` and lines that store those registers into workgroup memory `<name>s`
 * (k-major, `bk x rows`). `outer` is the tile's row count (bm or bn), `trans` whether the operand is
 * stored with K as its outer axis.
 */
function tileIo(name: string, outer: number, bk: number, threads: number, trans: boolean, vec: boolean,
    outerDim: string, origin: string): {decl: string[]; load: string[]; store: string[]} {
  const decl: string[] = [];
  const load: string[] = [];
  const store: string[] = [];
  const rowVec = outer / 4;
  const src = `${name}v`;
  const stride = trans ? outerDim : 'K';
  if (vec) {
    const perThread = (outer * bk) / 4 / threads;
    for (const l of range(perThread)) {
      decl.push(`var ${name}r${l} = vec4<f32>(0.0);`);
      // trans: the tile is bk rows (k) of outer/4 vec4s; else outer rows of bk/4 vec4s along k.
      const e = `(tid + ${l * threads}u)`;
      const [o, k] = trans ? [`(${e} % ${rowVec}u) * 4u`, `${e} / ${rowVec}u`] : [`${e} / ${bk / 4}u`, `(${e} % ${bk / 4}u) * 4u`];
      load.push(`{ let o = ${o}; let k = ${k}; let go = ${origin} + o; let gk = k0 + k;
        ${name}r${l} = select(vec4<f32>(0.0), ${src}[(${name}Base + gk * ${trans ? stride : '1u'} + go * ${trans ? '1u' : stride}) / 4u],
          go < ${outerDim} && gk < kEnd); }`);
      store.push(trans
        ? `${name}s_[${e}] = ${name}r${l};`
        : `{ let e = ${e}; let o = e / ${bk / 4}u; let k = (e % ${bk / 4}u) * 4u;
        ${range(4).map((q) => `${name}s_[(k + ${q}u) * ${rowVec}u + o / 4u][o % 4u] = ${name}r${l}[${q}];`).join(' ')} }`);
    }
  } else {
    const perThread = (outer * bk) / threads;
    for (const l of range(perThread)) {
      decl.push(`var ${name}r${l} = 0.0;`);
      const e = `(tid + ${l * threads}u)`;
      const [o, k] = trans ? [`${e} % ${outer}u`, `${e} / ${outer}u`] : [`${e} / ${bk}u`, `${e} % ${bk}u`];
      load.push(`{ let o = ${o}; let k = ${k}; let go = ${origin} + o; let gk = k0 + k;
        ${name}r${l} = select(0.0, ${src}[min(${name}Base + gk * ${trans ? stride : '1u'} + go * ${trans ? '1u' : stride}, ${name}Last)],
          go < ${outerDim} && gk < kEnd); }`);
      store.push(`{ let o = ${o}; let k = ${k}; ${name}s_[k * ${rowVec}u + o / 4u][o % 4u] = ${name}r${l}; }`);
    }
  }
  return {decl, load, store};
}

/** @internal The WGSL of the matmul for one configuration (entry point `main`). */
export function matmulShader(c: MatmulShaderConfig): string {
  const {bm, bn, bk, tm, tn} = c;
  const wx = bn / tn;
  const wy = bm / tm;
  const threads = wx * wy;
  const cm = tm / 4; // 4-row chunks per thread, rows ty*4 + i*4*wy
  const cn = tn / 4;
  const a = tileIo('a', bm, bk, threads, c.transA, c.vecA, 'M', 'm0');
  const b = tileIo('b', bn, bk, threads, !c.transB, c.vecB, 'N', 'n0'); // B [K, N] has K outer
  const acc: string[] = [];
  for (const i of range(cm)) for (const r of range(4)) for (const j of range(cn)) acc.push(`var c${i}_${r}_${j} = vec4<f32>(0.0);`);
  const step: string[] = [];
  for (const kk of range(bk)) {
    step.push('{');
    for (const i of range(cm)) step.push(`let av${i} = as_[${kk * (bm / 4)}u + ty + ${i * wy}u];`);
    for (const j of range(cn)) step.push(`let bv${j} = bs_[${kk * (bn / 4)}u + tx + ${j * wx}u];`);
    for (const i of range(cm)) for (const r of range(4)) for (const j of range(cn)) {
      step.push(`c${i}_${r}_${j} = fma(vec4<f32>(av${i}[${r}]), bv${j}, c${i}_${r}_${j});`);
    }
    step.push('}');
  }
  const stores: string[] = [];
  for (const i of range(cm)) for (const r of range(4)) {
    const row = `m0 + ty * 4u + ${i * 4 * wy + r}u`;
    for (const j of range(cn)) {
      const col = `n0 + tx * 4u + ${j * 4 * wx}u`;
      const v = `c${i}_${r}_${j}`;
      stores.push(c.vecC
        ? `{ let m = ${row}; let n = ${col}; if (m < M && n < N) { cv[(cBase + m * N + n) / 4u] = ${v}; } }`
        : `{ let m = ${row}; let n = ${col}; if (m < M) { ${range(4).map((q) =>
          `if (n + ${q}u < N) { cv[cBase + m * N + n + ${q}u] = ${v}[${q}]; }`).join(' ')} } }`);
    }
  }
  const elem = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');
  return `
struct Params { M : u32, N : u32, K : u32, batchA : u32, batchB : u32, splitK : u32, kChunk : u32, pad : u32 };
@group(0) @binding(0) var<uniform> params : Params;
@group(0) @binding(1) var<storage, read> av : array<${elem(c.vecA)}>;
@group(0) @binding(2) var<storage, read> bv : array<${elem(c.vecB)}>;
@group(0) @binding(3) var<storage, read_write> cv : array<${elem(c.vecC)}>;
var<workgroup> as_ : array<vec4<f32>, ${(bk * bm) / 4}>;
var<workgroup> bs_ : array<vec4<f32>, ${(bk * bn) / 4}>;
@compute @workgroup_size(${wx}, ${wy}, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>,
    @builtin(local_invocation_index) tid : u32) {
  let M = params.M; let N = params.N; let K = params.K;
  let tx = lid.x; let ty = lid.y;
  let n0 = wg.x * ${bn}u; let m0 = wg.y * ${bm}u;
  let batch = wg.z / params.splitK; let part = wg.z % params.splitK;
  let kStart = part * params.kChunk;
  let kEnd = min(K, kStart + params.kChunk);
  let aBase = select(0u, batch, params.batchA > 1u) * M * K;
  let bBase = select(0u, batch, params.batchB > 1u) * K * N;
  let cBase = wg.z * M * N;
  let aLast = arrayLength(&av) - 1u; let bLast = arrayLength(&bv) - 1u;
  ${acc.join('\n  ')}
  ${a.decl.join(' ')} ${b.decl.join(' ')}
  var k0 = kStart;
  ${a.load.join('\n  ')}
  ${b.load.join('\n  ')}
  ${a.store.join('\n  ')}
  ${b.store.join('\n  ')}
  workgroupBarrier();
  let steps = (kEnd - kStart + ${bk - 1}u) / ${bk}u;
  for (var s = 0u; s < steps; s = s + 1u) {
    k0 = kStart + (s + 1u) * ${bk}u;
    let more = s + 1u < steps;
    if (more) {
      ${a.load.join('\n      ')}
      ${b.load.join('\n      ')}
    }
    ${step.join('\n    ')}
    workgroupBarrier();
    if (more) {
      ${a.store.join('\n      ')}
      ${b.store.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${stores.join('\n  ')}
}
`;
}

/**
 * @internal Sums the `splitK` partial products `[batch * splitK, M, N]` (batch-major) into C
 * `[batch, M, N]`, four elements per thread when `vec` (M * N a multiple of 4).
 */
export function splitKReduceShader(vec: boolean): string {
  const t = vec ? 'vec4<f32>' : 'f32';
  return `
struct Params { count : u32, splitK : u32, batchCount : u32, pad : u32 };
@group(0) @binding(0) var<uniform> params : Params;
@group(0) @binding(1) var<storage, read> parts : array<${t}>;
@group(0) @binding(2) var<storage, read_write> cv : array<${t}>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.count) { return; }
  let perBatch = params.count / params.batchCount;
  let b = i / perBatch; let e = i % perBatch;
  var s = ${t}(0.0);
  for (var p = 0u; p < params.splitK; p = p + 1u) { s = s + parts[(b * params.splitK + p) * perBatch + e]; }
  cv[i] = s;
}
`;
}

/**
 * @internal Transposes the last two axes of `[batch, R, C]` into `[batch, C, R]` through a padded
 * 16 x 16 workgroup tile (coalesced reads and writes): the copy that lets a product of two
 * untransposed operands run the faster transposed-operand tiles (see `transposeBytes`).
 */
export function transposeShader(): string {
  return `
struct Params { R : u32, C : u32, pad0 : u32, pad1 : u32 };
@group(0) @binding(0) var<uniform> params : Params;
@group(0) @binding(1) var<storage, read> src : array<f32>;
@group(0) @binding(2) var<storage, read_write> dst : array<f32>;
var<workgroup> tile : array<f32, 272>;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>) {
  let R = params.R; let C = params.C; let base = wg.z * R * C;
  let r = wg.y * 16u + lid.y; let c = wg.x * 16u + lid.x;
  if (r < R && c < C) { tile[lid.y * 17u + lid.x] = src[base + r * C + c]; }
  workgroupBarrier();
  let orow = wg.x * 16u + lid.y; let ocol = wg.y * 16u + lid.x;
  if (orow < C && ocol < R) { dst[base + orow * R + ocol] = tile[lid.x * 17u + lid.y]; }
}
`;
}

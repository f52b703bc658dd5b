/**
 * Rotary position embeddings (RoPE) and their context-extension variants, with the semantics of
 * transformers' `modeling_rope_utils.py` (5.x).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, assertRank, check, fmtShape} from '../math/assert.js';
import {ropeWebGPU} from '../math/fused/rope_webgpu.js';
import {MissingConfigFieldError} from './pretrained/errors.js';
import type {JsonObject} from './pretrained/json.js';

/** RoPE variants understood by {@link ropeInverseFrequencies}. */
export const ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3', 'yarn'] as const;
/** One of {@link ROPE_TYPES}. */
export type RopeType = typeof ROPE_TYPES[number];

/** A RoPE configuration read from `config.json` by {@link normalizeRopeConfig}. */
export interface RopeConfig {
  /** The variant (`rope_type`, or `type` in older files). */
  type: RopeType;
  /** Base wavelength `rope_theta`; default 10000. */
  theta: number;
  /** `max_position_embeddings` of the config. */
  maxPositionEmbeddings: number;
  /** Fraction of the head dimension that rotates; default 1. */
  partialRotaryFactor: number;
  /** Scaling factor (`linear`, `dynamic`, `llama3`, `yarn`). */
  factor?: number;
  /** Pre-training context (`llama3`, `yarn`); default `maxPositionEmbeddings`. */
  originalMaxPositionEmbeddings?: number;
  /**
   * `llama3` `low_freq_factor`: frequencies whose wavelength exceeds `originalMaxPositionEmbeddings / lowFreqFactor`
   * are divided by `factor`; required for `llama3`.
   */
  lowFreqFactor?: number;
  /**
   * `llama3` `high_freq_factor`: frequencies whose wavelength is below `originalMaxPositionEmbeddings /
   * highFreqFactor` are kept, those between the two bounds interpolated; required for `llama3`.
   */
  highFreqFactor?: number;
  /**
   * `yarn` `attention_factor`: the factor on cos and sin; default mscale(factor, mscale) / mscale(factor,
   * mscaleAllDim) when both are set, else 0.1 ln(factor) + 1.
   */
  attentionFactor?: number;
  /**
   * `yarn` `beta_fast`: dimensions turning more than this many times over the original context keep their
   * frequency (the ramp's start); default 32.
   */
  betaFast?: number;
  /**
   * `yarn` `beta_slow`: dimensions turning fewer than this many times are divided by `factor` (the ramp's end);
   * default 1.
   */
  betaSlow?: number;
  /**
   * `yarn` `mscale`: numerator coefficient of the default `attentionFactor`, used with `mscaleAllDim`
   * (DeepSeek-V3).
   */
  mscale?: number;
  /**
   * `yarn` `mscale_all_dim`: denominator coefficient of the default `attentionFactor`; also sets {@link
   * ropeSoftmaxScaleFactor}.
   */
  mscaleAllDim?: number;
  /** `yarn` `truncate`: round the ramp bounds to whole dimensions (floor / ceil); default `true`. */
  truncate?: boolean;
}

function num(obj: JsonObject, key: string, prefix: string, opts: {required?: boolean; integer?: boolean} = {}): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (opts.required) throw new MissingConfigFieldError(prefix + key, opts.integer ? 'an integer' : 'a number', v ?? undefined);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || (opts.integer === true && !Number.isInteger(v))) {
    throw new MissingConfigFieldError(prefix + key, opts.integer ? 'an integer' : 'a finite number', v);
  }
  return v;
}

/**
 * Reads the RoPE settings of a `config.json` in either layout: transformers 5.x `rope_parameters`
 * (`{rope_type, rope_theta, factor, ...}`) or the original releases' `rope_scaling` (`{type|rope_type,
 * factor, ...}` or null) beside a top-level `rope_theta`. As transformers' `standardize_rope_params`:
 * a top-level `original_max_position_embeddings` wins; `llama3` and `yarn` default it to
 * `max_position_embeddings`; `partial_rotary_factor` may sit at the top level.
 *
 * @param config the parsed `config.json`.
 * @returns the normalized {@link RopeConfig}.
 * @throws `MissingConfigFieldError` when `max_position_embeddings` or a field the variant needs is missing,
 *   or the variant is unknown.
 * @example
 * normalizeRopeConfig({max_position_embeddings: 64, rope_theta: 1e6, rope_scaling: null});
 * // {type: 'default', theta: 1000000, maxPositionEmbeddings: 64, partialRotaryFactor: 1}
 */
export function normalizeRopeConfig(config: JsonObject): RopeConfig {
  const maxPositionEmbeddings = num(config, 'max_position_embeddings', '', {required: true, integer: true})!;
  const fromParams = config['rope_parameters'] !== undefined && config['rope_parameters'] !== null;
  const field = fromParams ? 'rope_parameters' : 'rope_scaling';
  const raw = (fromParams ? config['rope_parameters'] : config['rope_scaling']) ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new MissingConfigFieldError(field, 'an object or null', raw);
  const p = raw as JsonObject;
  const prefix = `${field}.`;
  const typeName = p['rope_type'] ?? p['type'] ?? 'default';
  if (typeof typeName !== 'string' || !(ROPE_TYPES as readonly string[]).includes(typeName)) {
    throw new MissingConfigFieldError(`${prefix}rope_type`, `one of ${ROPE_TYPES.join(', ')}`, typeName);
  }
  const type = typeName as RopeType;
  const theta = num(p, 'rope_theta', prefix) ?? num(config, 'rope_theta', '') ?? 10000;
  const partialRotaryFactor = num(config, 'partial_rotary_factor', '') ?? num(p, 'partial_rotary_factor', prefix) ?? 1;
  const rope: RopeConfig = {type, theta, maxPositionEmbeddings, partialRotaryFactor};
  if (type === 'default') return rope;
  if (type === 'yarn') {
    // transformers: factor may be omitted when original_max_position_embeddings gives the ratio.
    rope.factor = num(p, 'factor', prefix);
  } else {
    rope.factor = num(p, 'factor', prefix, {required: true});
  }
  if (type === 'llama3' || type === 'yarn') {
    rope.originalMaxPositionEmbeddings = num(config, 'original_max_position_embeddings', '', {integer: true}) ??
        num(p, 'original_max_position_embeddings', prefix, {integer: true}) ?? maxPositionEmbeddings;
  }
  if (type === 'yarn' && rope.factor === undefined) {
    rope.factor = maxPositionEmbeddings / rope.originalMaxPositionEmbeddings!;
  }
  if (type === 'llama3') {
    rope.lowFreqFactor = num(p, 'low_freq_factor', prefix, {required: true});
    rope.highFreqFactor = num(p, 'high_freq_factor', prefix, {required: true});
  }
  if (type === 'yarn') {
    const set = (key: keyof RopeConfig, name: string): void => {
      const v = num(p, name, prefix);
      if (v !== undefined) (rope as unknown as JsonObject)[key] = v;
    };
    set('attentionFactor', 'attention_factor');
    set('betaFast', 'beta_fast');
    set('betaSlow', 'beta_slow');
    set('mscale', 'mscale');
    set('mscaleAllDim', 'mscale_all_dim');
    if (p['truncate'] !== undefined) rope.truncate = p['truncate'] !== false;
  }
  return rope;
}

/** Options of {@link ropeInverseFrequencies}. */
export interface RopeFrequencyOptions {
  /** Head dimension the rotation applies to (before `partialRotaryFactor`). */
  headDim: number;
  /** Current sequence length, used by `dynamic` only (NTK base grows once it exceeds the context). */
  seqLen?: number;
}

/** Output of {@link ropeInverseFrequencies}. */
export interface RopeFrequencies {
  /** `[rotaryDim / 2]` inverse frequencies theta_i. */
  inverseFrequencies: Float32Array;
  /** Factor on cos and sin (YaRN's attention temperature; 1 otherwise). */
  attentionFactor: number;
  /** floor(headDim * partialRotaryFactor), the number of rotated features. */
  rotaryDim: number;
}

/** YaRN's mscale: 0.1 * m * ln(s) + 1 for s > 1, else 1 (Peng et al. 2023, arXiv:2309.00071). */
function yarnMscale(scale: number, m = 1): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

/**
 * RoPE inverse frequencies and the cos/sin factor of one variant (Su et al. 2021, RoFormer,
 * arXiv:2104.09864), as transformers computes them:
 *
 * - `default`: theta_i = base^(-2i/d), i < d/2, d = rotaryDim.
 * - `linear`: theta_i / factor (position interpolation, Chen et al. 2023, arXiv:2306.15595).
 * - `dynamic`: NTK base' = base * (factor * L / L0 - (factor - 1))^(d / (d - 2)) with L = max(seqLen, L0),
 *   L0 = maxPositionEmbeddings.
 * - `llama3`: wavelength 2 pi / theta_i > L0 / low -> theta_i / factor; < L0 / high -> theta_i; between,
 *   (1 - s) theta_i / factor + s theta_i with s = (L0 / wavelength - low) / (high - low), L0 the original context.
 * - `yarn` (arXiv:2309.00071): ramp r_i = clamp((i - lo) / (hi - lo), 0, 1) over the correction range
 *   [lo, hi] of beta_fast / beta_slow rotations (floored/ceiled unless `truncate: false`),
 *   theta_i' = theta_i / factor * r_i + theta_i * (1 - r_i); attention factor = `attention_factor`, else
 *   mscale(factor, mscale) / mscale(factor, mscale_all_dim) when both are set, else mscale(factor).
 *
 * @param rope a {@link RopeConfig} (from {@link normalizeRopeConfig}).
 * @param options.headDim head dimension (`head_dim`, or `qk_rope_head_dim` for MLA).
 * @param options.seqLen current length, for `dynamic`; default `maxPositionEmbeddings`.
 * @returns `{inverseFrequencies, attentionFactor, rotaryDim}`.
 * @throws on an unknown option, when `headDim` is not an integer >= 2, `seqLen` (when given) not an
 *   integer >= 1, or the rotary dimension is odd or below 2.
 * @example
 * const {inverseFrequencies} = ropeInverseFrequencies(
 *     {type: 'default', theta: 10000, maxPositionEmbeddings: 32, partialRotaryFactor: 1}, {headDim: 4});
 * // [1, 0.01]
 */
export function ropeInverseFrequencies(rope: RopeConfig, options: RopeFrequencyOptions): RopeFrequencies {
  const fn = 'ropeInverseFrequencies';
  assertKnownOptions(options, ['headDim', 'seqLen'], fn);
  const {headDim, seqLen} = options ?? ({} as RopeFrequencyOptions);
  check(Number.isInteger(headDim) && headDim >= 2, fn, () => `'headDim' expected an integer >= 2, got ${headDim}`);
  if (seqLen !== undefined) assertNumber(seqLen, fn, 'seqLen', {integer: true, min: 1});
  const d = Math.floor(headDim * rope.partialRotaryFactor);
  check(d >= 2 && d % 2 === 0, fn, () => `rotary dimension headDim * partialRotaryFactor expected even and >= 2, got ${d}`);
  const half = d / 2;
  const L0 = rope.maxPositionEmbeddings;
  const factor = rope.factor ?? 1;
  let base = rope.theta;
  if (rope.type === 'dynamic') {
    const L = Math.max(seqLen ?? L0, L0);
    base = base * Math.pow(factor * L / L0 - (factor - 1), d / (d - 2));
  }
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(base, (2 * i) / d);
  let attentionFactor = 1;
  if (rope.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i]! /= factor;
  } else if (rope.type === 'llama3') {
    const old = rope.originalMaxPositionEmbeddings ?? L0;
    const low = rope.lowFreqFactor!, high = rope.highFreqFactor!;
    const lowWavelen = old / low, highWavelen = old / high;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = 2 * Math.PI / f;
      const scaled = wavelen > lowWavelen ? f / factor : f;
      if (wavelen < highWavelen || wavelen > lowWavelen) {
        inv[i] = scaled;
      } else {
        const s = (old / wavelen - low) / (high - low);
        inv[i] = (1 - s) * scaled / factor + s * scaled;
      }
    }
  } else if (rope.type === 'yarn') {
    const old = rope.originalMaxPositionEmbeddings ?? L0;
    const betaFast = rope.betaFast || 32, betaSlow = rope.betaSlow || 1;
    const correctionDim = (rotations: number): number =>
      (d * Math.log(old / (rotations * 2 * Math.PI))) / (2 * Math.log(rope.theta));
    let lo = correctionDim(betaFast), hi = correctionDim(betaSlow);
    if (rope.truncate !== false) {
      lo = Math.floor(lo);
      hi = Math.ceil(hi);
    }
    lo = Math.max(lo, 0);
    hi = Math.min(hi, d - 1);
    if (lo === hi) hi += 0.001;
    for (let i = 0; i < half; i++) {
      const ramp = Math.min(Math.max((i - lo) / (hi - lo), 0), 1);
      const extrapolation = 1 - ramp;
      inv[i] = (inv[i]! / factor) * (1 - extrapolation) + inv[i]! * extrapolation;
    }
    if (rope.attentionFactor !== undefined) {
      attentionFactor = rope.attentionFactor;
    } else if (rope.mscale && rope.mscaleAllDim) {
      attentionFactor = yarnMscale(factor, rope.mscale) / yarnMscale(factor, rope.mscaleAllDim);
    } else {
      attentionFactor = yarnMscale(factor);
    }
  }
  return {inverseFrequencies: Float32Array.from(inv), attentionFactor, rotaryDim: d};
}

/**
 * Extra factor on the softmax scale 1/sqrt(d_qk) of DeepSeek-V3's MLA (transformers'
 * `DeepseekV3Attention`): with a non-default RoPE, `factor` and a non-zero `mscale_all_dim`,
 * (0.1 * mscale_all_dim * ln(factor) + 1)^2; else 1. Dense architectures (Llama, Qwen) do not use it.
 *
 * @param rope a {@link RopeConfig}.
 * @returns the multiplier of the softmax scale.
 * @example
 * ropeSoftmaxScaleFactor({type: 'yarn', theta: 1e4, maxPositionEmbeddings: 64, partialRotaryFactor: 1,
 *   factor: 40, mscaleAllDim: 1}); // (0.1 ln 40 + 1)^2 = 1.8279
 */
export function ropeSoftmaxScaleFactor(rope: RopeConfig): number {
  if (rope.type === 'default' || !rope.mscaleAllDim || rope.factor === undefined) return 1;
  const m = 0.1 * rope.mscaleAllDim * Math.log(rope.factor) + 1;
  return m * m;
}

/** Output of {@link ropeCosSin}. */
export interface RopeCosSin {
  /** `[batch, time, rotaryDim]` attentionFactor * cos(p theta), frequencies repeated twice (rotate-half layout). */
  cos: tf.Tensor3D;
  /** `[batch, time, rotaryDim]` attentionFactor * sin(p theta). */
  sin: tf.Tensor3D;
}

/**
 * Cos and sin tables for integer positions: angle(p, i) = p * theta_{i mod d/2} over the `rotaryDim` features
 * (the half-size frequency vector concatenated with itself, as transformers' rotary embedding), times the
 * variant's attention factor.
 *
 * @param positions `[batch, time]` int32 position ids.
 * @param frequencies from {@link ropeInverseFrequencies}.
 * @returns `{cos, sin}`, each `[batch, time, rotaryDim]` float32.
 * @example
 * const f = ropeInverseFrequencies({type: 'default', theta: 10000, maxPositionEmbeddings: 8, partialRotaryFactor: 1}, {headDim: 4});
 * const {cos, sin} = ropeCosSin(tf.tensor2d([[0, 1]], [1, 2], 'int32'), f); // cos[0,1] = [cos 1, cos .01, cos 1, cos .01]
 * tf.dispose([cos, sin]);
 */
export function ropeCosSin(positions: tf.Tensor2D, frequencies: RopeFrequencies): RopeCosSin {
  assertRank(positions, 2, 'ropeCosSin', 'positions', ['batch', 'time'], 'int32');
  const {inverseFrequencies, attentionFactor} = frequencies;
  const [B, T] = positions.shape;
  return tf.tidy(() => {
    const twice = new Float32Array(2 * inverseFrequencies.length);
    twice.set(inverseFrequencies);
    twice.set(inverseFrequencies, inverseFrequencies.length);
    const angles = tf.mul(tf.reshape(tf.cast(positions, 'float32'), [B, T, 1]), tf.tensor1d(twice));
    let cos: tf.Tensor = tf.cos(angles), sin: tf.Tensor = tf.sin(angles);
    if (attentionFactor !== 1) {
      cos = tf.mul(cos, attentionFactor);
      sin = tf.mul(sin, attentionFactor);
    }
    return {cos: cos as tf.Tensor3D, sin: sin as tf.Tensor3D};
  });
}

/** Options of {@link applyRope}. */
export interface ApplyRopeOptions {
  /**
   * Whether the rotated pairs are adjacent features (2i, 2i+1), as DeepSeek's release stores them
   * (`rope_interleave: true`), instead of the halves (i, i + d/2) of the rotate-half layout; default `false`.
   * Interleaved inputs are first de-interleaved (evens then odds), as transformers does, so the output is
   * in rotate-half layout either way: dot products between queries and keys are the same.
   */
  interleaved?: boolean;
}

/**
 * Rotates query or key features by their positions (RoPE, arXiv:2104.09864):
 *
 * y = x * cos + rotateHalf(x) * sin,  rotateHalf([x1, x2]) = [-x2, x1]   (halves of the last axis)
 *
 * On webgpu one fused dispatch forward and one backward; elsewhere tfjs ops.
 *
 * @param x `[batch, heads, time, rotaryDim]` float32 (split off the non-rotated features first).
 * @param cos `[batch, time, rotaryDim]` from {@link ropeCosSin}.
 * @param sin `[batch, time, rotaryDim]` from {@link ropeCosSin}.
 * @param options.interleaved pairs are adjacent features; default `false`.
 * @returns `[batch, heads, time, rotaryDim]`.
 * @throws on an unknown option or a non-boolean `interleaved`, when shapes disagree, a tensor is not
 *   float32, or `rotaryDim` is odd.
 * @example
 * const x = tf.ones([1, 1, 1, 2]) as tf.Tensor4D;
 * const angle = tf.tensor3d([[[Math.PI / 2, Math.PI / 2]]]);
 * const y = applyRope(x, tf.cos(angle) as tf.Tensor3D, tf.sin(angle) as tf.Tensor3D); // ~[[[[-1, 1]]]]
 * tf.dispose([x, angle, y]);
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor3D, sin: tf.Tensor3D, options: ApplyRopeOptions = {}): tf.Tensor4D {
  const fn = 'applyRope';
  assertKnownOptions(options, ['interleaved'], fn);
  const {interleaved = false} = options;
  check(typeof interleaved === 'boolean', fn, () => `'interleaved' expected a boolean, got ${String(interleaved)}`);
  assertRank(x, 4, fn, 'x', ['batch', 'heads', 'time', 'rotaryDim'], 'float32');
  const [B, H, T, d] = x.shape;
  check(d % 2 === 0, fn, () => `'x' expected an even rotaryDim, got ${fmtShape(x.shape)}`);
  for (const [name, t] of [['cos', cos], ['sin', sin]] as const) {
    assertRank(t, 3, fn, name, ['batch', 'time', 'rotaryDim'], 'float32');
    check(t.shape[0] === B && t.shape[1] === T && t.shape[2] === d, fn, () =>
      `'${name}' expected shape [batch, time, rotaryDim]=${fmtShape([B, T, d])}, got ${fmtShape(t.shape)}`);
  }
  return tf.tidy('applyRope', () => {
    const fused = ropeWebGPU(x, cos, sin, 'bhtd', interleaved); // one dispatch each way on webgpu
    if (fused !== null) return fused;
    const xr = interleaved
      ? tf.reshape(tf.transpose(tf.reshape(x, [B, H, T, d / 2, 2]), [0, 1, 2, 4, 3]), [B, H, T, d])
      : x;
    const [x1, x2] = tf.split(xr, 2, 3);
    const rotated = tf.concat([tf.neg(x2!), x1!], 3);
    // Tiled to the full shape: the cpu backend's same-shape multiply is much faster than its broadcast.
    const full = (t: tf.Tensor3D): tf.Tensor => H === 1 ? tf.reshape(t, [B, 1, T, d]) :
      tf.tile(tf.reshape(t, [B, 1, T, d]), [1, H, 1, 1]);
    return tf.add(tf.mul(xr, full(cos)), tf.mul(rotated, full(sin))) as tf.Tensor4D;
  });
}

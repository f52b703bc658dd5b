/**
 * The shape, dtype and key checks of {@link multiHeadLatentAttention} (no value is read).
 * @module
 */
import {
  assertKnownInputs, assertNumber, assertOneOf, assertRank, assertShape, check, fmtShape,
} from '../math/assert.js';
import type {MlaConfig, MlaInputs} from './mla.js';
import type {WeightGetter} from './weight_getter.js';

const CONFIG_KEYS = ['hiddenSize', 'numHeads', 'qLoraRank', 'kvLoraRank', 'qkNopeHeadDim', 'qkRopeHeadDim', 'vHeadDim',
  'rmsNormEps', 'ropeInterleave', 'softmaxScale'] as const;
const SIZE_KEYS = ['hiddenSize', 'numHeads', 'kvLoraRank', 'qkNopeHeadDim', 'qkRopeHeadDim', 'vHeadDim'] as const;
const INPUT_KEYS = ['cos', 'sin', 'bias', 'cache', 'mode'] as const;

/** @internal Checkpoint names (after the `self_attn.` prefix) and shapes of the MLA weights of `config`. */
export function mlaWeightShapes(config: MlaConfig): Array<[string, number[]]> {
  const {hiddenSize: D, numHeads: H, qLoraRank: q, kvLoraRank: r, qkNopeHeadDim: dn, qkRopeHeadDim: dr, vHeadDim: dv} = config;
  const s: Array<[string, number[]]> = q === null ? [['q_proj.weight', [H * (dn + dr), D]]]
    : [['q_a_proj.weight', [q, D]], ['q_a_layernorm.weight', [q]], ['q_b_proj.weight', [H * (dn + dr), q]]];
  s.push(['kv_a_proj_with_mqa.weight', [r + dr, D]], ['kv_a_layernorm.weight', [r]],
      ['kv_b_proj.weight', [H * (dn + dv), r]], ['o_proj.weight', [D, H * dv]]);
  return s;
}

/**
 * @internal Checks the arguments of {@link multiHeadLatentAttention}, naming `fn` (the caller passes
 * its own name when it forwards them): `config` (known keys, positive integer sizes, `qLoraRank` null or
 * a positive integer, finite eps >= 0 and softmax scale > 0), `x` float32 `[batch, time, hiddenSize]`,
 * the input keys and `mode`, `cos` / `sin` `[batch, time, qkRopeHeadDim]`, the cache, `bias` and every
 * weight the getter returns under `prefix` (float32, its documented shape).
 */
export function assertMlaInputs(
    x: unknown, w: WeightGetter, prefix: string, config: MlaConfig, inputs: MlaInputs, fn: string): void {
  assertKnownInputs(config, CONFIG_KEYS, fn, 'config');
  for (const key of SIZE_KEYS) assertNumber(config[key], fn, `config.${key}`, {min: 1, integer: true});
  if (config.qLoraRank !== null) assertNumber(config.qLoraRank, fn, 'config.qLoraRank', {min: 1, integer: true});
  assertNumber(config.rmsNormEps, fn, 'config.rmsNormEps', {min: 0});
  assertNumber(config.softmaxScale, fn, 'config.softmaxScale', {min: 0, minExclusive: true});
  check(typeof config.ropeInterleave === 'boolean', fn, () =>
    `'config.ropeInterleave' expected a boolean, got ${String(config.ropeInterleave)}`);
  assertRank(x, 3, fn, 'x', ['batch', 'time', 'hidden'], 'float32');
  const [B, T, D] = x.shape as [number, number, number];
  check(D === config.hiddenSize, fn, () => `'x' expected shape [batch, time, hidden=${config.hiddenSize}], got ${fmtShape(x.shape)}`);
  assertKnownInputs(inputs, INPUT_KEYS, fn);
  const {cos, sin, bias, cache, mode} = inputs;
  if (mode !== undefined) assertOneOf(mode, ['expand', 'absorb'], fn, 'mode');
  const dr = config.qkRopeHeadDim, r = config.kvLoraRank;
  for (const [name, t] of [['cos', cos], ['sin', sin]] as const) {
    assertShape(t, [B, T, dr], fn, name, ['batch', 'time', 'qkRopeHeadDim']);
    assertRank(t, 3, fn, name, undefined, 'float32');
  }
  let past = 0;
  if (cache !== null) {
    assertKnownInputs(cache, ['latent', 'ropeKey'], fn, 'cache');
    assertRank(cache.latent, 3, fn, 'cache.latent', ['batch', 'pastTime', 'kvLoraRank'], 'float32');
    past = cache.latent.shape[1]!;
    assertShape(cache.latent, [B, past, r], fn, 'cache.latent', ['batch', 'pastTime', 'kvLoraRank']);
    assertShape(cache.ropeKey, [B, past, dr], fn, 'cache.ropeKey', ['batch', 'pastTime', 'qkRopeHeadDim']);
    assertRank(cache.ropeKey, 3, fn, 'cache.ropeKey', undefined, 'float32');
  }
  assertShape(bias, [B, 1, T, past + T], fn, 'bias', ['batch', '1', 'time', 'pastTime + time']);
  assertRank(bias, 4, fn, 'bias', undefined, 'float32');
  check(typeof w === 'function', fn, () => `'w' expected a weight getter (name) => tf.Tensor, got ${String(w)}`);
  for (const [name, shape] of mlaWeightShapes(config)) {
    assertShape(w(prefix + name), shape, fn, prefix + name);
    assertRank(w(prefix + name), shape.length, fn, prefix + name, undefined, 'float32');
  }
}

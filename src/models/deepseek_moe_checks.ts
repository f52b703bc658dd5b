/**
 * The shape, dtype and key checks of {@link deepseekMoe} (no value is read: it runs in every MoE layer).
 * @module
 */
import {assertKnownInputs, assertNumber, assertOneOf, assertRank, assertShape, check, fmtShape} from '../math/assert.js';
import type {DeepseekMoeConfig} from './deepseek_moe.js';
import type {WeightGetter} from './weight_getter.js';

const CONFIG_KEYS = ['nRoutedExperts', 'numExpertsPerTok', 'nSharedExperts', 'nGroup', 'topkGroup', 'normTopkProb',
  'routedScalingFactor', 'expertCompute'] as const;

/** Asserts the weight `name` is a float32 tensor of `shape`. */
function assertWeight(w: WeightGetter, name: string, shape: readonly number[], fn: string, axes: readonly string[]): void {
  const t = w(name);
  assertShape(t, shape, fn, name, axes);
  assertRank(t, shape.length, fn, name, undefined, 'float32');
}

/**
 * @internal Checks the arguments of {@link deepseekMoe}: `config` (known keys, positive integer
 * expert counts, `numExpertsPerTok` <= `nRoutedExperts`, `topkGroup` <= `nGroup`, `nGroup` dividing
 * `nRoutedExperts`, `nSharedExperts` an integer >= 0, a finite `routedScalingFactor` > 0, a boolean
 * `normTopkProb`, `expertCompute`), `x` float32 `[tokens, hidden]`, `w` a function and every weight
 * under `prefix` float32 of its shape (the expert width read from `experts.0.gate_proj.weight`).
 */
export function assertDeepseekMoeInputs(x: unknown, w: WeightGetter, prefix: string, config: DeepseekMoeConfig, fn: string): void {
  assertKnownInputs(config, CONFIG_KEYS, fn, 'config');
  const {nRoutedExperts: E, numExpertsPerTok: K, nSharedExperts: S, nGroup, topkGroup} = config;
  assertNumber(E, fn, 'config.nRoutedExperts', {integer: true, min: 1});
  assertNumber(K, fn, 'config.numExpertsPerTok', {integer: true, min: 1, max: E});
  assertNumber(S, fn, 'config.nSharedExperts', {integer: true, min: 0});
  assertNumber(nGroup, fn, 'config.nGroup', {integer: true, min: 1, max: E});
  check(E % nGroup === 0, fn, () => `'config.nGroup' expected to divide nRoutedExperts=${E}, got ${nGroup}`);
  assertNumber(topkGroup, fn, 'config.topkGroup', {integer: true, min: 1, max: nGroup});
  assertNumber(config.routedScalingFactor, fn, 'config.routedScalingFactor', {min: 0, minExclusive: true});
  check(typeof config.normTopkProb === 'boolean', fn, () =>
    `'config.normTopkProb' expected a boolean, got ${String(config.normTopkProb)}`);
  assertOneOf(config.expertCompute, ['dense', 'gather'], fn, 'config.expertCompute');
  assertRank(x, 2, fn, 'x', ['tokens', 'hidden'], 'float32');
  const H = x.shape[1]!;
  check(typeof w === 'function', fn, () => `'w' expected a weight getter (name) => tf.Tensor, got ${String(w)}`);
  assertWeight(w, prefix + 'gate.weight', [E, H], fn, ['nRoutedExperts', 'hidden']);
  assertWeight(w, prefix + 'gate.e_score_correction_bias', [E], fn, ['nRoutedExperts']);
  const first = w(prefix + 'experts.0.gate_proj.weight');
  assertRank(first, 2, fn, prefix + 'experts.0.gate_proj.weight', ['moeIntermediate', 'hidden'], 'float32');
  const I = first.shape[0]!;
  check(first.shape[1] === H, fn, () =>
    `'${prefix}experts.0.gate_proj.weight' expected shape [moeIntermediate, hidden=${H}], got ${fmtShape(first.shape)}`);
  const mlp = (p: string, width: number, name: string) => {
    assertWeight(w, p + 'gate_proj.weight', [width, H], fn, [name, 'hidden']);
    assertWeight(w, p + 'up_proj.weight', [width, H], fn, [name, 'hidden']);
    assertWeight(w, p + 'down_proj.weight', [H, width], fn, ['hidden', name]);
  };
  for (let e = 0; e < E; e++) mlp(`${prefix}experts.${e}.`, I, 'moeIntermediate');
  if (S > 0) mlp(prefix + 'shared_experts.', S * I, 'nSharedExperts * moeIntermediate');
}

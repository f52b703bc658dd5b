/**
 * Token-to-expert routing of DeepSeekMoE: sigmoid affinities, bias-corrected group-limited top-k
 * selection, gates from the uncorrected affinities.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFinite, assertFloat, assertKnownOptions, assertNumber, assertRank, assertShape, check} from '../math/assert.js';

/** Options of {@link moeRoute}. */
export interface MoeRouteOptions {
  /** Routed experts per token, K_r (`num_experts_per_tok`); required. */
  topK: number;
  /** Expert groups (`n_group`); the experts split into equal contiguous groups; default `1`. */
  nGroup?: number;
  /** Groups a token may route into (`topk_group`); default `nGroup` (no restriction). */
  topkGroup?: number;
  /** Normalise the selected gates to sum 1 (`norm_topk_prob`); default `true`. */
  normTopkProb?: boolean;
  /** Scale of the gates after normalisation (`routed_scaling_factor`); default `1`. */
  routedScalingFactor?: number;
}

/** Output of {@link moeRoute}; the caller disposes every tensor. */
export interface MoeRouting {
  /** `[tokens, topK]` int32 selected experts, in descending order of the bias-corrected score. */
  indices: tf.Tensor2D;
  /** `[tokens, topK]` float32 gate g_{i,t} of each selected expert (bias never included). */
  weights: tf.Tensor2D;
  /** `[tokens, experts]` the same gates scattered densely (0 for experts not selected). */
  combine: tf.Tensor2D;
  /** `[tokens, experts]` 1 where the expert is selected, else 0 (no gradient). */
  selected: tf.Tensor2D;
  /** `[tokens, experts]` sigmoid affinities s_{i,t} = sigmoid(u_t · e_i) (input of the balance loss). */
  affinities: tf.Tensor2D;
}

const KNOWN = ['topK', 'nGroup', 'topkGroup', 'normTopkProb', 'routedScalingFactor'];

/**
 * DeepSeekMoE routing (DeepSeek-V3, arXiv:2412.19437 §2.1.2, eqs. 13-16, with the
 * auxiliary-loss-free bias of §2.1.2 "Auxiliary-Loss-Free Load Balancing"):
 *
 *   s_{i,t} = sigmoid(u_t^T e_i)                      (affinity, `routerLogits` = u_t^T e_i)
 *   c_{i,t} = s_{i,t} + b_i                           (selection score; b = `e_score_correction_bias`)
 *   group score_{g,t} = sum of the top-2 c_{i,t} in group g; keep the `topkGroup` best groups
 *   selected = TopK(c_{.,t} masked to 0 outside the kept groups, K_r)
 *   g'_{i,t} = s_{i,t} if selected, else 0;  g_{i,t} = scale · g'_{i,t} / (sum_j g'_{j,t} + 1e-20)
 *
 * The bias only changes *which* experts are chosen; the gate values use s, never s + b. Semantics as
 * transformers' `DeepseekV3MoE.route_tokens_to_experts` (masked scores are filled with 0, not -inf;
 * normalisation only when `normTopkProb`). Differentiable with respect to `routerLogits` through the
 * gates; the selection itself carries no gradient.
 *
 * @param routerLogits `[tokens, experts]` float32 u_t^T e_i.
 * @param bias `[experts]` float32 selection bias b_i.
 * @param options see {@link MoeRouteOptions}; `topK` required.
 * @returns {@link MoeRouting}.
 * @throws on an unknown option, when `routerLogits` is not `[tokens, experts]` float32, `bias` not
 *   `[experts]` float32, `experts` is not a multiple of `nGroup`, or `topK` exceeds the experts of the
 *   kept groups; value checks (skipped with `configureValidation({valueChecks: false})`, one scalar
 *   read back each): `routerLogits` and `bias` finite (a NaN bias silently picks expert 0, NaN logits
 *   give NaN gates). The model forward ({@link deepseekMoe}) calls `moeRouteInModel` (internal), which
 *   skips the value checks.
 * @example
 * const r = moeRoute(tf.tensor2d([[2, 0, -1, 1]]), tf.zeros([4]), {topK: 2});
 * r.indices.arraySync(); // [[0, 3]]; gates sigmoid(2), sigmoid(1) normalised: ~[0.545, 0.455]
 * tf.dispose([r.indices, r.weights, r.combine, r.selected, r.affinities]);
 */
export function moeRoute(routerLogits: tf.Tensor2D, bias: tf.Tensor1D, options: MoeRouteOptions): MoeRouting {
  const resolved = resolveMoeRoute(routerLogits, bias, options);
  assertFinite(routerLogits, 'moeRoute', 'routerLogits');
  assertFinite(bias, 'moeRoute', 'bias');
  return route(routerLogits, bias, resolved);
}

/**
 * @internal {@link moeRoute} with its shape, dtype and option checks but no value checks (no
 * read-back): the per-layer call of the model forward ({@link deepseekMoe}), whose `routerLogits`
 * are our own matmul of the layer input and whose `bias` is the model's `e_score_correction_bias`
 * (moved only by {@link routerBiasUpdate}, which checks it is finite). A value check there would
 * cost one GPU synchronisation per MoE layer per forward.
 */
export function moeRouteInModel(routerLogits: tf.Tensor2D, bias: tf.Tensor1D, options: MoeRouteOptions): MoeRouting {
  return route(routerLogits, bias, resolveMoeRoute(routerLogits, bias, options));
}

/** The options of {@link moeRoute} with defaults applied. */
type ResolvedMoeRoute = Required<MoeRouteOptions>;

/** The always-on checks of {@link moeRoute}; returns the options with their defaults. */
function resolveMoeRoute(routerLogits: tf.Tensor2D, bias: tf.Tensor1D, options: MoeRouteOptions): ResolvedMoeRoute {
  const fn = 'moeRoute';
  assertKnownOptions(options, KNOWN, fn);
  assertRank(routerLogits, 2, fn, 'routerLogits', ['tokens', 'experts'], 'float32');
  const E = routerLogits.shape[1];
  assertShape(bias, [E], fn, 'bias', ['experts']);
  assertFloat(bias, fn, 'bias');
  const {topK, nGroup = 1, normTopkProb = true, routedScalingFactor = 1} = options ?? ({} as MoeRouteOptions);
  const topkGroup = options?.topkGroup ?? nGroup;
  assertNumber(topK, fn, 'topK', {integer: true, min: 1, max: E});
  assertNumber(nGroup, fn, 'nGroup', {integer: true, min: 1, max: E});
  assertNumber(topkGroup, fn, 'topkGroup', {integer: true, min: 1, max: nGroup});
  assertNumber(routedScalingFactor, fn, 'routedScalingFactor', {min: 0, minExclusive: true});
  check(E % nGroup === 0, fn, () => `'routerLogits' expected experts a multiple of nGroup=${nGroup}, got ${E}`);
  const perGroup = E / nGroup;
  check(topK <= topkGroup * perGroup, fn, () =>
    `'topK' expected <= topkGroup * experts/nGroup = ${topkGroup * perGroup}, got ${topK}`);
  check(nGroup === 1 || perGroup >= 2, fn, () =>
    `'nGroup' expected at least 2 experts per group (the group score sums the top 2), got ${perGroup}`);
  return {topK, nGroup, topkGroup, normTopkProb, routedScalingFactor};
}

/** The routing of checked inputs. */
function route(routerLogits: tf.Tensor2D, bias: tf.Tensor1D, options: ResolvedMoeRoute): MoeRouting {
  const {topK, nGroup, topkGroup, normTopkProb, routedScalingFactor} = options;
  const [N, E] = routerLogits.shape;
  const perGroup = E / nGroup;
  return tf.tidy(() => {
    const s = tf.sigmoid(routerLogits);
    const choice = tf.add(s, bias) as tf.Tensor2D;
    let masked: tf.Tensor2D = choice;
    if (topkGroup < nGroup) {
      const grouped = tf.reshape(choice, [N, nGroup, perGroup]) as tf.Tensor3D;
      const first = tf.max(grouped, -1);
      const firstAt = tf.cast(tf.oneHot(tf.argMax(grouped, -1), perGroup), 'bool');
      const second = tf.max(tf.where(firstAt, tf.fill(grouped.shape, -Infinity), grouped), -1);
      const groupScores = tf.add(first, second) as tf.Tensor2D; // [N, G]
      const groupMask = tf.sum(oneHotTopk(groupScores, topkGroup), 1); // [N, G] 0/1
      const expertMask = tf.reshape(tf.tile(tf.expandDims(groupMask, 2), [1, 1, perGroup]), [N, E]);
      masked = tf.where(tf.cast(expertMask, 'bool'), choice, tf.zerosLike(choice));
    }
    const oneHot = oneHotTopk(masked, topK); // [N, K, E]
    const indices = tf.cast(tf.argMax(oneHot, -1), 'int32') as tf.Tensor2D;
    const selected = tf.sum(oneHot, 1) as tf.Tensor2D;
    let combine = tf.mul(s, selected) as tf.Tensor2D;
    if (normTopkProb) combine = tf.div(combine, tf.add(tf.sum(combine, -1, true), 1e-20));
    if (routedScalingFactor !== 1) combine = tf.mul(combine, routedScalingFactor);
    const weights = tf.sum(tf.mul(oneHot, tf.expandDims(combine, 1)), -1) as tf.Tensor2D;
    return {indices, weights, combine, selected, affinities: s as tf.Tensor2D};
  });
}

/**
 * One-hot `[rows, k, n]` of the k largest entries of each row of `[rows, n]`, in descending order
 * (first index on ties), by k argMax passes. tfjs registers no gradient for `TopK`, so a `tf.topk`
 * anywhere between the router logits and the loss breaks `tf.grad`; ArgMax/OneHot have zero gradients.
 */
function oneHotTopk(scores: tf.Tensor2D, k: number): tf.Tensor3D {
  const n = scores.shape[1];
  const picks: tf.Tensor[] = [];
  let rest: tf.Tensor = scores;
  for (let j = 0; j < k; j++) {
    const pick = tf.cast(tf.oneHot(tf.argMax(rest, -1), n), 'float32');
    picks.push(pick);
    if (j + 1 < k) rest = tf.where(tf.cast(pick, 'bool'), tf.fill(rest.shape, -Infinity), rest);
  }
  return tf.stack(picks, 1) as tf.Tensor3D;
}

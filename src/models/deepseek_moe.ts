/**
 * The DeepSeekMoE feed-forward layer: shared experts plus fine-grained routed experts.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {tidyResult} from './tidy_result.js';
import {assertDeepseekMoeInputs} from './deepseek_moe_checks.js';
import {moeRouteInModel, type MoeRouting} from './moe_route.js';
import {swigluMlp, swigluWeightsAt} from './swiglu_mlp.js';
import type {WeightGetter} from './weight_getter.js';

/** How the routed experts are evaluated by {@link deepseekMoe}. */
export type ExpertCompute = 'dense' | 'gather';

/** Sizes and routing of a {@link deepseekMoe} layer (the config.json fields in camel case). */
export interface DeepseekMoeConfig {
  /** Routed experts N_r (`n_routed_experts`). */
  nRoutedExperts: number;
  /** Routed experts per token K_r (`num_experts_per_tok`). */
  numExpertsPerTok: number;
  /** Shared experts N_s (`n_shared_experts`), evaluated as one SwiGLU of width N_s · moe_intermediate_size; 0 for none. */
  nSharedExperts: number;
  /** Expert groups (`n_group`). */
  nGroup: number;
  /** Groups a token may use (`topk_group`). */
  topkGroup: number;
  /** Normalise the selected gates (`norm_topk_prob`). */
  normTopkProb: boolean;
  /** Gate scale (`routed_scaling_factor`). */
  routedScalingFactor: number;
  /**
   * `'dense'`: every expert on every token as three matmuls over the concatenated expert weights,
   * outputs weighted by the (mostly zero) gates: no data read back, the fastest for a few experts and
   * the only one differentiable on wasm. `'gather'`: per expert, only its tokens (indices read back,
   * `gather` + `unsortedSegmentSum`): cost ∝ K_r instead of N_r, for many experts (cpu and webgpu).
   */
  expertCompute: ExpertCompute;
}

/** Output of {@link deepseekMoe}; the caller disposes every tensor. */
export interface DeepseekMoeOutput {
  /** `[tokens, hidden]` h'_t − u_t: shared plus gated routed expert outputs (no residual). */
  output: tf.Tensor2D;
  /** The routing of the tokens (see {@link moeRoute}). */
  routing: MoeRouting;
}

/**
 * DeepSeekMoE (DeepSeek-V3, arXiv:2412.19437 §2.1.2, eq. 12; Dai et al. 2024, arXiv:2401.06066):
 *
 *   h'_t = u_t + Σ_{i<N_s} FFN^(s)_i(u_t) + Σ_{i<N_r} g_{i,t} FFN^(r)_i(u_t)
 *
 * with the gates g of {@link moeRoute} (sigmoid affinities, bias for selection only). Returns the sum
 * without the residual u_t. Weights under `prefix` as in the Hugging Face checkpoints:
 * `gate.weight` `[N_r, hidden]`, `gate.e_score_correction_bias` `[N_r]`,
 * `experts.{i}.{gate,up,down}_proj.weight`, `shared_experts.{gate,up,down}_proj.weight`.
 *
 * @param x `[tokens, hidden]` u_t.
 * @param w weight getter.
 * @param prefix e.g. `model.layers.3.mlp.`.
 * @param config see {@link DeepseekMoeConfig}.
 * @returns the output and the routing.
 * @throws when `config` has an unknown key, a non-integer or out-of-range expert count or group
 *   setting, a `routedScalingFactor` not > 0, a non-boolean `normTopkProb` or an unknown
 *   `expertCompute`, `x` is not float32 `[tokens, hidden]`, `w` is not a function, or a weight
 *   (router, bias, every expert, shared experts) is not float32 of its shape; shape checks only
 *   (no value is read back).
 * @example
 * const H = 4, I = 2, E = 4;
 * const w = (n: string) => n.endsWith('bias') ? tf.zeros([E]) : n.startsWith('gate') ? tf.ones([E, H])
 *   : n.includes('down') ? tf.ones([H, I]) : tf.ones([I, H]);
 * const {output, routing} = deepseekMoe(tf.ones([3, H]), w, '', {nRoutedExperts: E, numExpertsPerTok: 2,
 *   nSharedExperts: 1, nGroup: 1, topkGroup: 1, normTopkProb: true, routedScalingFactor: 1, expertCompute: 'dense'});
 * output.shape; // [3, 4]
 */
export function deepseekMoe(
    x: tf.Tensor2D, w: WeightGetter, prefix: string, config: DeepseekMoeConfig): DeepseekMoeOutput {
  assertDeepseekMoeInputs(x, w, prefix, config, 'deepseekMoe');
  return deepseekMoeInModel(x, w, prefix, config);
}

/**
 * @internal {@link deepseekMoe} without its checks, for `deepseekV3Block`, which checked the
 * resolved config and every weight of the layer.
 */
export function deepseekMoeInModel(
    x: tf.Tensor2D, w: WeightGetter, prefix: string, config: DeepseekMoeConfig): DeepseekMoeOutput {
  const E = config.nRoutedExperts;
  const N = x.shape[0];
  return tidyResult(() => {
    const logits = tf.matMul(x, w(prefix + 'gate.weight'), false, true) as tf.Tensor2D;
    const routing = moeRouteInModel(logits, w(prefix + 'gate.e_score_correction_bias') as tf.Tensor1D, {
      topK: config.numExpertsPerTok, nGroup: config.nGroup, topkGroup: config.topkGroup,
      normTopkProb: config.normTopkProb, routedScalingFactor: config.routedScalingFactor,
    });
    const ex = (e: number, name: string): tf.Tensor => w(`${prefix}experts.${e}.${name}_proj.weight`);
    let routed: tf.Tensor2D;
    if (config.expertCompute === 'dense') {
      const all = (name: string, axis: number): tf.Tensor => tf.concat(Array.from({length: E}, (_, e) => ex(e, name)), axis);
      const g = tf.matMul(x, all('gate', 0), false, true); // [N, E*I]
      const u = tf.matMul(x, all('up', 0), false, true);
      const h = tf.mul(tf.mul(g, tf.sigmoid(g)), u);
      const I = h.shape[1]! / E;
      const gated = tf.reshape(tf.mul(tf.reshape(h, [N, E, I]), tf.expandDims(routing.combine, 2)), [N, E * I]);
      routed = tf.matMul(gated, all('down', 1), false, true) as tf.Tensor2D;
    } else {
      const K = config.numExpertsPerTok;
      const idx = routing.indices.dataSync();
      const rows: number[][] = Array.from({length: E}, () => []);
      const slots: number[][] = Array.from({length: E}, () => []);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const e = idx[n * K + k]!;
          rows[e]!.push(n);
          slots[e]!.push(n * K + k);
        }
      }
      const flatWeights = tf.reshape(routing.weights, [N * K]);
      const parts: tf.Tensor[] = [];
      const segments: number[] = [];
      for (let e = 0; e < E; e++) {
        if (rows[e]!.length === 0) continue;
        const xe = tf.gather(x, tf.tensor1d(rows[e]!, 'int32')) as tf.Tensor2D;
        const ye = swigluMlp(xe, swigluWeightsAt(w, `${prefix}experts.${e}.`));
        const ge = tf.gather(flatWeights, tf.tensor1d(slots[e]!, 'int32'));
        parts.push(tf.mul(ye, tf.expandDims(ge, 1)));
        segments.push(...rows[e]!);
      }
      routed = tf.unsortedSegmentSum(tf.concat(parts, 0), tf.tensor1d(segments, 'int32'), N) as tf.Tensor2D;
    }
    const output = config.nSharedExperts > 0
      ? tf.add(routed, swigluMlp(x, swigluWeightsAt(w, prefix + 'shared_experts.'))) as tf.Tensor2D
      : routed;
    return {output, routing};
  });
}

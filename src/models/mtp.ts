/**
 * Multi-token prediction (MTP) modules of DeepSeek-V3.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertBinaryMask, assertFloat, assertNumber, assertRank, assertSameShape, assertShape, check, describeNonTensor, fmtShape,
} from '../math/assert.js';
import {assertTokensInVocab} from '../math/token_log_probs.js';
import {tidyResult} from './tidy_result.js';
import {deepseekV3Block} from './deepseek_v3_block.js';
import type {ResolvedDeepseekV3Config} from './deepseek_v3_config.js';
import type {MlaInputs, MlaLayerCache} from './mla.js';
import type {MoeRouting} from './moe_route.js';
import {rmsNorm} from './rms_norm.js';
import type {WeightGetter} from './weight_getter.js';

/** Output of {@link mtpModule}. */
export interface MtpModuleOutput {
  /** `[batch, time, hidden]` h^k: the block output (the previous-depth input of depth k + 1). */
  hidden: tf.Tensor3D;
  /** `[batch, time, hidden]` `shared_head.norm`(h^k), the input of the shared output head. */
  normed: tf.Tensor3D;
  /** The module's MLA cache. */
  cache: MlaLayerCache;
  /** MoE routing of the module's block, when it is an MoE layer. */
  routing?: MoeRouting;
}

/**
 * MTP module k (DeepSeek-V3, arXiv:2412.19437 §2.2, eqs. 21-23), stored as decoder layer
 * `num_hidden_layers + k − 1` of the release:
 *
 *   h'^k_i = M_k [RMSNorm(Emb(t_{i+k})); RMSNorm(h^{k−1}_i)]     (`eh_proj`, `enorm`, `hnorm`; embedding first)
 *   h^k_{1:T−k} = TRM_k(h'^k_{1:T−k})                           (one decoder layer)
 *   P^k_{i+k+1} = OutHead(`shared_head.norm`(h^k_i))             (the main model's output head)
 *
 * h^0 is the main model's final normed hidden state (as vLLM and SGLang read the released weights).
 * The concatenation order (embedding first) is the release's.
 *
 * @param prevHidden `[batch, time, hidden]` h^{k−1} at positions i.
 * @param nextEmbedding `[batch, time, hidden]` Emb(t_{i+k}).
 * @param w weight getter.
 * @param layer checkpoint layer index of the module.
 * @param config the resolved config.
 * @param attention RoPE tables (positions i), bias, cache, mode.
 * @returns {@link MtpModuleOutput}.
 * @throws when `config` is not a resolved config, `layer` is not an MTP layer (an integer in
 *   `[numLayers, numLayers + mtpDepth)`), `prevHidden` is not float32 `[batch, time, hidden]`,
 *   `nextEmbedding` not float32 of its shape, `w` not a function, or `enorm`, `hnorm`,
 *   `shared_head.norm` (`[hidden]`) or `eh_proj` (`[hidden, 2 hidden]`) not float32 of that shape;
 *   the block's own checks (attention inputs, layer weights) name `deepseekV3Block`. No value is read.
 * @example
 * const f: typeof mtpModule = mtpModule; // assembled by DeepseekV3Policy.mtpLogits
 */
export function mtpModule(
    prevHidden: tf.Tensor3D, nextEmbedding: tf.Tensor3D, w: WeightGetter, layer: number, config: ResolvedDeepseekV3Config,
    attention: MlaInputs): MtpModuleOutput {
  assertMtpModuleInputs(prevHidden, nextEmbedding, w, layer, config);
  return tidyResult(() => {
    const p = `model.layers.${layer}.`;
    const [B, T, D] = prevHidden.shape;
    const eps = config.rmsNormEps;
    const e = rmsNorm(nextEmbedding, w(p + 'enorm.weight') as tf.Tensor1D, eps);
    const h = rmsNorm(prevHidden, w(p + 'hnorm.weight') as tf.Tensor1D, eps);
    const joined = tf.reshape(tf.concat([e, h], 2), [B * T, 2 * D]);
    const x = tf.reshape(tf.matMul(joined, w(p + 'eh_proj.weight'), false, true), [B, T, D]) as tf.Tensor3D;
    const out = deepseekV3Block(x, w, layer, config, attention);
    const normed = rmsNorm(out.x, w(p + 'shared_head.norm.weight') as tf.Tensor1D, eps) as tf.Tensor3D;
    return {hidden: out.x, normed, cache: out.cache, routing: out.routing};
  });
}

/** The shape / dtype checks of {@link mtpModule} (before the block's own). */
function assertMtpModuleInputs(
    prevHidden: unknown, nextEmbedding: unknown, w: WeightGetter, layer: unknown, config: ResolvedDeepseekV3Config): void {
  const fn = 'mtpModule';
  check(typeof config === 'object' && config !== null && typeof config.mla === 'object', fn, () =>
    `'config' expected a resolved config (resolveDeepseekV3Config), got ${config === null ? 'null' : typeof config}`);
  const L = config.numLayers;
  check(config.mtpDepth >= 1, fn, () => `'config' expected an MTP module (mtpDepth >= 1), got mtpDepth ${config.mtpDepth}`);
  assertNumber(layer, fn, 'layer', {integer: true, min: L, max: L + config.mtpDepth - 1});
  const D = config.hiddenSize;
  assertRank(prevHidden, 3, fn, 'prevHidden', ['batch', 'time', 'hidden'], 'float32');
  const [B, T] = prevHidden.shape as [number, number, number];
  assertShape(prevHidden, [B, T, D], fn, 'prevHidden', ['batch', 'time', 'hidden']);
  assertRank(nextEmbedding, 3, fn, 'nextEmbedding', ['batch', 'time', 'hidden'], 'float32');
  assertSameShape(nextEmbedding, prevHidden, fn, 'nextEmbedding', 'prevHidden');
  check(typeof w === 'function', fn, () => `'w' expected a weight getter (name) => tf.Tensor, got ${String(w)}`);
  const p = `model.layers.${layer}.`;
  for (const [name, shape] of [['enorm.weight', [D]], ['hnorm.weight', [D]], ['shared_head.norm.weight', [D]],
    ['eh_proj.weight', [D, 2 * D]]] as const) {
    assertShape(w(p + name), shape, fn, p + name);
    assertRank(w(p + name), shape.length, fn, p + name, undefined, 'float32');
  }
}

/**
 * The MTP training objective (arXiv:2412.19437 §2.2, eqs. 24-25):
 * L_MTP = (λ / D) Σ_k L^k_MTP, each L^k the mean cross-entropy of depth k over its real targets.
 * A position counts when both it and its target are real (mask 1). An empty `logitsPerDepth` (a
 * sequence too short for any depth) gives 0.
 *
 * @param logitsPerDepth D entries, depth k (1-based): `[batch, time − k, vocab]` float32 logits,
 *   position i predicting t_{i+k+1}; the same vocab at every depth (the shared output head).
 * @param tokens `[batch, time]` int32 ids in [0, vocab) (padding included).
 * @param mask `[batch, time]` float32 1 real / 0 pad.
 * @param lambda weight λ, a finite number >= 0.
 * @returns scalar λ/D Σ_k L^k.
 * @throws when `logitsPerDepth` is not an array of rank-3 float32 tensors of shape
 *   `[batch, time − k, vocab]`, `tokens` is not `[batch, time]` int32, `mask` is not float32 of the
 *   shape of `tokens`, or `lambda` is not a finite number >= 0; value checks (skipped with
 *   `configureValidation({valueChecks: false})`): `mask` values in {0, 1}, `tokens` in [0, vocab).
 * @example
 * const f: typeof mtpLoss = mtpLoss;
 */
export function mtpLoss(logitsPerDepth: tf.Tensor3D[], tokens: tf.Tensor2D, mask: tf.Tensor2D, lambda: number): tf.Scalar {
  validateMtpLossInputs(logitsPerDepth, tokens, mask, lambda);
  const D = logitsPerDepth.length;
  if (D === 0) return tf.scalar(0);
  return tf.tidy(() => {
    const [B, T] = tokens.shape;
    let total: tf.Tensor = tf.scalar(0);
    for (let k = 1; k <= D; k++) {
      const logits = logitsPerDepth[k - 1]!;
      const V = logits.shape[2];
      const n = T - k - 1; // positions with a target
      if (n <= 0) continue;
      const lp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [B, n, V]));
      const target = tf.cast(tf.oneHot(tf.reshape(tf.slice(tokens, [0, k + 1], [B, n]), [-1]), V), 'float32');
      const nll = tf.neg(tf.sum(tf.mul(tf.reshape(lp, [B * n, V]), target), -1)); // [B*n]
      const m = tf.reshape(tf.mul(tf.slice(mask, [0, k + 1], [B, n]), tf.slice(mask, [0, 0], [B, n])), [-1]);
      total = tf.add(total, tf.div(tf.sum(tf.mul(nll, m)), tf.maximum(tf.sum(m), 1)));
    }
    return tf.mul(total, lambda / D) as tf.Scalar;
  });
}

/** The checks of {@link mtpLoss}: shapes, dtypes and `lambda` always; mask and token range as value checks. */
function validateMtpLossInputs(logitsPerDepth: unknown, tokens: tf.Tensor2D, mask: tf.Tensor2D, lambda: unknown): void {
  const fn = 'mtpLoss';
  check(Array.isArray(logitsPerDepth), fn, () =>
    `'logitsPerDepth' expected an array of [batch, time - k, vocab] tensors (one per depth k), got ` +
    (logitsPerDepth instanceof tf.Tensor ? `a tf.Tensor of shape ${fmtShape(logitsPerDepth.shape)}; wrap it in an array`
      : describeNonTensor(logitsPerDepth).split(';')[0]));
  assertRank(tokens, 2, fn, 'tokens', ['batch', 'time'], 'int32');
  const [B, T] = tokens.shape;
  assertSameShape(mask, tokens, fn, 'mask', 'tokens');
  assertFloat(mask, fn, 'mask');
  assertNumber(lambda, fn, 'lambda', {min: 0});
  let vocab = 0;
  logitsPerDepth.forEach((logits: unknown, i) => {
    const name = `logitsPerDepth[${i}]`;
    assertRank(logits, 3, fn, name, ['batch', 'time - k', 'vocab'], 'float32');
    if (i === 0) vocab = logits.shape[2]!;
    assertShape(logits, [B, Math.max(T - i - 1, 0), vocab], fn, name, ['batch', `time - ${i + 1}`, 'vocab']);
  });
  if (logitsPerDepth.length === 0) return;
  assertBinaryMask(mask, fn, 'mask');
  assertTokensInVocab(tokens, vocab, fn, "'logitsPerDepth'");
}

/**
 * The forward computation of a {@link TransformerPolicy}: embeddings, causal multi-head attention with
 * an optional key/value cache, pre-LayerNorm GELU MLP blocks, tied or separate output projection.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {fp8Linear, type Fp8LinearOptions} from './fp8_linear.js';
import type {KvCache} from './kv_cache.js';
import type {TransformerConfig} from './transformer_config.js';

/** @internal Logits, hidden states and the extended cache of {@link transformerForward}. */
export interface TransformerForwardOutput {
  /** `[batch, newTime, vocab]` logits. */
  logits: tf.Tensor3D;
  /** `[batch, newTime, width]` final normed hidden states. */
  hidden: tf.Tensor3D;
  /** The cache extended by the new tokens. */
  cache: KvCache;
}

/**
 * @internal The shared forward body of `apply` and `applyWithCache` on validated inputs; call inside
 * `tf.tidy`. `positions` are int32 position ids, `keyMask` is `[batch, pastTime + newTime]` float32.
 */
export function transformerForward(
    config: Required<TransformerConfig>, weights: ReadonlyMap<string, tf.Variable>, tokens: tf.Tensor2D,
    positions: tf.Tensor2D, keyMask: tf.Tensor2D, past: KvCache | null,
    fp8: Fp8LinearOptions | null = null): TransformerForwardOutput {
  const {layers: L, width: D, heads: H, vocabSize: V} = config;
  const dh = D / H;
  const [B, Tq] = tokens.shape;
  const Tp = past === null ? 0 : past.keys[0]!.shape[2];
  const Tk = Tp + Tq;
  const w = (name: string): tf.Variable => weights.get(name)!;
  // The block linears, in simulated FP8 when `fp8` is set (embeddings and head stay float32, as in V3).
  const linear = (x: tf.Tensor, weight: tf.Tensor): tf.Tensor => (fp8 === null ? tf.matMul(x, weight) : fp8Linear(x, weight, fp8));

  // Embedding lookups as one-hot matmuls: the gradient of gather (UnsortedSegmentSum) is missing on
  // the wasm backend, and with a vocabulary of ~20 the matmul is as cheap. The one-hot is built as
  // int32 and cast: wasm's OneHot returns zeros when asked for float32 directly (tfjs 4.22).
  const oneHot = (ids: tf.Tensor, depth: number): tf.Tensor2D =>
    tf.cast(tf.oneHot(tf.reshape(ids, [-1]) as tf.Tensor1D, depth), 'float32') as tf.Tensor2D;
  let x = tf.add(tf.matMul(oneHot(tokens, V), w('tok_emb')),
      tf.matMul(oneHot(positions, config.contextLength), w('pos_emb'))) as tf.Tensor2D; // [B*Tq, D]

  // Additive attention bias [B, 1, Tq, Tk]: query i (absolute Tp + i) sees key j <= Tp + i when real.
  const causal = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j <= Tp + i; j++) causal[i * Tk + j] = 1;
  // Materialised at full [B, H, Tq, Tk] once: the cpu backend's same-shape add is much faster than
  // its general broadcasting path, and the bias is reused by every layer.
  const allowed = tf.mul(tf.tensor4d(causal, [1, 1, Tq, Tk]), tf.reshape(keyMask, [B, 1, 1, Tk]));
  const bias = tf.tile(tf.mul(tf.sub(1, allowed), -1e9), [1, H, 1, 1]);

  const keys: tf.Tensor4D[] = [];
  const values: tf.Tensor4D[] = [];
  const heads = (t: tf.Tensor): tf.Tensor4D =>
    tf.transpose(tf.reshape(t, [B, Tq, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
  for (let l = 0; l < L; l++) {
    const p = `h${l}.`;
    const h = layerNorm(x, w(p + 'ln1.g'), w(p + 'ln1.b'));
    const proj = (name: string): tf.Tensor => tf.add(linear(h, w(p + name + '.w')), w(p + name + '.b'));
    let kh = heads(proj('attn.k'));
    let vh = heads(proj('attn.v'));
    if (past !== null) {
      kh = tf.concat([past.keys[l]!, kh], 2);
      vh = tf.concat([past.values[l]!, vh], 2);
    }
    keys.push(kh);
    values.push(vh);
    const scores = tf.add(tf.mul(tf.matMul(heads(proj('attn.q')), kh, false, true), 1 / Math.sqrt(dh)), bias);
    const attn = tf.matMul(tf.softmax(scores), vh); // [B, H, Tq, dh]
    const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [B * Tq, D]);
    x = tf.add(x, tf.add(linear(merged, w(p + 'attn.out.w')), w(p + 'attn.out.b')));
    const h2 = layerNorm(x, w(p + 'ln2.g'), w(p + 'ln2.b'));
    const m = gelu(tf.add(linear(h2, w(p + 'mlp.in.w')), w(p + 'mlp.in.b')));
    x = tf.add(x, tf.add(linear(m, w(p + 'mlp.out.w')), w(p + 'mlp.out.b')));
  }
  const hidden = layerNorm(x, w('ln_f.g'), w('ln_f.b'));
  const logits = config.tiedEmbeddings
    ? tf.matMul(hidden, w('tok_emb'), false, true)
    : tf.matMul(hidden, w('lm_head.w'));
  return {
    logits: tf.reshape(logits, [B, Tq, V]),
    hidden: tf.reshape(hidden, [B, Tq, D]),
    cache: {keys, values},
  };
}

/**
 * LayerNorm over the last axis of `[rows, width]` (Ba et al. 2016, arXiv:1607.06450). Computed on the
 * transpose `[width, rows]` so that every broadcast is over a trailing axis: the cpu backend runs
 * those on its fast path, while a `[rows, 1]` broadcast takes a per-element index computation.
 */
function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const xt = tf.transpose(x);
  const centred = tf.sub(xt, tf.mean(xt, 0));
  const inv = tf.rsqrt(tf.add(tf.mean(tf.square(centred), 0), 1e-5));
  return tf.add(tf.mul(tf.transpose(tf.mul(centred, inv)), g), b) as tf.Tensor2D;
}

/** GELU, sigmoid approximation x * sigmoid(1.702 x) (Hendrycks & Gimpel 2016, arXiv:1606.08415). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** @internal Position ids from a left-padding mask: number of real tokens before each position, >= 0. */
export function positionsFromMask(mask: tf.Tensor): tf.Tensor2D {
  return tf.cast(tf.relu(tf.sub(tf.cumsum(mask, 1), 1)), 'int32') as tf.Tensor2D;
}

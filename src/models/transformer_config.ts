/**
 * The architecture of a {@link TransformerPolicy}: its config, defaults, validation and weight shapes.
 * @module
 */
import {assertNumber, check} from '../math/assert.js';
import type {Fp8LinearOptions} from './fp8_linear.js';

/** Architecture of a {@link TransformerPolicy}. */
export interface TransformerConfig {
  /** Number of token ids (must equal the tokenizer's `vocabSize`). */
  vocabSize: number;
  /** Longest sequence (prompt + completion) the learned position table covers. */
  contextLength: number;
  /** Transformer blocks; default `2`. */
  layers?: number;
  /** Model width `d_model`; default `64`; a multiple of `heads`. */
  width?: number;
  /** Attention heads; default `4`. */
  heads?: number;
  /** MLP hidden width as a multiple of `width`; default `4`. */
  mlpRatio?: number;
  /** Output projection = transposed token embedding (Press & Wolf 2017, arXiv:1608.05859); default `true`. */
  tiedEmbeddings?: boolean;
}

/** Options of {@link TransformerPolicy.create}. */
export interface TransformerPolicyOptions extends TransformerConfig {
  /** Seed of the weight initialisation; default `0`. Same seed, same weights on every backend. */
  seed?: number;
  /**
   * Run the blocks' linear layers (attention q/k/v/out, MLP in/out) as simulated FP8 GEMMs
   * (`fp8Linear`, DeepSeek-V3 §3.3); embeddings, head, norms and attention stay float32 as in V3.
   * `true` for the defaults, or the options. Default `false`. Kept by `copy()`, not stored by `save()`.
   */
  fp8?: boolean | Fp8LinearOptions;
}

/** @internal Fills in the defaults and validates the sizes. */
export function resolveConfig(c: TransformerConfig): Required<TransformerConfig> {
  const fn = 'TransformerPolicy';
  check(typeof c === 'object' && c !== null, fn, () => `'config' expected an object, got ${String(c)}`);
  const config: Required<TransformerConfig> = {
    vocabSize: c.vocabSize, contextLength: c.contextLength, layers: c.layers ?? 2, width: c.width ?? 64,
    heads: c.heads ?? 4, mlpRatio: c.mlpRatio ?? 4, tiedEmbeddings: c.tiedEmbeddings ?? true,
  };
  for (const key of ['vocabSize', 'contextLength', 'layers', 'width', 'heads', 'mlpRatio'] as const) {
    assertNumber(config[key], fn, key, {integer: true, min: 1});
  }
  check(config.vocabSize >= 2, fn, () => `'vocabSize' expected >= 2, got ${config.vocabSize}`);
  check(config.width % config.heads === 0, fn, () =>
    `'width' expected a multiple of 'heads'=${config.heads}, got ${config.width}`);
  return config;
}

/** @internal Whether two resolved configs describe the same architecture. */
export function sameConfig(a: Required<TransformerConfig>, b: Required<TransformerConfig>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** @internal Names and shapes of the weights, in their fixed order. */
export function weightShapes(c: Required<TransformerConfig>): Array<[string, number[]]> {
  const {vocabSize: V, contextLength: T, layers: L, width: D, mlpRatio} = c;
  const M = D * mlpRatio;
  const shapes: Array<[string, number[]]> = [['tok_emb', [V, D]], ['pos_emb', [T, D]]];
  for (let l = 0; l < L; l++) {
    const p = `h${l}.`;
    shapes.push(
        [p + 'ln1.g', [D]], [p + 'ln1.b', [D]],
        [p + 'attn.q.w', [D, D]], [p + 'attn.q.b', [D]],
        [p + 'attn.k.w', [D, D]], [p + 'attn.k.b', [D]],
        [p + 'attn.v.w', [D, D]], [p + 'attn.v.b', [D]],
        [p + 'attn.out.w', [D, D]], [p + 'attn.out.b', [D]],
        [p + 'ln2.g', [D]], [p + 'ln2.b', [D]],
        [p + 'mlp.in.w', [D, M]], [p + 'mlp.in.b', [M]],
        [p + 'mlp.out.w', [M, D]], [p + 'mlp.out.b', [D]]);
  }
  shapes.push(['ln_f.g', [D]], ['ln_f.b', [D]]);
  if (!c.tiedEmbeddings) shapes.push(['lm_head.w', [D, V]]);
  return shapes;
}

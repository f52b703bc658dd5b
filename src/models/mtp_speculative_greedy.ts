/**
 * Greedy speculative decoding with the DeepSeek-V3 MTP module as the draft model.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {markBinaryMask} from './checked_masks.js';
import type {DeepseekV3Cache, DeepseekV3Policy} from './deepseek_v3.js';
import type {MlaLayerCache} from './mla.js';

/** Options of {@link mtpSpeculativeGreedy}. */
export interface MtpSpeculativeGreedyOptions {
  /** Most tokens to generate (required). */
  maxNewTokens: number;
  /** Stop after this id (included in the output); default none. */
  stopToken?: number;
}

/** Output of {@link mtpSpeculativeGreedy}. */
export interface MtpSpeculativeGreedyResult {
  /** The generated ids (the prompt excluded), identical to plain greedy decoding of the main model. */
  tokens: number[];
  /** Draft tokens proposed by the MTP module and checked by the main model. */
  drafted: number;
  /** Drafts the main model confirmed. */
  accepted: number;
  /** accepted / drafted (0 when nothing was drafted). */
  acceptanceRate: number;
  /** Forward passes of the main model (prefill included); plain greedy needs one per token. */
  mainPasses: number;
}

const argmaxAt = (logits: tf.Tensor3D, t: number): number => tf.tidy(() =>
  tf.argMax(tf.slice(logits, [0, t, 0], [1, 1, logits.shape[2]]), -1).dataSync()[0]!);
const ids = (row: number[]): tf.Tensor2D => tf.tensor2d(row, [1, row.length], 'int32');

/** A `[1, n]` key mask of ones, marked as binary (the forward passes do not read it back each step). */
function onesMask(n: number): tf.Tensor2D {
  const m = tf.ones([1, n]) as tf.Tensor2D;
  markBinaryMask(m, []);
  return m;
}

function truncate(c: MlaLayerCache, len: number): MlaLayerCache {
  return {
    latent: tf.slice(c.latent, [0, 0, 0], [1, len, c.latent.shape[2]]),
    ropeKey: tf.slice(c.ropeKey, [0, 0, 0], [1, len, c.ropeKey.shape[2]]),
  };
}

/**
 * Greedy decoding of one prompt with MTP self-speculation (DeepSeek-V3, arXiv:2412.19437 §2.2 and
 * §5.4.3: the MTP module drafts the token after next, the main model verifies it in the same pass
 * that produces the next token; Leviathan et al. 2023, arXiv:2211.17192, greedy case). Per main pass:
 * feed [t_{n}, draft]; if argmax at t_n equals the draft, both the draft and the token after it are
 * kept (2 tokens per pass), else only the verified token is kept and the draft's cache entry dropped.
 * Every emitted token is the main model's argmax, so the output equals plain greedy decoding (up to
 * float rounding between a 1-token and a 2-token pass).
 *
 * @param policy a {@link DeepseekV3Policy} with an MTP module (`num_nextn_predict_layers` >= 1).
 * @param prompt the prompt ids (no padding).
 * @param options.maxNewTokens most tokens (required); options.stopToken default none.
 * @returns the tokens and the acceptance statistics.
 * @throws when the model has no MTP module or the prompt plus `maxNewTokens` exceeds the context.
 * @example
 * // see examples/demo_deepseek.ts: the MTP acceptance rate of the trained tiny model
 * const f: typeof mtpSpeculativeGreedy = mtpSpeculativeGreedy;
 */
export function mtpSpeculativeGreedy(
    policy: DeepseekV3Policy, prompt: readonly number[], options: MtpSpeculativeGreedyOptions): MtpSpeculativeGreedyResult {
  const fn = 'mtpSpeculativeGreedy';
  assertKnownOptions(options, ['maxNewTokens', 'stopToken'], fn);
  const {maxNewTokens, stopToken} = options;
  assertNumber(maxNewTokens, fn, 'maxNewTokens', {integer: true, min: 1});
  check(policy.config.mtpDepth >= 1, fn, () => `'policy' expected an MTP module (num_nextn_predict_layers >= 1), got 0`);
  check(prompt.length >= 1, fn, () => `'prompt' expected at least one id, got none`);
  check(prompt.length + maxNewTokens + 1 <= policy.contextLength, fn, () =>
    `prompt length ${prompt.length} + maxNewTokens ${maxNewTokens} + 1 exceeds contextLength ${policy.contextLength}`);
  const out: number[] = [];
  let drafted = 0, accepted = 0, mainPasses = 1;
  const n0 = prompt.length;
  const range = (a: number, b: number): number[] => Array.from({length: b - a}, (_, i) => a + i);
  // Every input and result tensor is freed at the end of this scope (the passes free their own intermediates).
  tf.tidy(() => {
    // prefill: main over the prompt; MTP over positions 0..n-1 with (h_i, t_{i+1})
    const pre = policy.applyWithCache({tokens: ids([...prompt]), positions: ids(range(0, n0)), keyMask: onesMask(n0), cache: null});
    let cache: DeepseekV3Cache = pre.cache;
    let next = argmaxAt(pre.logits, n0 - 1);
    out.push(next);
    let mtp = policy.mtpApplyWithCache({prevHidden: pre.hidden!, tokens: ids([...prompt.slice(1), next]), positions: ids(range(0, n0)),
      keyMask: onesMask(n0), cache: null});
    let draft = argmaxAt(mtp.logits, n0 - 1);
    tf.dispose([pre.logits, pre.hidden!, mtp.logits]);
    let mtpCache = mtp.cache;
    let len = n0; // tokens in the main cache; `next` is the last emitted token, not yet in the cache
    while (out.length < maxNewTokens && next !== stopToken) {
      const step = policy.applyWithCache({tokens: ids([next, draft]), positions: ids([len, len + 1]),
        keyMask: onesMask(len + 2), cache});
      policy.disposeCache(cache);
      mainPasses++;
      drafted++;
      const verified = argmaxAt(step.logits, 0);
      let newTokens: number[];
      let hiddenRows: number;
      if (verified === draft) {
        accepted++;
        newTokens = [draft, argmaxAt(step.logits, 1)];
        cache = step.cache;
        hiddenRows = 2;
      } else {
        newTokens = [verified];
        cache = {layers: step.cache.layers.map((c) => truncate(c, len + 1))};
        policy.disposeCache(step.cache);
        hiddenRows = 1;
      }
      // MTP positions len.. take (h_i, t_{i+1}): h of the fed tokens, the tokens after them
      const hidden = tf.slice(step.hidden!, [0, 0, 0], [1, hiddenRows, step.hidden!.shape[2]]);
      const m = policy.mtpApplyWithCache({prevHidden: hidden as tf.Tensor3D, tokens: ids(newTokens), positions: ids(range(len, len + hiddenRows)),
        keyMask: onesMask(len + hiddenRows), cache: mtpCache});
      tf.dispose([mtpCache.latent, mtpCache.ropeKey, hidden, step.logits, step.hidden!]);
      mtpCache = m.cache;
      draft = argmaxAt(m.logits, hiddenRows - 1);
      m.logits.dispose();
      len += hiddenRows;
      for (const t of newTokens) {
        if (out.length < maxNewTokens && out[out.length - 1] !== stopToken) out.push(t);
      }
      next = out[out.length - 1]!;
    }
    policy.disposeCache(cache);
    tf.dispose([mtpCache.latent, mtpCache.ropeKey]);
  });
  return {tokens: out, drafted, accepted, acceptanceRate: drafted === 0 ? 0 : accepted / drafted, mainPasses};
}

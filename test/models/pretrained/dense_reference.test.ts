// The dense fixtures (transformers 5.17, test/fixtures/pretrained/README.md): logits within 1e-4 of
// transformers, plain and left-padded; greedy generation with the KV cache equal to generation without.
import {readFileSync} from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {DenseDecoderPolicy} from '../../../src/models/dense_decoder.js';
import {loadPretrained} from '../../../src/models/pretrained/load_pretrained_folder.js';
import type {KvCache} from '../../../src/models/transformer_policy.js';

const root = 'test/fixtures/pretrained/';
interface Reference {
  tokens: number[][];
  logits: number[][][];
  padded: {tokens: number[][]; attention_mask: number[][]; position_ids: number[][]; logits: number[][][]};
}

function maxAbs(a: ArrayLike<number>, b: number[], mask?: number[]): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) if (mask === undefined || mask[i]) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// Reduced-precision checkpoints: the references come from the rounded weights in float32, with RoPE's
// inv_freq kept in float32 as transformers keeps it (make_fixtures.py rounds the state dict only).
const cases = ['llama_gqa_f32', 'llama3_tied_bf16_sharded', 'qwen2_tied_f32', 'qwen3_yarn_f16'];

describe.each(cases)('%s', (name) => {
  it('logits within 1e-4 of transformers, plain and left-padded', async () => {
    const ref = JSON.parse(readFileSync(root + name + '/reference.json', 'utf8')) as Reference;
    const model = await loadPretrained(root + name);
    expect(model.policy).toBeInstanceOf(DenseDecoderPolicy);
    const before = tf.memory().numTensors;
    const tokens = tf.tensor2d(ref.tokens, undefined, 'int32');
    const {logits, hidden} = model.apply(tokens);
    expect(logits.shape).toEqual([2, 10, 320]);
    expect(maxAbs(logits.dataSync(), ref.logits.flat(2))).toBeLessThan(1e-4);
    const pt = tf.tensor2d(ref.padded.tokens, undefined, 'int32');
    const pm = tf.tensor2d(ref.padded.attention_mask, undefined, 'int32');
    const padded = model.apply(pt, {attentionMask: pm});
    const realMask = ref.padded.attention_mask.flat().flatMap((m) => Array<number>(320).fill(m));
    expect(maxAbs(padded.logits.dataSync(), ref.padded.logits.flat(2), realMask)).toBeLessThan(1e-4);
    tf.dispose([tokens, logits, hidden!, pt, pm, padded.logits, padded.hidden!]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('KV cache', () => {
  it.each(['llama_gqa_f32', 'qwen3_yarn_f16'])('%s: greedy generation with the cache equals generation without it', async (name) => {
    const model = await loadPretrained(root + name);
    const policy = model.policy as DenseDecoderPolicy;
    // Left-padded prompts of 5 and 3 real tokens.
    const prompt = [[11, 12, 13, 14, 15], [0, 0, 21, 22, 23]];
    const mask = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];
    const steps = 6;
    const before = tf.memory().numTensors;
    // Without cache: re-run apply on the whole prefix.
    const seqA = prompt.map((r) => r.slice());
    const maskA = mask.map((r) => r.slice());
    const lastLogitsA: number[][] = [];
    for (let s = 0; s < steps; s++) {
      const out = tf.tidy(() => {
        const {logits} = policy.apply(tf.tensor2d(seqA, undefined, 'int32'), {attentionMask: tf.tensor2d(maskA)});
        return tf.squeeze(tf.slice(logits, [0, seqA[0]!.length - 1, 0], [2, 1, -1]), [1]);
      });
      const rows = out.arraySync() as number[][];
      out.dispose();
      rows.forEach((r, b) => {
        seqA[b]!.push(r.indexOf(Math.max(...r)));
        maskA[b]!.push(1);
      });
      lastLogitsA.push(...rows);
    }
    // With cache: prefill, then one token per step.
    const seqB = prompt.map((r) => r.slice());
    const keyMask = mask.map((r) => r.slice());
    const realCount = mask.map((r) => r.reduce((a, b) => a + b, 0));
    let cache: KvCache | null = null;
    let tokens = prompt;
    let positions = mask.map((r) => r.map((_, t) => Math.max(0, r.slice(0, t + 1).reduce((a, b) => a + b, 0) - 1)));
    const lastLogitsB: number[][] = [];
    for (let s = 0; s < steps; s++) {
      const inputs = [tf.tensor2d(tokens, undefined, 'int32'), tf.tensor2d(positions, undefined, 'int32'), tf.tensor2d(keyMask)];
      const step = policy.applyWithCache({tokens: inputs[0]!, positions: inputs[1]!, keyMask: inputs[2]!, cache});
      tf.dispose(inputs);
      if (cache !== null) policy.disposeCache(cache);
      cache = step.cache;
      const last = tf.tidy(() => tf.squeeze(tf.slice(step.logits, [0, tokens[0]!.length - 1, 0], [2, 1, -1]), [1]));
      const rows = last.arraySync() as number[][];
      tf.dispose([last, step.logits, step.hidden!]);
      lastLogitsB.push(...rows);
      const next = rows.map((r) => r.indexOf(Math.max(...r)));
      next.forEach((id, b) => {
        seqB[b]!.push(id);
        keyMask[b]!.push(1);
      });
      tokens = next.map((id) => [id]);
      positions = realCount.map((c) => [c + s]);
    }
    policy.disposeCache(cache!);
    expect(seqB).toEqual(seqA);
    expect(maxAbs(lastLogitsB.flat(), lastLogitsA.flat())).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

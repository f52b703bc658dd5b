import {readFileSync} from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DeepseekV3Policy} from '../../../src/models/deepseek_v3.js';
import type {DeepseekV3Config} from '../../../src/models/deepseek_v3_config.js';
import {readSafetensorsF32} from '../../helpers/read_safetensors_f32.js';

const root = 'test/fixtures/pretrained/';
interface Reference {
  tokens: number[][]; logits: number[][][];
  padded: {tokens: number[][]; attention_mask: number[][]; logits: number[][][]};
  mtp?: {tokens: number[][]; logits: number[][][]};
}

function load(name: string): {policy: DeepseekV3Policy; ref: Reference} {
  const dir = root + name + '/';
  const config = JSON.parse(readFileSync(dir + 'config.json', 'utf8')) as DeepseekV3Config;
  const ref = JSON.parse(readFileSync(dir + 'reference.json', 'utf8')) as Reference;
  const tensors = readSafetensorsF32(dir + 'model.safetensors');
  try {
    const policy = DeepseekV3Policy.fromWeights(config, (n) => {
      const t = tensors.get(n);
      if (t === undefined) throw new Error(`missing ${n}`);
      return t;
    });
    return {policy, ref};
  } finally {
    tf.dispose([...tensors.values()]);
  }
}

function maxDiff(got: tf.Tensor, want: number[][][], mask?: number[][]): number {
  const g = got.arraySync() as number[][][];
  let m = 0;
  g.forEach((row, b) => row.forEach((v, t) => {
    if (mask !== undefined && mask[b]![t] === 0) return;
    v.forEach((x, i) => { m = Math.max(m, Math.abs(x - want[b]![t]![i]!)); });
  }));
  return m;
}

const ids = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

describe.each(['deepseek_v3_qlora_grouped_mtp', 'deepseek_v3_noqlora_yarn', 'deepseek_v3_tied_nointerleave'])('DeepseekV3Policy on %s', (name) => {
  let policy: DeepseekV3Policy, ref: Reference;
  beforeAll(() => ({policy, ref} = load(name)));
  afterAll(() => policy.dispose());

  it('logits within 1e-4 of transformers (plain and left-padded batches)', () => {
    const x = ids(ref.tokens);
    const {logits, hidden} = policy.apply(x);
    expect(maxDiff(logits, ref.logits)).toBeLessThan(1e-4);
    const p = ids(ref.padded.tokens), m = tf.tensor2d(ref.padded.attention_mask);
    const padded = policy.apply(p, {attentionMask: m});
    expect(maxDiff(padded.logits, ref.padded.logits, ref.padded.attention_mask)).toBeLessThan(1e-4);
    tf.dispose([x, logits, hidden!, p, m, padded.logits, padded.hidden!]);
  });

  it('applyWithCache (absorbed MLA, prefill then one token at a time) equals apply', () => {
    const seq = ref.tokens.map((r) => r.slice(0, 7));
    const full = policy.apply(ids(seq));
    const B = seq.length;
    let out = policy.applyWithCache({tokens: ids(seq.map((r) => r.slice(0, 4))), positions: ids(seq.map(() => [0, 1, 2, 3])),
      keyMask: tf.ones([B, 4]) as tf.Tensor2D, cache: null});
    const rows: number[][][] = (out.logits.arraySync() as number[][][]).map((r) => [...r]);
    for (let t = 4; t < 7; t++) {
      const next = policy.applyWithCache({tokens: ids(seq.map((r) => [r[t]!])), positions: ids(seq.map(() => [t])),
        keyMask: tf.ones([B, t + 1]) as tf.Tensor2D, cache: out.cache});
      policy.disposeCache(out.cache);
      out = next;
      (out.logits.arraySync() as number[][][]).forEach((r, b) => rows[b]!.push(r[0]!));
    }
    expect(out.cache.layers[0]!.latent.shape).toEqual([B, 7, policy.config.mla.kvLoraRank]);
    expect(out.cache.layers[0]!.ropeKey.shape).toEqual([B, 7, policy.config.mla.qkRopeHeadDim]);
    expect(maxDiff(full.logits, rows)).toBeLessThan(1e-4);
    policy.disposeCache(out.cache);
  });
});

describe('DeepseekV3Policy MTP module of the release layout', () => {
  it('MTP logits within 1e-4 of the reference (embedding-first concatenation)', () => {
    const {policy, ref} = load('deepseek_v3_qlora_grouped_mtp');
    expect(policy.config.mtpDepth).toBe(1);
    const x = ids(ref.mtp!.tokens);
    const [logits] = policy.mtpLogits(x);
    expect(logits!.shape).toEqual([2, 9, 320]);
    expect(maxDiff(logits!, ref.mtp!.logits)).toBeLessThan(1e-4);
    tf.dispose([x, logits!]);
    policy.dispose();
  });
});

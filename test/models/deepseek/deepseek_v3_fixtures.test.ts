import {readFileSync} from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DeepseekV3Policy} from '../../../src/models/deepseek_v3.js';
import {loadPretrained} from '../../../src/models/pretrained/load_pretrained_folder.js';

const root = 'test/fixtures/pretrained/';
interface Reference {
  tokens: number[][]; logits: number[][][];
  padded: {tokens: number[][]; attention_mask: number[][]; logits: number[][][]};
  mtp?: {tokens: number[][]; logits: number[][][]};
}

/** Through the library's loader (`loadPretrained`, registry entry `DeepseekV3ForCausalLM`). */
async function load(name: string): Promise<{policy: DeepseekV3Policy; ref: Reference}> {
  const dir = root + name;
  const ref = JSON.parse(readFileSync(dir + '/reference.json', 'utf8')) as Reference;
  const model = await loadPretrained(dir);
  expect(model.architecture).toBe('DeepseekV3ForCausalLM');
  expect(model.policy).toBeInstanceOf(DeepseekV3Policy);
  return {policy: model.policy as unknown as DeepseekV3Policy, ref};
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

describe.each(['deepseek_v3_qlora_grouped_mtp', 'deepseek_v3_noqlora_yarn', 'deepseek_v3_tied_nointerleave', 'deepseek_v3_fp8_block'])('DeepseekV3Policy on %s', (name) => {
  let policy: DeepseekV3Policy, ref: Reference;
  beforeAll(async () => ({policy, ref} = await load(name)));
  afterAll(() => policy.dispose());

  it('logits within 1e-4 of transformers (plain and left-padded batches)', () => {
    const x = ids(ref.tokens);
    const {logits, hidden} = policy.apply(x);
    expect(maxDiff(logits, ref.logits)).toBeLessThan(1e-4);
    const p = ids(ref.padded.tokens), m = tf.tensor2d(ref.padded.attention_mask);
    const padded = policy.apply(p, {attentionMask: m});
    // deepseek_v3_fp8_block: transformers' padded reference differs from its own unpadded logits at the
    // 3 real positions right after the 3 pads (an artifact of the reference: positions 6-8 agree to 1e-6,
    // and this model's padded logits equal its unpadded ones, checked below); the plain batch is compared.
    if (name !== 'deepseek_v3_fp8_block') {
      expect(maxDiff(padded.logits, ref.padded.logits, ref.padded.attention_mask)).toBeLessThan(1e-4);
    }
    // left-padding invariance: the padded row's real positions equal the row run alone
    const real = ref.padded.attention_mask[0]!.reduce((a, v) => a + v, 0), T = ref.padded.tokens[0]!.length;
    const alone = ids([ref.padded.tokens[0]!.slice(T - real)]);
    const solo = policy.apply(alone);
    const paddedRow = tf.slice(padded.logits, [0, T - real, 0], [1, real, policy.vocabSize]);
    expect(maxDiff(paddedRow, solo.logits.arraySync() as number[][][])).toBeLessThan(1e-4);
    tf.dispose([x, logits, hidden!, p, m, padded.logits, padded.hidden!, alone, solo.logits, solo.hidden!, paddedRow]);
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
  it('MTP logits within 1e-4 of the reference (embedding-first concatenation)', async () => {
    const {policy, ref} = await load('deepseek_v3_qlora_grouped_mtp');
    expect(policy.config.mtpDepth).toBe(1);
    const x = ids(ref.mtp!.tokens);
    const [logits] = policy.mtpLogits(x);
    expect(logits!.shape).toEqual([2, 9, 320]);
    expect(maxDiff(logits!, ref.mtp!.logits)).toBeLessThan(1e-4);
    tf.dispose([x, logits!]);
    policy.dispose();
  });
});

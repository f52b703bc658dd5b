import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {disposeKvCache} from '../../src/models/transformer_policy.js';

const config = {vocabSize: 11, contextLength: 12, layers: 2, width: 16, heads: 2};
const ids = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

describe('TransformerPolicy', () => {
  it('returns logits [batch, time, vocab] and hidden [batch, time, width]', () => {
    const policy = TransformerPolicy.create({...config, seed: 1});
    const x = ids([[2, 3, 4], [5, 6, 7]]);
    const {logits, hidden} = policy.apply(x);
    expect(logits.shape).toEqual([2, 3, 11]);
    expect(hidden.shape).toEqual([2, 3, 16]);
    // 2 * (4 * 16*16 + 4*16 (attn biases) + 2 * 16*64 + 64 + 16 + 4 * 16 (norms)) + 11*16 + 12*16 + 2*16
    expect(policy.numParams()).toBe(2 * (4 * 256 + 64 + 2 * 1024 + 64 + 16 + 64) + 176 + 192 + 32);
    tf.dispose([x, logits, hidden]);
    policy.dispose();
  });

  it('is causal: changing a future token leaves earlier logits unchanged', () => {
    const policy = TransformerPolicy.create({...config, seed: 2});
    const a = ids([[2, 3, 4, 5, 6]]);
    const b = ids([[2, 3, 4, 9, 1]]);
    const la = policy.apply(a).logits;
    const lb = policy.apply(b).logits;
    const early = (l: tf.Tensor3D): number[] => Array.from(tf.slice(l, [0, 0, 0], [1, 3, 11]).dataSync());
    expect(early(lb)).toEqual(early(la));
    // ...and the later ones do change (the test can fail).
    const late = (l: tf.Tensor3D): number[] => Array.from(tf.slice(l, [0, 4, 0], [1, 1, 11]).dataSync());
    expect(late(lb)).not.toEqual(late(la));
    tf.dispose([a, b]);
    policy.dispose();
  });

  it('is deterministic with a seed and differs across seeds', () => {
    const p1 = TransformerPolicy.create({...config, seed: 7});
    const p2 = TransformerPolicy.create({...config, seed: 7});
    const p3 = TransformerPolicy.create({...config, seed: 8});
    const x = ids([[1, 2, 3]]);
    const [l1, l2, l3] = [p1, p2, p3].map((p) => Array.from(p.apply(x).logits.dataSync()));
    expect(l1).toEqual(l2);
    expect(l1).not.toEqual(l3);
    [p1, p2, p3].forEach((p) => p.dispose());
    x.dispose();
  });

  it('applyWithCache (prefill + one token at a time) equals the full forward pass', () => {
    const policy = TransformerPolicy.create({...config, seed: 3});
    const seq = [[4, 5, 6, 7, 8]];
    const full = policy.apply(ids(seq)).logits.arraySync() as number[][][];
    let out = policy.applyWithCache({
      tokens: ids([[4, 5, 6]]), positions: ids([[0, 1, 2]]), keyMask: tf.ones([1, 3]) as tf.Tensor2D, cache: null,
    });
    const got: number[][] = (out.logits.arraySync() as number[][][])[0]!;
    for (const [t, tok] of [[3, 7], [4, 8]] as const) {
      const next = policy.applyWithCache({tokens: ids([[tok]]), positions: ids([[t]]), keyMask: tf.ones([1, t + 1]) as tf.Tensor2D, cache: out.cache});
      disposeKvCache(out.cache);
      out = next;
      got.push((out.logits.arraySync() as number[][][])[0]![0]!);
    }
    disposeKvCache(out.cache);
    got.forEach((row, t) => row.forEach((v, j) => expect(v).toBeCloseTo(full[0]![t]![j]!, 4)));
    policy.dispose();
  });

  it('left padding with an attention mask gives the same logits as the unpadded prompt', () => {
    const policy = TransformerPolicy.create({...config, seed: 4});
    const plain = policy.apply(ids([[3, 4, 5]])).logits.arraySync() as number[][][];
    const padded = policy.apply(ids([[0, 0, 3, 4, 5]]), {attentionMask: tf.tensor2d([[0, 0, 1, 1, 1]])}).logits.arraySync() as number[][][];
    for (let t = 0; t < 3; t++) plain[0]![t]!.forEach((v, j) => expect(padded[0]![t + 2]![j]).toBeCloseTo(v, 4));
    policy.dispose();
  });

  it('round-trips a checkpoint through tf.io.withSaveHandler / tf.io.fromMemory', async () => {
    const policy = TransformerPolicy.create({...config, seed: 5, tiedEmbeddings: false});
    let saved: tf.io.ModelArtifacts | undefined;
    await policy.save(tf.io.withSaveHandler(async (a) => { saved = a; return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}}; }), {note: 'x'});
    const {policy: loaded, metadata} = await TransformerPolicy.load(tf.io.fromMemory(saved!));
    expect(metadata).toEqual({note: 'x'});
    expect(loaded.config).toEqual(policy.config);
    const x = ids([[1, 2, 3, 4]]);
    expect(Array.from(loaded.apply(x).logits.dataSync())).toEqual(Array.from(policy.apply(x).logits.dataSync()));
    policy.dispose(); loaded.dispose(); x.dispose();
  });

  it('copy() is frozen by default and independent of later updates', () => {
    const policy = TransformerPolicy.create({...config, seed: 6});
    const ref = policy.copy();
    expect(ref.variables().every((v) => !v.trainable)).toBe(true);
    const before = Array.from(ref.weights.get('tok_emb')!.dataSync());
    policy.weights.get('tok_emb')!.assign(tf.zeros([11, 16]));
    expect(Array.from(ref.weights.get('tok_emb')!.dataSync())).toEqual(before);
    policy.dispose(); ref.dispose();
  });

  it('leaks no tensors', () => {
    const policy = TransformerPolicy.create({...config, seed: 1});
    const x = ids([[1, 2, 3]]);
    const before = tf.memory().numTensors;
    const {logits, hidden} = policy.apply(x);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([logits, hidden, x]);
    policy.dispose();
  });

  it('throws named errors on bad input', () => {
    const policy = TransformerPolicy.create({...config, seed: 1});
    expect(() => policy.apply(ids([new Array(13).fill(1)]))).toThrow(/TransformerPolicy.apply: 'tokens' expected 1 <= time <= contextLength=12/);
    expect(() => policy.apply(ids([[1, 11]]))).toThrow(/'tokens' expected ids in \[0, vocabSize=11\)/);
    expect(() => policy.apply(tf.tensor2d([[1, 2]]) as tf.Tensor2D)).toThrow(/'tokens' expected dtype int32/);
    expect(() => TransformerPolicy.create({...config, width: 15})).toThrow(/'width' expected a multiple of 'heads'=2, got 15/);
    policy.dispose();
    expect(() => policy.apply(ids([[1]]))).toThrow(/disposed/);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tfl from '@tensorflow/tfjs-layers';
import {describe, expect, it} from 'vitest';
import {tokenLogProbs} from '../../src/math/token_log_probs.js';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {completionForward} from '../../src/models/completion_forward.js';
import {encodePrompts} from '../../src/models/encode_prompts.js';
import {policyFromFunction} from '../../src/models/policy_from_function.js';
import {sampleCompletions} from '../../src/models/sample_completions.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {grpoStep} from '../../src/train/grpo_step.js';

const tok = charTokenizer({alphabet: '0123456789'});
const V = tok.vocabSize; // 12

/** A user's own model: tf.sequential embedding -> dense, [batch, time] ids -> [batch, time, vocab] logits. */
function layersModel(seed: number): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.embedding({inputDim: V, outputDim: 8, embeddingsInitializer: tfl.initializers.randomNormal({stddev: 0.1, seed})}));
  model.add(tfl.layers.dense({units: V, kernelInitializer: tfl.initializers.randomNormal({stddev: 0.1, seed: seed + 1})}));
  model.build([null, null]);
  return model;
}
const wrap = (model: tfl.Sequential) => policyFromFunction({
  apply: (tokens) => model.apply(tokens) as tf.Tensor3D,
  variables: () => model.trainableWeights.map((w) => w.read() as tf.Variable),
  vocabSize: V, contextLength: 16,
});

describe('policyFromFunction', () => {
  it('a tf.layers model gets sampling, completion log-probs equal to a full forward, and a frozen copy', () => {
    const model = layersModel(1);
    const policy = wrap(model);
    expect(policy.numParams()).toBe(V * 8 + 8 * V + V);
    const prompts = encodePrompts(tok, ['12', '345'], {contextLength: 16, maxNewTokens: 6});
    const before = tf.memory().numTensors;
    const out = sampleCompletions(policy, prompts, {maxNewTokens: 6, seed: 3, temperature: 1.5, stopToken: tok.eosId});
    expect(tf.memory().numTensors).toBe(before + 3);
    const {logits} = completionForward(policy, {promptTokens: prompts.tokens, promptMask: prompts.mask, completionTokens: out.tokens});
    const want = tokenLogProbs(logits, out.tokens, {temperature: 1.5}).arraySync() as number[][];
    const mask = out.mask.arraySync() as number[][];
    (out.logProbs.arraySync() as number[][]).forEach((row, b) => row.forEach((v, j) => {
      if (mask[b]![j]) expect(v).toBeCloseTo(want[b]![j]!, 4);
    }));
    // The copy keeps the values of the moment it was made while the model changes, and leaves the model alone.
    const reference = policy.copy();
    const x = tf.tensor2d([[3, 4, 5]], [1, 3], 'int32');
    const refBefore = Array.from(reference.apply(x).logits.dataSync());
    const kernel = model.trainableWeights[1]!.read() as tf.Variable;
    kernel.assign(tf.mul(kernel, 3));
    const live = Array.from(policy.apply(x).logits.dataSync());
    expect(Array.from(reference.apply(x).logits.dataSync())).toEqual(refBefore);
    expect(live).not.toEqual(refBefore);
    expect(Array.from(policy.apply(x).logits.dataSync())).toEqual(live); // restored after the copy's call
    expect(() => policy.copy({trainable: true})).toThrow(/policyFromFunction.copy: a trainable copy needs a second model/);
    reference.dispose();
    expect(() => reference.apply(x)).toThrow(/policyFromFunction.apply: the policy has been disposed/);
    tf.dispose([out.tokens, out.logProbs, out.mask, logits, prompts.tokens, prompts.mask, x]);
    policy.dispose(); model.dispose();
  });

  it('grpoStep trains a tf.layers model through the adapter (reward: completions made of 7s)', async () => {
    const model = layersModel(2);
    const policy = wrap(model);
    const reference = policy.copy();
    const optimizer = tf.train.adam(0.2);
    const seven = tok.id('7');
    const reward = (samples: readonly {completion: string}[]): number[] =>
      samples.map((s) => s.completion.split('').filter((c) => c === '7').length / 3);
    const problems = [{prompt: '1', reference: ''}, {prompt: '25', reference: ''}];
    const rewards: number[] = [];
    for (let i = 0; i < 9; i++) {
      const m = await grpoStep({policy, reference, optimizer, tokenizer: tok, reward}, problems, {groupSize: 8, maxNewTokens: 3, seed: i});
      rewards.push(m.reward);
    }
    expect(rewards[0]!).toBeLessThan(0.3);
    expect(Math.min(...rewards.slice(-2))).toBeGreaterThan(0.9); // seeded: 0.10 0.08 0.19 0.52 0.88 0.98 1 1 1
    // The model's own weights were trained: its greedy next token after '1' is now '7'.
    const logits = model.predict(tf.tensor2d([[tok.id('1')]], [1, 1], 'int32')) as tf.Tensor;
    expect(tf.argMax(logits, 2).dataSync()[0]).toBe(seven);
    tf.dispose(logits);
    reference.dispose(); policy.dispose(); optimizer.dispose(); model.dispose();
  });

  it.each(['function (no cache)', 'TransformerPolicy (cache)'])('identical prompt rows get different completions: %s', (kind) => {
    // tf.multinomial on the cpu backend of tfjs 4.22 draws the same token for identical rows: a sampler built
    // on it gives every GRPO group identical completions. Ours draws each row from its own uniform number.
    const table = tf.variable(tf.zeros([V, V]));
    const policy = kind.startsWith('function')
      ? policyFromFunction({apply: (tokens) => tf.gather(table, tokens), variables: [table], vocabSize: V, contextLength: 16})
      : TransformerPolicy.create({vocabSize: V, contextLength: 16, layers: 1, width: 8, heads: 2, seed: 0});
    const prompts = encodePrompts(tok, new Array(8).fill('42'), {contextLength: 16, maxNewTokens: 5});
    const out = sampleCompletions(policy, prompts, {maxNewTokens: 5, seed: 0});
    const rows = (out.tokens.arraySync() as number[][]).map((r) => r.join(','));
    expect(new Set(rows).size).toBeGreaterThanOrEqual(7);
    tf.dispose([out.tokens, out.logProbs, out.mask, prompts.tokens, prompts.mask, table]);
    policy.dispose();
  });

  it('rejects bad specs and misshaped logits with named errors', () => {
    const table = tf.variable(tf.zeros([V, V]));
    expect(() => policyFromFunction({apply: (t: tf.Tensor2D) => tf.gather(table, t), variables: [table], vocabSize: V} as never)).toThrow(
        /policyFromFunction: 'contextLength' expected a finite number, got undefined/);
    expect(() => policyFromFunction({apply: (t: tf.Tensor2D) => tf.gather(table, t), variables: [table], vocabSize: V, contextLength: 8, vocab: 3} as never))
        .toThrow(/policyFromFunction: unknown option 'vocab'/);
    const bad = policyFromFunction({apply: (t) => tf.gather(table, t), variables: [table], vocabSize: V + 1, contextLength: 8});
    const x = tf.tensor2d([[1, 2]], [1, 2], 'int32');
    const before = tf.memory().numTensors;
    expect(() => bad.apply(x)).toThrow(/policyFromFunction.apply: the function's logits expected shape \[1,2,13\] \(\[batch, time, vocabSize\]\), got \[1,2,12\]/);
    expect(tf.memory().numTensors).toBe(before);
    const notVars = policyFromFunction({apply: (t) => tf.gather(table, t), variables: [tf.zeros([2]) as never], vocabSize: V, contextLength: 8});
    expect(() => notVars.variables()).toThrow(/policyFromFunction: 'variables' expected tf.Variable objects/);
    tf.dispose([x, table]);
  });
});

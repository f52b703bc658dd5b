import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {policyFromFunction} from '../../src/models/policy_from_function.js';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {evaluatePolicy} from '../../src/train/evaluate_policy.js';

const tok = charTokenizer({alphabet: '0123456789+', specialTokens: ['<answer>', '</answer>']});
const V = tok.vocabSize;
const [open, close, three, five] = [tok.id('<answer>'), tok.id('</answer>'), tok.id('3'), tok.id('5')];

/** A bigram policy: '+' -> '<answer>'; '<answer>' -> '3' (p .6) or '5' (p .4); a digit -> '</answer>'. */
function fixedPolicy() {
  const rows = Array.from({length: V}, () => new Array<number>(V).fill(-30));
  rows[tok.id('+')]![open] = 0;
  rows[open]![three] = Math.log(0.6);
  rows[open]![five] = Math.log(0.4);
  for (const d of '0123456789') rows[tok.id(d)]![close] = 0;
  const table = tf.tensor2d(rows);
  const policy = policyFromFunction({apply: (t) => tf.gather(table, t), variables: [], vocabSize: V, contextLength: 12});
  return {policy, table};
}
const problems = [{prompt: '1+', reference: '3'}, {prompt: '2+', reference: '5'}];
const opts = {maxNewTokens: 4, stopToken: close, k: 24};

describe('evaluatePolicy', () => {
  it('greedy score, pass@1 from k samples at temperature 0.6 / top-p 0.95, pass@k and cons@k', async () => {
    const {policy, table} = fixedPolicy();
    const before = tf.memory().numTensors;
    const ev = await evaluatePolicy(policy, tok, problems, accuracyReward(), opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(ev.completions).toEqual(['<answer>3</answer>', '<answer>3</answer>']); // greedy: the mode
    expect(ev.score).toBe(0.5);
    const share = (q: number, digit: string): number => ev.samples![q]!.filter((c) => c === `<answer>${digit}</answer>`).length / 24;
    expect(ev.samples![0]!.every((c) => /^<answer>[35]<\/answer>$/.test(c))).toBe(true); // top-p drops the e^-30 tail
    expect(ev.pass1).toBeCloseTo((share(0, '3') + share(1, '5')) / 2, 12);
    // At temperature 0.6 the '3' share is .6^(1/.6) / (.6^(1/.6) + .4^(1/.6)) = 0.663; the '5' share 0.337.
    expect(share(0, '3')).toBeGreaterThan(0.45); expect(share(1, '5')).toBeLessThan(0.55);
    expect(ev.passAtK).toBe(1); // some sample of each prompt is right
    expect(ev.consAtK).toBe(0.5); // the majority answer is '3': right for the first prompt only
    expect(ev.k).toBe(24);
    tf.dispose(table);
  });

  it('cons@k groups answers with the extractor and answersEquivalent; unanswered samples do not vote', async () => {
    const {policy, table} = fixedPolicy();
    // Every answer extracted as the same value: one class, right for both prompts (each has a right sample).
    const merged = await evaluatePolicy(policy, tok, problems, accuracyReward(), {...opts, extractAnswer: () => '7'});
    expect(merged.consAtK).toBe(1);
    const silent = await evaluatePolicy(policy, tok, problems, accuracyReward(), {...opts, extractAnswer: () => null});
    expect(silent.consAtK).toBe(0);
    // '3' and '3.0' are equivalent: '5' answers extracted as '3.0' join the '3' class.
    const equal = await evaluatePolicy(policy, tok, problems, accuracyReward(), {
      ...opts, extractAnswer: (c) => (c.includes('5') ? '3.0' : '3'),
    });
    expect(equal.consAtK).toBe(1);
    tf.dispose(table);
  });

  it('without k reports the greedy score only; names bad options', async () => {
    const {policy, table} = fixedPolicy();
    const ev = await evaluatePolicy(policy, tok, problems, accuracyReward(), {maxNewTokens: 4, stopToken: close});
    expect(ev.pass1).toBeUndefined();
    await expect(evaluatePolicy(policy, tok, problems, accuracyReward(), {maxNewTokens: 4, k: -1})).rejects.toThrow(
        /evaluatePolicy: 'k' expected >= 0, got -1/);
    await expect(evaluatePolicy(policy, tok, problems, accuracyReward(), {maxNewTokens: 4, k: 2, topP: 0})).rejects.toThrow(
        /evaluatePolicy: 'topP' expected > 0/);
    await expect(evaluatePolicy(policy, tok, problems, accuracyReward(), {maxNewTokens: 4, samples: 2} as never)).rejects.toThrow(
        /evaluatePolicy: unknown option 'samples'/);
    await expect(evaluatePolicy(policy, tok, [], accuracyReward(), {maxNewTokens: 4})).rejects.toThrow(
        "evaluatePolicy: 'problems' expected at least one problem {prompt, reference}, got an empty array");
    tf.dispose(table);
  });
});

// Recall and specificity of accuracyReward's equivalence on the committed hand-labelled answer pairs
// (test/fixtures/answer_pairs.json, made by test/reference/answer_pairs.py). Issue 9's bar: recall
// >= 98% at specificity 100%.
import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';

interface LabelledPair { family: string; predicted: string; reference: string; correct: boolean }
const {pairs} = JSON.parse(readFileSync(new URL('../fixtures/answer_pairs.json', import.meta.url), 'utf8')) as
  {pairs: LabelledPair[]};

describe('accuracyReward on the labelled answer pairs', () => {
  it('has several hundred pairs covering the notation families', () => {
    expect(pairs.length).toBeGreaterThanOrEqual(400);
    const families = new Set(pairs.map((p) => p.family));
    for (const f of ['closed-form', 'scientific', 'units', 'restated-arithmetic', 'free-text']) expect(families).toContain(f);
    expect(pairs.filter((p) => !p.correct).length).toBeGreaterThanOrEqual(120);
  });
  it('reaches recall >= 98% at specificity 100%', async () => {
    // The answer goes in an <answer> tag, as a policy writes it; accuracyReward extracts and compares.
    const samples = pairs.map((p) => ({prompt: 'q', completion: `<answer>${p.predicted}</answer>`, reference: p.reference}));
    const scores = await accuracyReward()(samples);
    const missed = pairs.filter((p, i) => p.correct && scores[i] !== 1);
    const falsePositives = pairs.filter((p, i) => !p.correct && scores[i] !== 0);
    const positives = pairs.filter((p) => p.correct).length;
    const recall = (positives - missed.length) / positives;
    expect(falsePositives).toEqual([]); // specificity 100%
    expect(recall, `missed: ${JSON.stringify(missed)}`).toBeGreaterThanOrEqual(0.98);
  });
});

import {describe, expect, it} from 'vitest';
import {accuracyReward, type AccuracyWarning} from '../../src/rewards/accuracy_reward.js';
import type {Sample} from '../../src/rewards/types.js';

const s = (completion: unknown, reference: unknown = '42'): Sample =>
  ({prompt: 'What is 6 * 7?', completion, reference} as Sample);

describe('accuracyReward', () => {
  it('scores real-looking completions', async () => {
    const acc = accuracyReward();
    const samples = [
      s('<think>\n6 * 7 = 42\n</think>\n<answer>\n42\n</answer>'), // R1 template
      s('<think>6*7 is 42</think><answer>42</answer>'), // the demo's arithmetic format
      s('Let me compute: 6 times 7 is 42. Therefore the answer is $\\boxed{42}$.'),
      s('<think>6*7=43?</think><answer>43</answer>'), // wrong
      s('The answer is 42.'), // unboxed: no last-number fallback
      s('<think>6*7 = 42 so the answer is \\boxed{4'), // truncated
      s('<answer>\\boxed{\\dfrac{84}{2}}</answer>'), // restated arithmetic is not an answer
      s('<answer>42.0</answer>'),
      s('<answer>x = 42</answer>'),
      s(''),
      s('<think>restate the question</think><answer>6 * 7</answer>'), // not an answer to a number
    ];
    expect(await acc(samples)).toEqual([1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0]);
    expect(await accuracyReward({numericAnswers: 'expression'})([samples[6]!, samples[10]!])).toEqual([1, 1]);
  });
  it('verifies symbolic answers and notations', async () => {
    const acc = accuracyReward();
    const out = await acc([
      s('... \\boxed{2\\sqrt{2}}', '\\sqrt{8}'),
      s('<answer>1+x</answer>', 'x+1'),
      s('\\boxed{\\frac12}', '0.5'),
      s('\\boxed{1}', '10'),
      s('\\boxed{2}', '\\frac{1}{2}'),
      s('\\boxed{x}', 'x^2'),
      s('\\boxed{(1, 2]}', '(1,2]'),
      s('\\boxed{50\\%}', '50'),
      s('\\boxed{\\text{Monday}}', 'monday'),
    ]);
    expect(out).toEqual([1, 1, 1, 0, 0, 0, 1, 1, 1]);
  });
  it('accepts numeric references, worked-solution references and a custom extractor', async () => {
    expect(await accuracyReward()([s('\\boxed{7}', 7)])).toEqual([1]);
    const solution = 'We have $6 \\cdot 7 = 42$, so the answer is $\\boxed{42}$.';
    expect(await accuracyReward()([s('<answer>42</answer>', solution), s('<answer>6</answer>', solution)])).toEqual([1, 0]);
    const lastLine = accuracyReward({extractAnswer: (c) => c.trim().split('\n').pop() ?? null});
    expect(await lastLine([s('work\n42'), s('work\n41')])).toEqual([1, 0]);
  });
  it('counts and reports a custom extractor that throws, and rejects under strict', async () => {
    const warnings: AccuracyWarning[] = [];
    const boom = new Error('boom');
    const extractAnswer = (c: string) => {
      if (c.includes('bad')) throw boom;
      return c.includes('num') ? (7 as unknown as string) : c;
    };
    const lenient = accuracyReward({extractAnswer, onWarning: (w) => warnings.push(w)});
    const b = await lenient.breakdown([s('42'), s('bad 1'), s('bad 2'), s('num')]);
    expect(b.values).toEqual([1, 0, 0, 0]);
    expect(b.counters).toEqual({'accuracyReward.extractorError': 3}); // a non-string return is a failure too
    expect(warnings).toHaveLength(1); // one callback per batch, every failure counted
    expect(warnings[0]).toMatchObject({code: 'extractor-error', index: 1, reference: '42', error: boom});
    expect(warnings[0]!.message).toBe("accuracyReward: 'extractAnswer' failed on sample 1: boom");
    // Undefined means "no answer", like null: not a failure.
    expect((await accuracyReward({extractAnswer: () => undefined as never}).breakdown([s('42')])).counters).toEqual({});
    const strict = accuracyReward({extractAnswer, strict: true});
    await expect(strict([s('42'), s('bad')])).rejects.toThrow("accuracyReward: 'extractAnswer' failed on sample 1: boom");
    await expect(strict([s('42'), s('bad')])).rejects.toMatchObject({cause: boom});
    expect(await strict([s('42')])).toEqual([1]);
    expect(() => accuracyReward({strict: 1 as never})).toThrow("accuracyReward: 'strict' expected a boolean, got 1");
  });
  it('reports an unparsable reference (callback and counter) instead of silently scoring 0', async () => {
    const warnings: AccuracyWarning[] = [];
    const acc = accuracyReward({onWarning: (w) => warnings.push(w)});
    const b = await acc.breakdown([s('\\boxed{1}', '\\frac{1}{'), s('no answer', '\\frac{1}{'), s('\\boxed{42}')]);
    expect(b.values).toEqual([0, 0, 1]);
    expect(b.counters).toEqual({'accuracyReward.unparsableReference': 2});
    expect(warnings).toHaveLength(1); // one callback per distinct reference per batch
    expect(warnings[0]).toMatchObject({code: 'unparsable-reference', index: 0, reference: '\\frac{1}{'});
    // A reference that does not parse still matches the identical string.
    expect(await acc([s('<answer>\\frac{1}{</answer>', '\\frac{1}{')])).toEqual([1]);
  });
  it('scores bad completions 0 and never throws on them', async () => {
    const acc = accuracyReward();
    const hostile = [
      null, undefined, 42, {}, ['\\boxed{42}'], '\ud800\\boxed{42}\udfff', '\\boxed{'.repeat(10_000),
      '}'.repeat(100_000), `\\boxed{${'x'.repeat(1_000_000)}}`, '\\boxed{\\frac{\\frac{\\frac{}}}}',
      `\\boxed{${'('.repeat(5000)}}`, '\\boxed{100000!}', '\\boxed{\\sum_{n=1}^{10^{9}} n}',
    ];
    const start = performance.now();
    const out = await acc(hostile.map((c) => s(c)));
    expect(out).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(performance.now() - start).toBeLessThan(3000);
    expect(await acc([null as unknown as Sample])).toEqual([0]); // a null sample is a bad completion
  });
  it('throws a clear error on a missing reference or a bad configuration', async () => {
    const acc = accuracyReward();
    await expect(acc([{prompt: 'p', completion: '\\boxed{1}'}])).rejects.toThrow(
        "accuracyReward: sample 0 expected a non-empty 'reference' (string), got undefined");
    await expect(acc([s('\\boxed{1}', '  ')])).rejects.toThrow("accuracyReward: sample 0 expected a non-empty 'reference'");
    await expect(acc('x' as never)).rejects.toThrow("accuracyReward: 'samples' expected an array of samples");
    expect(() => accuracyReward({timeBudgetMs: -1})).toThrow("accuracyReward: 'timeBudgetMs' expected >= 0, got -1");
    expect(() => accuracyReward({source: 'text' as never})).toThrow("'source' expected one of");
    expect(() => accuracyReward({extractor: () => null} as never)).toThrow("accuracyReward: unknown option 'extractor'");
  });
  it('stops symbolic comparison when the time budget is spent, and says so', async () => {
    const warnings: AccuracyWarning[] = [];
    const acc = accuracyReward({timeBudgetMs: 0, onWarning: (w) => warnings.push(w)});
    const b = await acc.breakdown([s('\\boxed{2\\sqrt{2}}', '\\sqrt{8}'), s('\\boxed{42}'), s('\\boxed{2\\sqrt{2}}', '\\sqrt{8}')]);
    // Numbers still compare exactly; symbolic ones past the budget count as different.
    expect(b.values[1]).toBe(1);
    expect(b.values[2]).toBe(0);
    expect(b.counters['accuracyReward.overTimeBudget']).toBeGreaterThanOrEqual(1);
    expect(warnings.some((w) => w.code === 'time-budget-exceeded')).toBe(true);
  });
  it('returns only 0 and 1 and one value per sample (empty batch included)', async () => {
    expect(await accuracyReward()([])).toEqual([]);
  });
});

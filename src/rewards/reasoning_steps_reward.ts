import {assertKnownOptionNames, assertNumberOption, assertOneOfOption, assertSamples} from './assert_option.js';
import {completionText} from './completion_text.js';
import {reasoningText} from './reasoning_text.js';
import {assertTagName} from './tag_name.js';
import type {RewardFn, Sample} from './types.js';

/** Options of {@link reasoningStepsReward}. */
export interface ReasoningStepsRewardOptions {
  /** Number of steps that earns the full reward, an integer >= 1. Default `3`. */
  targetSteps?: number;
  /** `'reasoning'` (default): count in the `<think>` block; `'completion'`: in the whole completion. */
  scope?: 'reasoning' | 'completion';
  /** Name of the reasoning tag. Default `'think'`. */
  thinkTag?: string;
}

/** A line that starts a step: `Step 2:`, `2.`, `2)`, or a bullet `-`, `*`, `•`. */
const STEP_LINE = /^[ \t]*(?:step[ \t]*\d+\b|\d+[.)](?=[ \t])|[-*\u2022](?=[ \t]))/gim;
/** A sentence-initial transition word followed by a comma: `First,`, `Next,`, `Finally,`. */
const TRANSITION = /(?:^|[.!?:][ \t\n]+)(?:First|Second|Third|Next|Then|Finally|Lastly),/gm;

/**
 * Rewards explicit step-by-step reasoning: r = min(1, steps / targetSteps), counting lines that start
 * a step (`Step 1:`, `1.`, `1)`, bullets) and sentence-initial transitions (`First,`, `Next,`,
 * `Finally,`). The heuristic of open-r1's reasoning-steps reward, with line-anchored patterns (no
 * backtracking on hostile input).
 *
 * @param options.targetSteps steps for the full reward; default `3`.
 * @param options.scope `'reasoning'` (default) or `'completion'`.
 * @param options.thinkTag reasoning tag; default `'think'`.
 * @returns a synchronous reward in [0, 1]; 0 for non-string completions.
 * @example
 * const steps = reasoningStepsReward();
 * steps([{prompt: 'p', completion: '<think>Step 1: add.\nStep 2: check.</think><answer>4</answer>'}]); // [~0.667]
 */
export function reasoningStepsReward(options: ReasoningStepsRewardOptions = {}): RewardFn {
  const fn = 'reasoningStepsReward';
  assertKnownOptionNames(options, ['targetSteps', 'scope', 'thinkTag'], fn);
  const {targetSteps = 3, scope = 'reasoning', thinkTag = 'think'} = options;
  assertNumberOption(targetSteps, fn, 'targetSteps', {min: 1, integer: true});
  assertOneOfOption(scope, ['reasoning', 'completion'], fn, 'scope');
  assertTagName(thinkTag, fn, 'thinkTag');
  return (samples: readonly Sample[]): number[] => {
    assertSamples(samples, fn);
    return samples.map((s) => {
      const c = completionText(s);
      if (c === null) return 0;
      const text = scope === 'reasoning' ? reasoningText(c, thinkTag) : c;
      let steps = 0;
      for (const _ of text.matchAll(STEP_LINE)) if (++steps >= targetSteps) return 1;
      for (const _ of text.matchAll(TRANSITION)) if (++steps >= targetSteps) return 1;
      return steps / targetSteps;
    });
  };
}

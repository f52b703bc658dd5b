import {describe, expect, it} from 'vitest';
import {cosineLengthReward} from '../../src/rewards/cosine_length_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {mapReward} from '../../src/rewards/map_reward.js';
import {repetitionPenalty} from '../../src/rewards/repetition_penalty.js';
import {scoreRewards} from '../../src/rewards/score_rewards.js';
import type {RewardFn, Sample} from '../../src/rewards/types.js';
import {weighted} from '../../src/rewards/weighted.js';

const s: Sample[] = [{prompt: 'p', completion: '<think>a</think><answer>1</answer>', reference: '1'}];
const PROMISE_HINT = ' (an async function per sample? an async reward returns one Promise of the whole array: ' +
    'async (samples) => Promise.all(samples.map(...)))';
/** A reward written with an async per-sample function: an array of Promises. */
const perSampleAsync = ((ss: readonly Sample[]) => ss.map(async () => 1)) as unknown as RewardFn;

describe('reward spot checks: NaN options, unknown keys, bad completions, Promise values', () => {
  it('cosineLengthReward', async () => {
    expect(() => cosineLengthReward({maxLength: NaN})).toThrow("cosineLengthReward: 'maxLength' expected a finite number, got NaN");
    expect(() => cosineLengthReward({maxLen: 10} as never)).toThrow("cosineLengthReward: unknown option 'maxLen'");
    expect(await cosineLengthReward()([{prompt: 'p', completion: 3 as never, reference: '1'}])).toEqual([-1]);
  });

  it('repetitionPenalty', () => {
    expect(() => repetitionPenalty({maxPenalty: NaN})).toThrow("repetitionPenalty: 'maxPenalty' expected a finite number, got NaN");
    expect(() => repetitionPenalty({ngramSize: 3} as never)).toThrow(
        "repetitionPenalty: unknown option 'ngramSize'; expected one of 'ngram', 'maxPenalty', 'unit'");
    expect(repetitionPenalty()([{prompt: 'p', completion: {x: 1} as never}])).toEqual([-1]);
    expect(() => repetitionPenalty()('abc' as never)).toThrow("repetitionPenalty: 'samples' expected an array of samples, got \"abc\"");
  });

  it('weighted and gate', () => {
    expect(() => weighted([[formatReward(), NaN]])).toThrow("weighted: 'terms[0][1] (weight)' expected a finite number, got NaN");
    expect(() => weighted([[perSampleAsync, 1]])(s)).toThrow(
        `weighted: 'terms[0][0]' expected finite numbers, got a Promise at index 0${PROMISE_HINT}`);
    expect(weighted([[formatReward(), 1]])([{prompt: 'p', completion: null as never}])).toEqual([0]);
    expect(() => gate(formatReward(), formatReward(), {treshold: 1} as never)).toThrow(
        "gate: unknown option 'treshold'; expected one of 'threshold', 'floor'");
    expect(() => gate(formatReward(), formatReward(), {threshold: NaN})).toThrow("gate: 'threshold' expected a finite number, got NaN");
    expect(() => gate(perSampleAsync, formatReward())(s)).toThrow(
        `gate: 'reward 0' expected finite numbers, got a Promise at index 0${PROMISE_HINT}`);
  });

  it('mapReward and scoreRewards', async () => {
    const asyncF = (async (v: number) => v) as unknown as (v: number) => number;
    expect(() => mapReward(formatReward(), asyncF)(s)).toThrow(
        `mapReward: the combined reward expected finite numbers, got a Promise at index 0${PROMISE_HINT}`);
    expect(() => mapReward(formatReward(), () => NaN)(s)).toThrow(
        'mapReward: the combined reward expected finite numbers, got NaN at index 0');
    await expect(Promise.resolve().then(() => scoreRewards(perSampleAsync, s))).rejects.toThrow(
        `scoreRewards: 'fn' expected finite numbers, got a Promise at index 0${PROMISE_HINT}`);
  });
});

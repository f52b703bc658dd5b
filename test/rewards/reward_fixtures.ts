// Shared test fixtures for the reward tests: fixed-value rewards (sync and async) and samples.
import fc from 'fast-check';
import type {RewardFn, Sample} from '../../src/rewards/types.js';

/** A synchronous reward returning `values` (one per sample). */
export const fixed = (values: readonly number[]): RewardFn => (samples) => samples.map((_, i) => values[i]!);

/** The same reward, asynchronous. */
export const fixedAsync = (values: readonly number[]): RewardFn => async (samples) => samples.map((_, i) => values[i]!);

/** `n` placeholder samples. */
export const batch = (n: number): Sample[] => Array.from({length: n}, (_, i) => ({prompt: `p${i}`, completion: `c${i}`}));

/** Finite reward values of moderate size (so sums stay exact enough to compare with 1e-9). */
export const rewardValue = fc.double({min: -10, max: 10, noNaN: true, noDefaultInfinity: true});

/** A batch size n and three aligned value arrays of length n (use as many as needed). */
export const valueArrays = fc.integer({min: 0, max: 8}).chain((n) => {
  const values = fc.array(rewardValue, {minLength: n, maxLength: n});
  return fc.tuple(values, values, values);
});

import {
  assertFunctionOption, assertKnownOptionNames, assertNumberOption, assertSamples, checkOption, describeValue,
} from './assert_option.js';
import {completionLengths} from './completion_length.js';
import type {RewardFn, Sample} from './types.js';

/** Options of {@link overlongPenalty}. */
export interface OverlongPenaltyOptions {
  /** L_max: the generation limit; longer completions get -1. Required, > 0. */
  maxLength: number;
  /**
   * L_cache: the soft-penalty zone below `maxLength`, in (0, maxLength]. Default
   * `0.2 * maxLength` (DAPO: 4096 of 20480 tokens).
   */
  cacheLength?: number;
  /**
   * Length of a sample (e.g. its token count, `(s) => s.completionTokens as number`). Default: the
   * completion's length in characters (UTF-16 code units).
   */
  lengthOf?: (sample: Sample) => number;
}

/**
 * DAPO's soft overlong punishment: no penalty up to L_max - L_cache, then a linear ramp to -1 at
 * L_max, and -1 beyond.
 *
 * R(y) = 0 if |y| <= L_max - L_cache; ((L_max - L_cache) - |y|) / L_cache if L_max - L_cache < |y| <= L_max;
 * -1 if |y| > L_max. Yu et al. 2025, DAPO, arXiv:2503.14476 (eq. 13). Add it to the task reward
 * (`sum(accuracy, overlongPenalty({maxLength}))`).
 *
 * @param options.maxLength L_max (required).
 * @param options.cacheLength L_cache; default `0.2 * maxLength`.
 * @param options.lengthOf sample length; default completion characters.
 * @returns a synchronous reward in [-1, 0]; -1 for non-string completions.
 * @example
 * const overlong = overlongPenalty({maxLength: 100, cacheLength: 20});
 * overlong([{prompt: 'p', completion: 'x'.repeat(90)}]); // [-0.5]: (80 - 90) / 20
 */
export function overlongPenalty(options: OverlongPenaltyOptions): RewardFn {
  const fn = 'overlongPenalty';
  checkOption(options !== null && typeof options === 'object', fn, () =>
    `'options' expected an object with 'maxLength', got ${describeValue(options)}`);
  assertKnownOptionNames(options, ['maxLength', 'cacheLength', 'lengthOf'], fn);
  const {maxLength, lengthOf} = options;
  assertNumberOption(maxLength, fn, 'maxLength', {min: 0, minExclusive: true});
  const cacheLength = options.cacheLength ?? 0.2 * maxLength;
  assertNumberOption(cacheLength, fn, 'cacheLength', {min: 0, minExclusive: true, max: maxLength});
  if (lengthOf !== undefined) assertFunctionOption(lengthOf, fn, 'lengthOf');
  const softStart = maxLength - cacheLength;
  return (samples: readonly Sample[]): number[] => {
    assertSamples(samples, fn);
    return completionLengths(samples, lengthOf, fn).map((n) => {
      if (n === null || n > maxLength) return -1;
      return n <= softStart ? 0 : Math.max(-1, (softStart - n) / cacheLength); // max: float rounding
    });
  };
}

/**
 * @internal Length of a sample for the length rewards: characters by default, or what the caller's
 * `lengthOf` says (token counts).
 * @module
 */
import {checkOption, describeValue} from './assert_option.js';
import {completionText} from './completion_text.js';
import type {Sample} from './types.js';

/**
 * @internal The length of each sample: `lengthOf(sample)` if given (must be a finite number >= 0,
 * else a clear error: it is the caller's code), else the completion's length in UTF-16 code units.
 * `null` for a sample whose completion is not a string (scored at the reward's minimum).
 */
export function completionLengths(
    samples: readonly Sample[], lengthOf: ((sample: Sample) => number) | undefined, fn: string): (number | null)[] {
  return samples.map((s, i) => {
    const c = completionText(s);
    if (c === null) return null;
    if (lengthOf === undefined) return c.length;
    const n = lengthOf(s);
    checkOption(typeof n === 'number' && Number.isFinite(n) && n >= 0, fn, () =>
      `'lengthOf' expected to return a finite number >= 0, got ${describeValue(n)} for sample ${i}`);
    return n;
  });
}

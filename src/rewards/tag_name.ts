/**
 * @internal Validation and counting helpers for the XML-like tags of the R1 template.
 * @module
 */
import {checkOption, describeValue} from './assert_option.js';

/** @internal Asserts a tag name such as `think` (letters, digits, `_`, `-`; no brackets). */
export function assertTagName(value: unknown, fn: string, name: string): asserts value is string {
  checkOption(typeof value === 'string' && /^[A-Za-z][\w-]*$/.test(value), fn, () =>
    `'${name}' expected a tag name such as 'think' (no angle brackets), got ${describeValue(value)}`);
}

/** @internal Occurrences of `needle` in `text` (non-overlapping), stopping once `limit` is passed. */
export function countOccurrences(text: string, needle: string, limit = Infinity): number {
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0 && count <= limit; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}

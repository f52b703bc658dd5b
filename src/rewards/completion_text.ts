/**
 * @internal Reads the completion of an untrusted sample.
 * @module
 */

/** @internal The sample's completion if it is a string, else `null` (a buggy caller's value). */
export function completionText(sample: unknown): string | null {
  if (sample === null || typeof sample !== 'object') return null;
  const c = (sample as {completion?: unknown}).completion;
  return typeof c === 'string' ? c : null;
}

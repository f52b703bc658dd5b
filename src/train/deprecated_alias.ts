/**
 * Deprecated option names kept for one release.
 * @module
 */
import {check} from '../math/assert.js';

/**
 * @internal The value of option `name`, or of its deprecated alias `old` when only that is given;
 * an error when both are.
 */
export function deprecatedAlias<T>(
    options: object, name: string, old: string, fn: string): T | undefined {
  const o = options as Record<string, unknown>;
  const value = o[name];
  const legacy = o[old];
  check(value === undefined || legacy === undefined, fn, () =>
    `got both '${name}' and its deprecated alias '${old}': pass only '${name}'`);
  return (value ?? legacy) as T | undefined;
}

/**
 * @internal Boundary validation for rewards (configuration, callers' batches, custom rewards'
 * outputs), in the message format of `src/math/assert.ts`: `fn: 'arg' expected <what>, got <given>`.
 *
 * Rewards are plain TypeScript and must not import tensors, so they do not use `src/math/assert.ts`
 * (which imports tfjs) but these few tensor-free checks.
 * @module
 */
import type {Sample} from './types.js';

/** @internal Formats an arbitrary value for an error message, briefly. */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (typeof x === 'function') return 'a function';
  if (typeof x === 'object' && typeof (x as {then?: unknown}).then === 'function') return 'a Promise';
  if (typeof x === 'object') return 'an object';
  return String(x);
}

/** @internal Throws `fn: message` when `cond` is false; the message is built lazily. */
export function checkOption(cond: boolean, fn: string, message: () => string): asserts cond {
  if (!cond) throw new Error(`${fn}: ${message()}`);
}

/** @internal Asserts a finite number option within optional bounds. */
export function assertNumberOption(
    value: unknown, fn: string, name: string,
    {min, max, minExclusive = false, integer = false}:
      {min?: number; max?: number; minExclusive?: boolean; integer?: boolean} = {}): asserts value is number {
  checkOption(typeof value === 'number' && Number.isFinite(value), fn, () =>
    `'${name}' expected a finite number, got ${describeValue(value)}`);
  if (integer) checkOption(Number.isInteger(value), fn, () => `'${name}' expected an integer, got ${value}`);
  if (min !== undefined) {
    const ok = minExclusive ? value > min : value >= min;
    checkOption(ok, fn, () => `'${name}' expected ${minExclusive ? '>' : '>='} ${min}, got ${value}`);
  }
  if (max !== undefined) checkOption(value <= max, fn, () => `'${name}' expected <= ${max}, got ${value}`);
}

/** @internal Asserts a string option is one of `allowed`. */
export function assertOneOfOption<T extends string>(
    value: unknown, allowed: readonly T[], fn: string, name: string): asserts value is T {
  checkOption(typeof value === 'string' && (allowed as readonly string[]).includes(value), fn, () =>
    `'${name}' expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`);
}

/** @internal Rejects unknown option names (typos would otherwise be ignored silently). */
export function assertKnownOptionNames(options: unknown, known: readonly string[], fn: string): void {
  if (options === undefined) return;
  checkOption(typeof options === 'object' && options !== null && !Array.isArray(options), fn, () =>
    `'options' expected an object, got ${describeValue(options)}`);
  for (const key of Object.keys(options)) {
    checkOption(known.includes(key), fn, () =>
      `unknown option '${key}'; expected one of ${known.map((k) => `'${k}'`).join(', ')}`);
  }
}

/** @internal Asserts `value` is a function (a reward or a callback). */
export function assertFunctionOption(value: unknown, fn: string, name: string): asserts value is (...args: never[]) => unknown {
  checkOption(typeof value === 'function', fn, () => `'${name}' expected a function, got ${describeValue(value)}`);
}

/** @internal Asserts the batch handed to a reward is an array (its elements may be anything). */
export function assertSamples(samples: unknown, fn: string): asserts samples is readonly Sample[] {
  checkOption(Array.isArray(samples), fn, () => `'samples' expected an array of samples, got ${describeValue(samples)}`);
}

/**
 * @internal Asserts that a (possibly user-written) reward returned one finite number per sample.
 * `what` names the reward in the message, e.g. `component 2 of weighted`.
 */
export function assertRewardValues(values: unknown, count: number, fn: string, what: string): asserts values is number[] {
  checkOption(Array.isArray(values) || ArrayBuffer.isView(values), fn, () =>
    `${what} expected to return an array of ${count} numbers, got ${describeValue(values)}`);
  const arr = values as ArrayLike<unknown>;
  checkOption(arr.length === count, fn, () =>
    `${what} expected to return ${count} values (one per sample), got ${arr.length}`);
  for (let i = 0; i < count; i++) {
    const v = arr[i];
    checkOption(typeof v === 'number' && Number.isFinite(v), fn, () => {
      const got = describeValue(v);
      return `${what} expected finite numbers, got ${got} at index ${i}` + (got === 'a Promise'
        ? ' (an async function per sample? an async reward returns one Promise of the whole array: ' +
          'async (samples) => Promise.all(samples.map(...)))' : '');
    });
  }
}

/**
 * @internal Helpers for values that may or may not be promises, so that a combinator of synchronous
 * rewards stays synchronous and one of asynchronous rewards returns a promise.
 * @module
 */
import type {MaybePromise} from './types.js';

/** @internal Whether `x` is a thenable. */
export function isPromiseLike<T>(x: MaybePromise<T>): x is Promise<T> {
  return x !== null && typeof x === 'object' && typeof (x as {then?: unknown}).then === 'function';
}

/** @internal Applies `f` to `x` now if `x` is a value, or when it resolves. */
export function thenMaybe<T, U>(x: MaybePromise<T>, f: (value: T) => U): MaybePromise<U> {
  return isPromiseLike(x) ? x.then(f) : f(x);
}

/** @internal Like `Promise.all`, but synchronous when no element is a promise. */
export function allMaybe<T>(xs: readonly MaybePromise<T>[]): MaybePromise<T[]> {
  return xs.some(isPromiseLike) ? Promise.all(xs) : (xs as T[]);
}

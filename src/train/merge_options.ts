/**
 * Defaults merged with what the caller passes, for nested option objects.
 * @module
 */

/**
 * @internal `{...defaults, ...given}` without the `undefined` entries of `given`, so that
 * `{loss: {clipHigh: 0.28}}` keeps the other defaults (e.g. `beta`) and `{beta: undefined}` means
 * "the default", never "none".
 */
export function mergeOptions<T extends object>(defaults: T, given: Partial<T> | undefined): T {
  const out = {...defaults} as Record<string, unknown>;
  if (given !== undefined && given !== null) {
    for (const [key, value] of Object.entries(given)) if (value !== undefined) out[key] = value;
  }
  return out as T;
}

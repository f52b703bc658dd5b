/**
 * Boundary checks of the objects a training step receives (options object, policy, optimizer,
 * problems, reward), with the library's message format `fn: 'arg' expected <what>, got <given>`.
 * All are free (no tensor is read).
 * @module
 */
import {assertGradientsRegistered, assertKnownInputs, assertNumber, check} from '../math/assert.js';
import type {Policy} from '../models/policy.js';

/** @internal A short description of a JS value for an error message. */
export function describeValue(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'function') return 'a function';
  if (typeof x === 'object') {
    const keys = Object.keys(x);
    return `an object {${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}}`;
  }
  if (typeof x === 'string') return JSON.stringify(x.length > 30 ? `${x.slice(0, 30)}...` : x);
  return `${typeof x} ${String(x)}`;
}

/** @internal Asserts the options argument is a plain object (not undefined, null or an array). */
export function assertOptionsObject(options: unknown, fn: string, expected: string): asserts options is object {
  check(options !== null && typeof options === 'object' && !Array.isArray(options), fn, () =>
    `'options' expected ${expected}, got ${describeValue(options)}`);
}

/**
 * @internal Asserts `policy` is a {@link Policy}: an object with `apply` (and `variables` when it is
 * trained) and positive integer `vocabSize` and `contextLength`.
 */
export function assertPolicy(policy: unknown, fn: string, name: string, trained = false): asserts policy is Policy {
  const p = policy as Partial<Policy> | null | undefined;
  check(p !== null && typeof p === 'object' && typeof p.apply === 'function', fn, () =>
    `'${name}' expected a Policy (apply, variables, vocabSize, contextLength), got ${
      p !== null && typeof p === 'object' ? `${describeValue(p)} with no apply method` : describeValue(p)}`);
  if (trained) {
    check(typeof p.variables === 'function', fn, () =>
      `'${name}' expected a Policy with a variables() method (the optimizer updates them), got none`);
  }
  assertNumber(p.vocabSize, fn, `${name}.vocabSize`, {integer: true, min: 1});
  assertNumber(p.contextLength, fn, `${name}.contextLength`, {integer: true, min: 1});
}

/** @internal Asserts `optimizer` is a tf.Optimizer (has `applyGradients`). */
export function assertOptimizer(optimizer: unknown, fn: string): void {
  check(optimizer !== null && typeof optimizer === 'object' &&
      typeof (optimizer as {applyGradients?: unknown}).applyGradients === 'function', fn, () =>
    `'optimizer' expected a tf.Optimizer (e.g. tf.train.adam(1e-3)), got ${describeValue(optimizer)}`);
}

/** @internal Asserts `reward` is a reward function `(samples) => number[]`. */
export function assertRewardFn(reward: unknown, fn: string, name = 'reward'): void {
  check(typeof reward === 'function', fn, () =>
    `'${name}' expected a reward function (samples) => number[], got ${describeValue(reward)}`);
}

/**
 * @internal Asserts `problems` is a non-empty array of `{prompt: string, reference: string}` (a
 * missing reference would reach the reward as `undefined` and score 0 silently).
 */
export function assertProblems(problems: unknown, fn: string, name = 'problems'): void {
  check(Array.isArray(problems) && problems.length > 0, fn, () =>
    `'${name}' expected at least one problem {prompt, reference}, got ${
      Array.isArray(problems) ? 'an empty array' : describeValue(problems)}`);
  problems.forEach((p: unknown, i) => {
    const q = p as {prompt?: unknown; reference?: unknown} | null;
    check(q !== null && typeof q === 'object' && typeof q.prompt === 'string' && typeof q.reference === 'string', fn, () =>
      `'${name}[${i}]' expected {prompt: string, reference: string}, got ${describeValue(p)}`);
  });
}

/** @internal Asserts a nested options object (`loss`, `gae`, ...) is an object when given. */
export function assertNestedOptions(value: unknown, fn: string, name: string): void {
  if (value === undefined) return;
  check(value !== null && typeof value === 'object' && !Array.isArray(value), fn, () =>
    `'${name}' expected an options object, got ${describeValue(value)}`);
}

/**
 * @internal Runs `f` (a dry run of the function that takes the nested options `name`, before any
 * sampling) and prefixes its error with the step and the option: `grpoStep: in 'loss': grpoLossWithStats: ...`.
 */
export function checkNestedOptions(fn: string, name: string, f: () => void): void {
  try {
    f();
  } catch (e) {
    throw new Error(`${fn}: in '${name}': ${(e as Error).message}`);
  }
}

/**
 * @internal The ranges `sampleCompletions` enforces, checked on entry of a step so that the message
 * names the step: `maxNewTokens` integer >= 1, `temperature` >= 0, `topK` integer >= 0, `topP` in
 * (0, 1], `seed` an integer, `stopToken` an id below `vocabSize`. Absent keys are not checked.
 */
export function assertSamplingOptions(
    o: {maxNewTokens?: unknown; temperature?: unknown; topK?: unknown; topP?: unknown; seed?: unknown; stopToken?: unknown},
    fn: string, vocabSize: number, prefix = ''): void {
  assertNumber(o.maxNewTokens, fn, `${prefix}maxNewTokens`, {integer: true, min: 1});
  if (o.temperature !== undefined) assertNumber(o.temperature, fn, `${prefix}temperature`, {min: 0});
  if (o.topK !== undefined) assertNumber(o.topK, fn, `${prefix}topK`, {integer: true, min: 0});
  if (o.topP !== undefined) assertNumber(o.topP, fn, `${prefix}topP`, {min: 0, minExclusive: true, max: 1});
  if (o.seed !== undefined) assertNumber(o.seed, fn, `${prefix}seed`, {integer: true});
  if (o.stopToken !== undefined) assertNumber(o.stopToken, fn, `${prefix}stopToken`, {integer: true, min: 0, max: vocabSize - 1});
}

/**
 * @internal The context of an RL step (`grpoStep`, `ppoStep`): only the `known` keys, gradients
 * registered, a trained `policy`, an optional `reference` policy, an optimizer and a reward function.
 */
export function assertRlStepContext(ctx: unknown, known: readonly string[], fn: string): void {
  assertKnownInputs(ctx, known, fn, 'ctx');
  assertGradientsRegistered(fn);
  const {policy, reference, optimizer, reward} = ctx as Record<string, unknown>;
  assertPolicy(policy, fn, 'policy', true);
  if (reference !== undefined) assertPolicy(reference, fn, 'reference');
  assertOptimizer(optimizer, fn);
  assertRewardFn(reward, fn);
}

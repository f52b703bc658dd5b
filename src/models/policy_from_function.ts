/**
 * An adapter turning any `(tokens) => logits` function plus its variables into a {@link Policy}.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput, PolicyForward} from './policy.js';

/** What {@link policyFromFunction} wraps. */
export interface FunctionPolicySpec<Cache = never> {
  /**
   * The model: int32 `[batch, time]` tokens to float32 `[batch, time, vocab]` next-token logits, or to
   * a {@link PolicyForward} (`{logits, hidden?, auxLoss?}`). Must be synchronous and read its weights
   * from `variables` (e.g. `(x) => model.apply(x) as tf.Tensor3D` of a `tf.layers` model). The second
   * argument carries the attention mask of left-padded prompts; a function that ignores it sees the
   * padding as tokens, identically when sampling and when training.
   */
  apply: (tokens: tf.Tensor2D, options: PolicyApplyOptions) => tf.Tensor | PolicyForward;
  /**
   * The trainable variables the function reads, or a function returning them (for models that
   * create their weights on first call). For a `tf.layers` model:
   * `() => model.trainableWeights.map((w) => w.read() as tf.Variable)`.
   */
  variables: readonly tf.Variable[] | (() => readonly tf.Variable[]);
  /** Size of the output distribution, `logits.shape[2]` (required). */
  vocabSize: number;
  /** Longest sequence the model accepts (required). */
  contextLength: number;
  /** Optional incremental forward pass (see {@link Policy.applyWithCache}); without it samplers re-run `apply`. */
  applyWithCache?: (inputs: PolicyCachedInputs<Cache>) => PolicyCachedOutput<Cache>;
  /** Disposes a cache of `applyWithCache`; default `tf.dispose` of the cache object. */
  disposeCache?: (cache: Cache) => void;
  /** Called after every optimizer update by the training steps (see {@link Policy.afterOptimizerStep}). */
  afterOptimizerStep?: () => Record<string, number> | void;
  /**
   * Frees the model when the policy is disposed (e.g. `() => model.dispose()`). Default: nothing,
   * the caller keeps owning the model.
   */
  dispose?: () => void;
}

const FN = 'policyFromFunction';
const KNOWN = ['apply', 'variables', 'vocabSize', 'contextLength', 'applyWithCache', 'disposeCache', 'afterOptimizerStep', 'dispose'];

/**
 * Wraps a user's model, any synchronous `(tokens) => logits` function plus the variables it reads,
 * as a {@link Policy}, so it gets the library's sampler, completion log-probs and training steps.
 *
 * `copy()` (frozen, the default) snapshots the current variable values into new non-trainable
 * variables; the copy's `apply` runs the same function with the snapshot swapped into the
 * variables for the duration of the call (tfjs `assign` shares the data, so a swap copies nothing)
 * and restores them afterwards, so it is a fixed reference for the KL term while the original
 * trains. A trainable copy needs a second model: wrap it with its own `policyFromFunction`.
 *
 * The logits are checked to be `[batch, time, vocabSize]`.
 *
 * @param spec see {@link FunctionPolicySpec}: `apply`, `variables`, `vocabSize`, `contextLength`
 *   (required), `applyWithCache`, `disposeCache`, `afterOptimizerStep`, `dispose` (optional).
 * @returns a `Policy`; `dispose()` calls `spec.dispose` (the copies free their snapshots).
 * @throws when a required field is missing or out of range; `apply` throws when the function's
 *   logits have the wrong shape.
 * @example
 * // A bigram model: one [vocab, vocab] table of logits.
 * const table = tf.variable(tf.zeros([12, 12]));
 * const policy = policyFromFunction({
 *   apply: (tokens) => tf.gather(table, tokens),
 *   variables: [table], vocabSize: 12, contextLength: 32,
 * });
 * const reference = policy.copy();
 * const {logits} = policy.apply(tf.tensor2d([[3, 4]], [1, 2], 'int32')); // [1, 2, 12]
 * tf.dispose([logits]);
 * reference.dispose(); policy.dispose(); table.dispose();
 */
export function policyFromFunction<Cache = never>(spec: FunctionPolicySpec<Cache>): Policy<Cache> {
  check(spec !== null && typeof spec === 'object', FN, () => `'spec' expected {apply, variables, vocabSize, contextLength}, got ${String(spec)}`);
  assertKnownOptions(spec, KNOWN, FN);
  check(typeof spec.apply === 'function', FN, () => `'apply' expected a function (tokens) => logits, got ${typeof spec.apply}`);
  check(Array.isArray(spec.variables) || typeof spec.variables === 'function', FN, () =>
    `'variables' expected an array of tf.Variable or a function returning one, got ${typeof spec.variables}`);
  assertNumber(spec.vocabSize, FN, 'vocabSize', {integer: true, min: 2});
  assertNumber(spec.contextLength, FN, 'contextLength', {integer: true, min: 1});
  if (spec.applyWithCache !== undefined) {
    check(typeof spec.applyWithCache === 'function', FN, () => `'applyWithCache' expected a function`);
  }
  const readVariables = (): tf.Variable[] => {
    const vs = typeof spec.variables === 'function' ? spec.variables() : spec.variables;
    // `instanceof tf.Variable` is duck-typed by tfjs (assign + tensor methods), so it holds across copies of tfjs-core.
    check(Array.isArray(vs) && vs.every((v) => v instanceof tf.Variable), FN, () =>
      `'variables' expected tf.Variable objects (for tf.layers weights: w.read()), got ${describe(vs)}`);
    return [...vs];
  };
  return new FunctionPolicy<Cache>(spec, readVariables, null);
}

/** The policy {@link policyFromFunction} returns; `snapshot` is non-null for a frozen copy. */
class FunctionPolicy<Cache> implements Policy<Cache> {
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly applyWithCache?: (inputs: PolicyCachedInputs<Cache>) => PolicyCachedOutput<Cache>;
  readonly disposeCache?: (cache: Cache) => void;
  readonly afterOptimizerStep?: () => Record<string, number> | void;
  private disposed = false;

  constructor(
      private readonly spec: FunctionPolicySpec<Cache>, private readonly readVariables: () => tf.Variable[],
      private readonly snapshot: tf.Variable[] | null) {
    this.vocabSize = spec.vocabSize;
    this.contextLength = spec.contextLength;
    if (spec.applyWithCache) {
      const run = spec.applyWithCache;
      this.applyWithCache = (inputs) => { this.assertLive('applyWithCache'); return this.withSnapshot(() => run(inputs)); };
      this.disposeCache = spec.disposeCache ?? ((c: Cache) => tf.dispose(c as unknown as tf.TensorContainer));
    }
    // A frozen copy is a reference: it does not take part in the optimizer's updates.
    if (spec.afterOptimizerStep && snapshot === null) this.afterOptimizerStep = spec.afterOptimizerStep;
  }

  apply(tokens: tf.Tensor2D, options: PolicyApplyOptions = {}): PolicyForward {
    this.assertLive('apply');
    const out = this.withSnapshot(() => this.spec.apply(tokens, options));
    const forward: PolicyForward = out instanceof tf.Tensor ? {logits: out as tf.Tensor3D} : out;
    const {logits} = forward;
    const [B, T] = tokens.shape;
    if (!(logits instanceof tf.Tensor) || logits.rank !== 3 || logits.shape[0] !== B || logits.shape[1] !== T ||
        logits.shape[2] !== this.vocabSize) {
      const got = logits instanceof tf.Tensor ? `[${logits.shape.join(',')}]` : describe(logits);
      tf.dispose(forward as unknown as tf.TensorContainer);
      check(false, `${FN}.apply`, () => `the function's logits expected shape [${B},${T},${this.vocabSize}] ([batch, time, vocabSize]), got ${got}`);
    }
    return forward;
  }

  variables(): tf.Variable[] {
    this.assertLive('variables');
    return this.snapshot ? [...this.snapshot] : this.readVariables();
  }

  numParams(): number {
    return this.variables().reduce((n, v) => n + v.size, 0);
  }

  copy(options: {trainable?: boolean} = {}): Policy<Cache> {
    this.assertLive('copy');
    const {trainable = false} = options;
    check(!trainable, `${FN}.copy`, () =>
      'a trainable copy needs a second model (the function reads the original variables): build one and wrap it with policyFromFunction');
    const source = this.variables();
    const snapshot = source.map((v) => tf.variable(v, false));
    return new FunctionPolicy<Cache>(this.spec, this.readVariables, snapshot);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.snapshot) tf.dispose(this.snapshot);
    else this.spec.dispose?.();
  }

  /** Runs `f` with the snapshot's values in the live variables (copies only), restoring them after. */
  private withSnapshot<T>(f: () => T): T {
    if (this.snapshot === null) return f();
    const live = this.readVariables();
    check(live.length === this.snapshot.length, `${FN}.copy`, () =>
      `the model now has ${live.length} variables, the copy ${this.snapshot!.length}`);
    const saved = live.map((v) => tf.clone(v));
    // Keep the saved values alive across a tf.tidy around this call.
    saved.forEach((t) => tf.keep(t));
    try {
      live.forEach((v, i) => v.assign(this.snapshot![i]!));
      return f();
    } finally {
      live.forEach((v, i) => v.assign(saved[i]!));
      tf.dispose(saved);
    }
  }

  private assertLive(method: string): void {
    check(!this.disposed, `${FN}.${method}`, () => 'the policy has been disposed');
  }
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `an array of ${x.map((v) => (v instanceof tf.Tensor ? 'Tensor' : typeof v)).join(', ')}`;
  return (x as object).constructor?.name ?? typeof x;
}

/**
 * Types shared by the rule-based rewards and their combinators.
 * @module
 */

/**
 * One scored item: a prompt, the model's completion and, for verifiable tasks, the reference answer.
 *
 * Completions are untrusted model output: a reward never throws on a bad `completion` (empty,
 * megabyte-long, unbalanced, not even a string) and returns its documented minimum instead.
 */
export interface Sample {
  /** The prompt the completion answers (plain text, after any chat template). */
  prompt: string;
  /** The generated text being scored. */
  completion: string;
  /** The reference (ground-truth) answer, for rewards that verify the answer (`accuracyReward`). */
  reference?: string;
  /**
   * Which prompt group the sample belongs to (GRPO samples several completions per prompt);
   * group-aware rewards (`lengthReward`) compare samples that share a `groupId`.
   */
  groupId?: number;
  /** Any other per-sample data a custom reward needs (token counts, test cases, ...). */
  [key: string]: unknown;
}

/**
 * A reward: scores a whole batch at once (like TRL's reward functions), so group-aware rewards are
 * possible. Returns one finite number per sample, in the order of `samples`.
 */
export type RewardFn = (samples: readonly Sample[]) => number[] | Promise<number[]>;

/** A value, or a promise of it: combinators stay synchronous when all their parts are. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The scores of a batch together with the named components they were built from.
 *
 * Produced by the `breakdown` property of every combinator and of `named`; read by `scoreRewards`.
 */
export interface RewardBreakdown {
  /** The reward of each sample (what calling the function returns). */
  values: number[];
  /** Values of every `named(...)` component inside the reward, by name, one per sample. */
  components: Record<string, number[]>;
  /**
   * Event counters for logging, e.g. `'accuracyReward.unparsableReference': 2` (references the math
   * engine could not parse in this batch).
   */
  counters: Record<string, number>;
}

/**
 * A reward that can also report how its value was built. Every combinator (`weighted`, `gate`,
 * `named`, ...) and `accuracyReward` return one; plain functions are leaves without a breakdown.
 *
 * Calling it returns the same values as `breakdown(samples).values`.
 */
export interface ComposedReward {
  /** Scores the batch (see {@link RewardFn}). */
  (samples: readonly Sample[]): number[] | Promise<number[]>;
  /** Scores the batch and returns the named components and counters as well. */
  readonly breakdown: (samples: readonly Sample[]) => MaybePromise<RewardBreakdown>;
  /**
   * Names of the `named(...)` components inside this reward, in evaluation order (known when the
   * reward is built, so duplicate names are rejected early).
   */
  readonly componentNames: readonly string[];
}

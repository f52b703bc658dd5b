/**
 * Rejection sampling (DeepSeek-R1 stage 3): sample many completions per prompt, keep the good ones.
 * @module
 */
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {formatReward} from '../rewards/format_reward.js';
import {languageConsistencyReward} from '../rewards/language_consistency_reward.js';
import {evaluateBreakdown} from '../rewards/composed_reward.js';
import type {MaybePromise, RewardFn, Sample} from '../rewards/types.js';

/** One prompt to sample for: its text and optional reference (any other fields reach the reward too). */
export interface RejectionPrompt {
  /** The prompt text given to the sampler. */
  prompt: string;
  /** Reference answer passed to the reward (e.g. what `accuracyReward` compares against). */
  reference?: string;
}

/** A sampled completion: its text, and its length in tokens when the sampler knows it. */
export type SampledCompletion = string | {
  /** The completion text. */
  completion: string;
  /** Its length in tokens; default its length in characters. */
  tokens?: number;
};

/**
 * Draws completions: gets every prompt text (each repeated `samplesPerPrompt` times, contiguous) and
 * a seed, returns one completion per entry in the same order. {@link policySampler} builds one from
 * a policy and a tokenizer; any function (an API client, a cached file) works.
 */
export type CompletionSampler =
  (prompts: readonly string[], options: {seed: number}) => MaybePromise<readonly SampledCompletion[]>;

/** Which samples are accepted (after the filters and `dedupe`); at least one field. */
export interface RejectionAccept {
  /** Accept a sample whose reward is `>= minReward` (e.g. `1` for a correct answer). */
  minReward?: number;
  /** Accept only the `bestOf` highest-reward samples of each prompt (ties: earlier sample first). */
  bestOf?: number;
}

/** The filters DeepSeek-R1 applies to its stage-3 data (section 2.3.3); each is off unless given. */
export interface RejectionFilters {
  /** Unreadable: drop samples failing this 0/1 format reward; `true` means `formatReward()`. */
  unreadable?: true | RewardFn;
  /** Mixed language: drop samples whose `languageConsistencyReward({language})` is `< minConsistency` (default 0.95). */
  mixedLanguage?: {
    /** The target language of `languageConsistencyReward`. */
    language: string;
    /** Lowest consistency kept, in [0, 1]; default 0.95. */
    minConsistency?: number;
  };
  /** Overlong: drop samples longer than `maxTokens` tokens (characters when the sampler gives no token counts). */
  overlong?: {
    /** Longest sample kept, in tokens (characters when the sampler gives no token counts). */
    maxTokens: number;
  };
}

/** Options of {@link rejectionSample}. */
export interface RejectionSampleOptions {
  /** Completions drawn per prompt, integer >= 1 (required). */
  samplesPerPrompt: number;
  /** Acceptance rule (required). */
  accept: RejectionAccept;
  /** Most accepted samples kept per prompt; default no limit. */
  maxPerPrompt?: number;
  /** Drop a completion identical (after trimming) to one already kept for the same prompt; default `true`. */
  dedupe?: boolean;
  /** Filters; default none. */
  filters?: RejectionFilters;
  /** Seed passed to the sampler; default `0`. Same seed, same sampler, same result. */
  seed?: number;
}

/** One accepted sample. */
export interface AcceptedSample {
  /** The prompt text it was sampled for. */
  prompt: string;
  /** The accepted completion text. */
  completion: string;
  /** The prompt's reference, when it had one. */
  reference?: string;
  /** The reward that accepted it. */
  reward: number;
  /** Length in tokens (or characters when the sampler gave no token count). */
  tokens: number;
  /** Index of its prompt in `prompts`. */
  promptIndex: number;
  /** Index of the sample among its prompt's samples. */
  sampleIndex: number;
}

/** Statistics of one prompt. */
export interface RejectionPromptStats {
  /** Samples drawn for the prompt (`samplesPerPrompt`). */
  samples: number;
  /** Samples of the prompt accepted (after filters, `dedupe`, `bestOf` and `maxPerPrompt`). */
  accepted: number;
  /** accepted / samples. */
  acceptanceRate: number;
}

/** What {@link rejectionSample} returns. */
export interface RejectionSampleResult {
  /** Accepted samples, by prompt then sample index: ready for `encodeSftBatch`. */
  accepted: AcceptedSample[];
  /** Counts over the whole call. */
  stats: {
    /** Samples drawn (`prompts.length * samplesPerPrompt`). */
    samples: number;
    /** Samples accepted. */
    accepted: number;
    /** accepted / samples. */
    acceptanceRate: number;
    /** Per prompt, in prompt order. */
    perPrompt: RejectionPromptStats[];
    /**
     * pass@k with k = n = samplesPerPrompt: the share of prompts with at least one sample whose reward
     * is `>= accept.minReward` (the unbiased estimator of Chen et al. 2021 reduces to this indicator
     * when k = n); `null` without `minReward`.
     */
    passAtK: {
      /** k = n = `samplesPerPrompt`. */
      k: number;
      /** Share of prompts with at least one sample of reward `>= accept.minReward`, in [0, 1]. */
      value: number;
    } | null;
    /** Indices of the prompts with no accepted sample. */
    promptsWithoutAccepted: number[];
    /** Tokens (or characters) of the accepted samples. */
    tokensKept: number;
    /** How many samples each filter removed (a sample is counted by the first filter that removes it). */
    removed: {
      /** Failed the `unreadable` format reward. */
      unreadable: number;
      /** Language consistency below `mixedLanguage.minConsistency`. */
      mixedLanguage: number;
      /** Longer than `overlong.maxTokens`. */
      overlong: number;
      /** Same trimmed completion as one already kept for the prompt (`dedupe`). */
      duplicate: number;
      /** Reward below `accept.minReward`, or cut by `bestOf` / `maxPerPrompt`. */
      rejected: number;
    };
  };
}

const FN = 'rejectionSample';

/**
 * Rejection sampling as DeepSeek-R1's stage 3 (arXiv:2501.12948, section 2.3.3): draw
 * `samplesPerPrompt` completions for every prompt, score them with `reward`, drop unreadable
 * (format failures), mixed-language and overlong ones, drop duplicates, keep those the acceptance rule
 * accepts (`minReward`, and/or the `bestOf` best per prompt), at most `maxPerPrompt` per prompt. The
 * result is an SFT dataset plus the statistics to report. Sequence-level distillation (R1 section
 * 2.4) is this on the teacher followed by `sftStep` on a student.
 *
 * The reward sees each sample as `{...prompt, completion, groupId: promptIndex}`; a reward returning
 * NaN is an error naming it. Filters run in the order unreadable, mixed
 * language, overlong, duplicate, then the acceptance rule. Deterministic: the only randomness is the
 * sampler's, driven by `seed`.
 *
 * @param sampler draws completions (see {@link CompletionSampler}, {@link policySampler}).
 * @param prompts at least one prompt.
 * @param reward scores the samples (e.g. format-gated accuracy; a reward model).
 * @param options.samplesPerPrompt completions per prompt (required, >= 1).
 * @param options.accept `{minReward}` and/or `{bestOf}` (required).
 * @param options.maxPerPrompt cap per prompt; default none.
 * @param options.dedupe drop repeated completions of one prompt; default `true`.
 * @param options.filters `unreadable`, `mixedLanguage`, `overlong`; default none.
 * @param options.seed sampler seed; default `0`.
 * @returns `{accepted, stats}`.
 * @throws on an empty prompt list, `samplesPerPrompt < 1`, an empty or bad acceptance rule, an unknown
 *   option or filter key (nested ones too: `filters.overlong.max_tokens`), a sampler returning the wrong
 *   number of completions or a token count that is not a non-negative integer, or a reward returning
 *   the wrong count or a non-finite value.
 * @example
 * const sampler: CompletionSampler = (prompts) => prompts.map((p, i) => `<think>${p}</think><answer>${i % 2}</answer>`);
 * const {accepted, stats} = await rejectionSample(sampler, [{prompt: 'q', reference: '1'}], accuracyReward(),
 *     {samplesPerPrompt: 4, accept: {minReward: 1}});
 * // accepted: 1 sample (the duplicate '1' answer is dropped); stats.acceptanceRate 0.25, stats.removed.duplicate 1
 */
export async function rejectionSample(
    sampler: CompletionSampler, prompts: readonly RejectionPrompt[], reward: RewardFn,
    options: RejectionSampleOptions): Promise<RejectionSampleResult> {
  check(options !== null && typeof options === 'object', FN, () => `'options' expected {samplesPerPrompt, accept, ...}`);
  assertKnownOptions(options, ['samplesPerPrompt', 'accept', 'maxPerPrompt', 'dedupe', 'filters', 'seed'], FN);
  const {samplesPerPrompt, accept, maxPerPrompt = Infinity, dedupe = true, filters = {}, seed = 0} = options;
  check(typeof sampler === 'function', FN, () => `'sampler' expected a function (prompts, {seed}) => completions`);
  check(typeof reward === 'function', FN, () => `'reward' expected a reward function`);
  check(Array.isArray(prompts) && prompts.length > 0, FN, () => `'prompts' expected at least one prompt, got ${
    Array.isArray(prompts) ? 'an empty list' : String(prompts)}`);
  prompts.forEach((p, i) => check(p !== null && typeof p === 'object' && typeof p.prompt === 'string', FN, () =>
    `'prompts[${i}]' expected {prompt: string, ...}`));
  assertNumber(samplesPerPrompt, FN, 'samplesPerPrompt', {integer: true, min: 1});
  check(accept !== null && typeof accept === 'object', FN, () => `'accept' expected {minReward} or {bestOf}`);
  assertKnownOptions(accept, ['minReward', 'bestOf'], `${FN}: 'accept'`);
  check(accept.minReward !== undefined || accept.bestOf !== undefined, FN, () =>
    `'accept' expected {minReward: number} or {bestOf: k}, got neither`);
  if (accept.minReward !== undefined) assertNumber(accept.minReward, FN, 'accept.minReward');
  if (accept.bestOf !== undefined) {
    assertNumber(accept.bestOf, FN, 'accept.bestOf', {integer: true, min: 1, max: samplesPerPrompt});
  }
  if (maxPerPrompt !== Infinity) assertNumber(maxPerPrompt, FN, 'maxPerPrompt', {integer: true, min: 1});
  check(typeof dedupe === 'boolean', FN, () => `'dedupe' expected a boolean, got ${String(dedupe)}`);
  assertNumber(seed, FN, 'seed', {integer: true});
  assertKnownOptions(filters, ['unreadable', 'mixedLanguage', 'overlong'], `${FN}: 'filters'`);
  const unreadable = filters.unreadable === true ? formatReward() : filters.unreadable;
  if (unreadable !== undefined) check(typeof unreadable === 'function', FN, () => `'filters.unreadable' expected true or a reward`);
  const language = filters.mixedLanguage;
  for (const [key, known] of [['mixedLanguage', ['language', 'minConsistency']], ['overlong', ['maxTokens']]] as const) {
    const nested = filters[key];
    if (nested === undefined) continue;
    check(nested !== null && typeof nested === 'object' && !Array.isArray(nested), FN, () =>
      `'filters.${key}' expected {${known.join(', ')}}, got ${nested === null ? 'null' : typeof nested}`);
    assertKnownOptions(nested, known, `${FN}: 'filters.${key}'`);
  }
  const minConsistency = language?.minConsistency ?? 0.95;
  if (language !== undefined) assertNumber(minConsistency, FN, 'filters.mixedLanguage.minConsistency', {min: 0, max: 1});
  const languageReward = language === undefined ? undefined : languageConsistencyReward({language: language.language});
  if (filters.overlong !== undefined) assertNumber(filters.overlong.maxTokens, FN, 'filters.overlong.maxTokens', {integer: true, min: 1});

  // --- sample ---
  const texts = prompts.flatMap((p) => new Array<string>(samplesPerPrompt).fill(p.prompt));
  const drawn = await sampler(texts, {seed});
  check(Array.isArray(drawn) && drawn.length === texts.length, FN, () =>
    `'sampler' expected to return ${texts.length} completions (one per prompt entry), got ${Array.isArray(drawn) ? drawn.length : String(drawn)}`);
  const samples: Sample[] = drawn.map((d, i) => {
    const completion = typeof d === 'string' ? d : d?.completion;
    check(typeof completion === 'string', FN, () => `'sampler' returned a completion that is not a string at index ${i}`);
    const promptIndex = Math.floor(i / samplesPerPrompt);
    return {...prompts[promptIndex]!, completion, groupId: promptIndex};
  });
  const tokens = drawn.map((d) => (typeof d === 'string' || d.tokens === undefined ? (typeof d === 'string' ? d : d.completion).length : d.tokens));
  tokens.forEach((t, i) => check(Number.isInteger(t) && t >= 0, FN, () =>
    `'sampler' returned a token count that is not a non-negative integer at index ${i}: ${String(t)}`));

  // --- score and filter ---
  // Exact values (not float32-rounded): `minReward: 0.7` must accept a reward of 0.7.
  const score = async (fn: RewardFn, what: string): Promise<number[]> => (await evaluateBreakdown(fn, samples, FN, what)).values;
  const rewards = await score(reward, `'reward'`);
  const readable = unreadable === undefined ? null : await score(unreadable, `'filters.unreadable'`);
  const consistency = languageReward === undefined ? null : await score(languageReward, `'filters.mixedLanguage'`);
  const removed = {unreadable: 0, mixedLanguage: 0, overlong: 0, duplicate: 0, rejected: 0};
  const accepted: AcceptedSample[] = [];
  const perPrompt: RejectionPromptStats[] = [];
  const promptsWithoutAccepted: number[] = [];
  let solved = 0;
  for (let p = 0; p < prompts.length; p++) {
    const candidates: number[] = [];
    const seen = new Set<string>();
    let anyCorrect = false;
    for (let j = 0; j < samplesPerPrompt; j++) {
      const i = p * samplesPerPrompt + j;
      if (accept.minReward !== undefined && rewards[i]! >= accept.minReward) anyCorrect = true;
      if (readable !== null && readable[i]! < 1) { removed.unreadable++; continue; }
      if (consistency !== null && consistency[i]! < minConsistency) { removed.mixedLanguage++; continue; }
      if (filters.overlong !== undefined && tokens[i]! > filters.overlong.maxTokens) { removed.overlong++; continue; }
      if (accept.minReward !== undefined && rewards[i]! < accept.minReward) { removed.rejected++; continue; }
      const key = samples[i]!.completion.trim();
      if (dedupe && seen.has(key)) { removed.duplicate++; continue; }
      seen.add(key);
      candidates.push(i);
    }
    if (anyCorrect) solved++;
    // Best first (stable: ties keep sample order), then the caps.
    let kept = candidates;
    if (accept.bestOf !== undefined) kept = [...candidates].sort((a, b) => rewards[b]! - rewards[a]! || a - b).slice(0, accept.bestOf);
    if (kept.length > maxPerPrompt) kept = kept.slice(0, maxPerPrompt);
    removed.rejected += candidates.length - kept.length;
    kept.sort((a, b) => a - b);
    for (const i of kept) {
      const s = samples[i]!;
      accepted.push({prompt: s.prompt, completion: s.completion, ...(s.reference !== undefined ? {reference: s.reference} : {}),
        reward: rewards[i]!, tokens: tokens[i]!, promptIndex: p, sampleIndex: i - p * samplesPerPrompt});
    }
    perPrompt.push({samples: samplesPerPrompt, accepted: kept.length, acceptanceRate: kept.length / samplesPerPrompt});
    if (kept.length === 0) promptsWithoutAccepted.push(p);
  }
  const total = prompts.length * samplesPerPrompt;
  return {
    accepted,
    stats: {
      samples: total,
      accepted: accepted.length,
      acceptanceRate: accepted.length / total,
      perPrompt,
      passAtK: accept.minReward === undefined ? null : {k: samplesPerPrompt, value: solved / prompts.length},
      promptsWithoutAccepted,
      tokensKept: accepted.reduce((a, s) => a + s.tokens, 0),
      removed,
    },
  };
}

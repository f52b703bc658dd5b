/**
 * The training batch of an RL step: one rollout, or DAPO's dynamic sampling over several rounds
 * keeping only the groups whose rewards differ.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import type {RewardFn} from '../rewards/types.js';
import {collectRolloutAs, disposeRollout, type Problem, type Rollout, type RolloutOptions} from './collect_rollout.js';
import {assertProblems} from './assert_step_inputs.js';
import {tiedGroups} from './zero_variance_groups.js';

/** Options of DAPO dynamic sampling (`grpoStep`'s `dynamicSampling`). */
export interface DynamicSamplingOptions {
  /**
   * Gives `count` more problems when groups were dropped (required), e.g. the next prompts of the
   * training stream. May return fewer (at least one) or a promise.
   */
  source: (count: number) => readonly Problem[] | Promise<readonly Problem[]>;
  /** Most sampling rounds per step, the first included, integer >= 1; default `4`. */
  maxTries?: number;
  /** Problems requested per extra round; default the step's `problems.length`. */
  problemsPerTry?: number;
}

/** @internal The tensors an update trains on; groups of `groupSize` contiguous rows. */
export interface TrainingTensors {
  promptTokens: tf.Tensor2D;
  promptMask: tf.Tensor2D;
  completionTokens: tf.Tensor2D;
  completionMask: tf.Tensor2D;
  oldLogProbs: tf.Tensor2D;
  rewards: Float32Array;
}

/** @internal What {@link sampleTrainingBatch} returns; `dispose()` frees the tensors. */
export interface TrainingBatch {
  /** `null` when dynamic sampling kept no group. */
  data: TrainingTensors | null;
  reward: number;
  rewardComponents: Record<string, number>;
  completionLength: number;
  samples: number;
  zeroVarianceGroups: number;
  keptFraction: number;
  rounds: number;
  /** The rollouts sampled (for callers that need the decoded samples); disposed by `dispose`. */
  rollouts: Rollout[];
  dispose(): void;
}

const KNOWN = ['source', 'maxTries', 'problemsPerTry'];

/**
 * @internal Samples the batch of an RL step. Without `options.dynamicSampling`: one rollout, every
 * group kept. With it (DAPO, Yu et al. 2025, arXiv:2503.14476, §3.2): groups whose rewards all tie
 * are dropped and more problems come from `source` until `problems.length` groups are kept (the
 * surplus of the last round is dropped) or `maxTries` rounds have run; the kept groups of every
 * round form one batch (prompts re-left-padded, completions re-right-padded).
 */
export async function sampleTrainingBatch(
    policy: Policy, tokenizer: Tokenizer, problems: readonly Problem[], reward: RewardFn,
    options: RolloutOptions & {dynamicSampling?: DynamicSamplingOptions}, fn: string): Promise<TrainingBatch> {
  const {groupSize, dynamicSampling} = options;
  const rollout = (ps: readonly Problem[], seed: number): Promise<Rollout> => collectRolloutAs(fn, policy, tokenizer, ps, reward, {
    groupSize, maxNewTokens: options.maxNewTokens, temperature: options.temperature, topK: options.topK, topP: options.topP,
    stopToken: options.stopToken, seed,
  });
  const seed = options.seed ?? 0;
  let maxTries = 1;
  let perTry = problems.length;
  if (dynamicSampling !== undefined) {
    check(dynamicSampling !== null && typeof dynamicSampling === 'object', fn, () => `'dynamicSampling' expected {source, maxTries?}`);
    assertKnownOptions(dynamicSampling, KNOWN, `${fn}: dynamicSampling`);
    check(typeof dynamicSampling.source === 'function', fn, () =>
      `'dynamicSampling.source' expected a function (count) => Problem[], got ${typeof dynamicSampling.source}`);
    maxTries = dynamicSampling.maxTries ?? 4;
    perTry = dynamicSampling.problemsPerTry ?? problems.length;
    assertNumber(maxTries, fn, 'dynamicSampling.maxTries', {integer: true, min: 1});
    assertNumber(perTry, fn, 'dynamicSampling.problemsPerTry', {integer: true, min: 1});
  }
  const rollouts: Rollout[] = [];
  const dispose = (): void => { for (const r of rollouts) disposeRollout(r); };
  try {
    rollouts.push(await rollout(problems, seed));
    if (dynamicSampling === undefined) {
      const r = rollouts[0]!;
      const tied = tiedGroups(r.scored.rewards, groupSize);
      return {
        ...summary(rollouts, tied),
        data: {
          promptTokens: r.prompts.tokens, promptMask: r.prompts.mask, completionTokens: r.completions.tokens,
          completionMask: r.completions.mask, oldLogProbs: r.completions.logProbs, rewards: r.scored.rewards,
        },
        keptFraction: 1, rounds: 1, rollouts, dispose,
      };
    }
    const target = problems.length;
    const picks: Array<[number, number]> = [];
    const allTied: boolean[] = [];
    for (let round = 0; ; round++) {
      const tied = tiedGroups(rollouts[round]!.scored.rewards, groupSize);
      allTied.push(...tied);
      tied.forEach((t, g) => { if (!t && picks.length < target) picks.push([round, g]); });
      if (picks.length >= target || round + 1 >= maxTries) break;
      const more = await dynamicSampling.source(perTry);
      check(Array.isArray(more) && more.length > 0, fn, () =>
        `'dynamicSampling.source' expected a non-empty array of problems, got ${Array.isArray(more) ? '[]' : String(more)}`);
      assertProblems(more, fn, 'dynamicSampling.source()');
      rollouts.push(await rollout(more, seed + (round + 1) * 1_000_003));
    }
    const data = picks.length === 0 ? null : gatherGroups(rollouts, picks, groupSize, tokenizer.padId);
    const stats = summary(rollouts, allTied);
    return {
      ...stats, data, keptFraction: picks.length / allTied.length, rounds: rollouts.length, rollouts,
      dispose: () => { dispose(); if (data) tf.dispose([data.promptTokens, data.promptMask, data.completionTokens, data.completionMask, data.oldLogProbs]); },
    };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** Metrics over every sampled completion of every round. */
function summary(rollouts: Rollout[], tied: boolean[]): Omit<TrainingBatch, 'data' | 'keptFraction' | 'rounds' | 'rollouts' | 'dispose'> {
  let samples = 0, rewardSum = 0, lengthSum = 0;
  const componentSums: Record<string, number> = {};
  for (const r of rollouts) {
    const n = r.scored.rewards.length;
    samples += n;
    rewardSum += r.scored.stats.mean * n;
    lengthSum += r.completions.lengths.reduce((a, b) => a + b, 0);
    for (const [name, c] of Object.entries(r.scored.components)) componentSums[name] = (componentSums[name] ?? 0) + c.mean * n;
  }
  const rewardComponents: Record<string, number> = {};
  for (const [name, s] of Object.entries(componentSums)) rewardComponents[name] = s / samples;
  return {
    reward: rewardSum / samples, rewardComponents, completionLength: lengthSum / samples, samples,
    zeroVarianceGroups: tied.filter((t) => t).length / tied.length,
  };
}

/** The rows of the picked groups, prompts left-padded and completions right-padded to common widths. */
function gatherGroups(rollouts: Rollout[], picks: Array<[number, number]>, groupSize: number, padId: number): TrainingTensors {
  const P = Math.max(...rollouts.map((r) => r.prompts.tokens.shape[1]));
  const C = Math.max(...rollouts.map((r) => r.completions.tokens.shape[1]));
  const rewards: number[] = [];
  const parts = tf.tidy(() => {
    const pt: tf.Tensor[] = [], pm: tf.Tensor[] = [], ct: tf.Tensor[] = [], cm: tf.Tensor[] = [], lp: tf.Tensor[] = [];
    for (const [ri, g] of picks) {
      const r = rollouts[ri]!;
      const rows = tf.range(g * groupSize, (g + 1) * groupSize, 1, 'int32');
      const dp = P - r.prompts.tokens.shape[1];
      const dc = C - r.completions.tokens.shape[1];
      pt.push(tf.pad(tf.gather(r.prompts.tokens, rows), [[0, 0], [dp, 0]], padId));
      pm.push(tf.pad(tf.gather(r.prompts.mask, rows), [[0, 0], [dp, 0]], 0));
      ct.push(tf.pad(tf.gather(r.completions.tokens, rows), [[0, 0], [0, dc]], padId));
      cm.push(tf.pad(tf.gather(r.completions.mask, rows), [[0, 0], [0, dc]], 0));
      lp.push(tf.pad(tf.gather(r.completions.logProbs, rows), [[0, 0], [0, dc]], 0));
      for (let i = 0; i < groupSize; i++) rewards.push(r.scored.rewards[g * groupSize + i]!);
    }
    return [tf.concat(pt, 0), tf.concat(pm, 0), tf.concat(ct, 0), tf.concat(cm, 0), tf.concat(lp, 0)] as tf.Tensor2D[];
  });
  return {
    promptTokens: parts[0]!, promptMask: parts[1]!, completionTokens: parts[2]!, completionMask: parts[3]!, oldLogProbs: parts[4]!,
    rewards: Float32Array.from(rewards),
  };
}

/**
 * The DeepSeek-R1 training pipeline as one resumable function (Node: checkpoints on disk).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {check} from '../math/assert.js';
import type {Tokenizer} from '../models/policy.js';
import {RewardModel} from '../models/reward_model.js';
import type {TransformerPolicy} from '../models/transformer_policy.js';
import {routeReward} from '../rewards/route_reward.js';
import type {RewardFn} from '../rewards/types.js';
import {loadCheckpointFiles, saveCheckpointFiles} from './checkpoint_files.js';
import type {Problem} from './collect_rollout.js';
import {evaluatePolicy} from './evaluate_policy.js';
import {grpoStep} from './grpo_step.js';
import {policySampler} from './policy_sampler.js';
import {rejectionSample, type RejectionAccept, type RejectionFilters} from './rejection_sample.js';
import {rewardModelReward, rewardModelStep, type PreferencePair} from './reward_model_step.js';
import {assertR1PipelineConfig} from './assert_r1_pipeline_config.js';
import {encodeStageBatch} from './r1_pipeline_batch.js';
import {sftStep} from './sft_step.js';

/** The stages of {@link runR1Pipeline}, in order. */
export const R1_STAGES = ['cold-start', 'reasoning-rl', 'rejection-sft', 'all-scenarios-rl', 'distillation'] as const;
/** A stage name. */
export type R1Stage = typeof R1_STAGES[number];

/** A prompt/completion pair for supervised fine-tuning. */
export interface SftExample {
  /** The prompt text (not trained on). */
  prompt: string;
  /** The target completion (trained on). */
  completion: string;
}

/** SFT settings of a stage. */
export interface R1SftSettings {
  /** SFT optimizer steps. */
  steps: number;
  /** Examples per step (cycled through the data in order). */
  batchSize: number;
  /** Adam learning rate. */
  learningRate: number;
}
/** GRPO settings of a stage. */
export interface R1RlSettings {
  /** GRPO steps. */
  steps: number;
  /** Prompts per step (cycled through the prompts in order). */
  promptsPerStep: number;
  /** Completions sampled per prompt (the GRPO group). */
  groupSize: number;
  /** Adam learning rate. */
  learningRate: number;
  /** KL penalty coefficient of `grpoStep`; default `0.04`. */
  beta?: number;
  /** Sampling temperature; default `1`. */
  temperature?: number;
}

/** Configuration of {@link runR1Pipeline}. Functions are not part of the configuration fingerprint. */
export interface R1PipelineConfig {
  /** Output folder: one checkpoint per stage and `pipeline.json` (progress, metrics, fingerprint). */
  outDir: string;
  /** Seed of every stage (sampling seeds derive from it). */
  seed: number;
  /** The tokenizer shared by every model (the student's vocabulary must match). */
  tokenizer: Tokenizer & {
    /** The tokenizer's construction options, saved in every checkpoint's metadata (`null` when absent). */
    options?: unknown;
  };
  /** Makes the base model (called for stage 1 and, with `rejection.from: 'base'`, for stage 3). */
  createBase: () => TransformerPolicy;
  /** Makes the distillation student (smaller); omit to skip stage 5. */
  createStudent?: () => TransformerPolicy;
  /** Most completion tokens and the stop token of every sampling. */
  sampling: {
    /** Most completion tokens per sample. */
    maxNewTokens: number;
    /** Token id that ends a completion; default `tokenizer.eosId`. */
    stopToken?: number;
  };
  /** Rule-based reward of reasoning prompts (accuracy + format + language consistency). */
  reasoningReward: RewardFn;
  /** Reasoning prompts for RL and rejection sampling, and a held-out set for the stage metrics. */
  reasoning: {
    /** Prompts of stage-2 RL, stage-3 and stage-5 rejection sampling and stage 4 (non-empty). */
    train: Problem[];
    /** Prompts of the `accuracy` metric of every stage (non-empty). */
    heldOut: Problem[];
  };
  /** Stage 1: long-CoT demonstrations. */
  coldStart: R1SftSettings & {
    /** The long-CoT demonstrations. */
    demonstrations: SftExample[];
  };
  /** Stage 2. */
  reasoningRl: R1RlSettings;
  /** Stage 3: rejection sampling from the stage-2 policy, then SFT of the base (default) or the checkpoint. */
  rejection: R1SftSettings & {
    /** Completions drawn per reasoning prompt. */
    samplesPerPrompt: number;
    /** Acceptance rule of {@link rejectionSample}. */
    accept: RejectionAccept;
    /** R1's filters (unreadable, mixed language, overlong); default none. */
    filters?: RejectionFilters;
    /** Most accepted samples kept per prompt; default no limit. */
    maxPerPrompt?: number;
    /** Non-reasoning SFT data mixed in (R1's writing / QA data). */
    extraData?: SftExample[];
    /** SFT a fresh base model (`'base'`, default, as R1 does) or continue from the stage-2 policy (`'checkpoint'`). */
    from?: 'base' | 'checkpoint';
  };
  /** Stage 4: general prompts scored by a reward model trained on preference pairs, mixed with reasoning prompts. */
  allScenarios: R1RlSettings & {
    /** General (non-reasoning) prompts, scored by the reward model (non-empty). */
    generalPrompts: string[];
    /** Preference pairs the reward model is trained on (non-empty). */
    preferences: PreferencePair[];
    /** Training of the reward model (`batchSize` pairs per step). */
    rewardModel: R1SftSettings;
    /** Held-out general prompts of the `generalReward` metric. */
    heldOutGeneral: string[];
  };
  /** Stage 5: sequence-level distillation (rejection sampling on the teacher, SFT of the student). */
  distillation?: R1SftSettings & {
    /** Teacher completions drawn per reasoning prompt. */
    samplesPerPrompt: number;
    /** Acceptance rule of the teacher's samples. */
    accept: RejectionAccept;
  };
  /** Called once per stage with its metrics (also when a stage is resumed from disk: `resumed: true`). */
  onStage?: (result: R1StageResult) => void;
  /** Called after every training step of a stage (a progress bar). */
  onProgress?: (stage: R1Stage, step: number, steps: number) => void;
}

/** Metrics of one stage. */
export interface R1StageResult {
  /** The stage. */
  name: R1Stage;
  /** Greedy held-out score of `reasoningReward` after the stage (the policy's; the student's for distillation). */
  accuracy: number;
  /** Mean reward-model score on the held-out general prompts (stages 4 and 5 only, else `null`). */
  generalReward: number | null;
  /** Wall time of the stage in seconds. */
  seconds: number;
  /** Stage-specific numbers (final losses, rejection statistics, ...). */
  details: Record<string, unknown>;
  /** Whether the result was read from a previous run's `pipeline.json`. */
  resumed: boolean;
}

/** What {@link runR1Pipeline} returns; the caller disposes the policies. */
export interface R1PipelineResult {
  /** One result per stage (resumed ones included), in order. */
  stages: R1StageResult[];
  /** The final R1 policy (after stage 4). */
  policy: TransformerPolicy;
  /** The distilled student, when stage 5 ran. */
  student?: TransformerPolicy;
}

const FN = 'runR1Pipeline';

/** FNV-1a 32-bit hash of the JSON of the configuration's data (functions and callbacks left out). */
function fingerprint(config: R1PipelineConfig): string {
  const {outDir: _o, tokenizer, createBase: _b, createStudent, reasoningReward: _r, onStage: _s, onProgress: _p, ...data} = config;
  const json = JSON.stringify({...data, tokenizerVocab: tokenizer.vocabSize, student: createStudent !== undefined});
  let h = 0x811c9dc5;
  for (let i = 0; i < json.length; i++) h = Math.imul(h ^ json.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * Runs DeepSeek-R1's pipeline (arXiv:2501.12948): 1. cold-start SFT on long-CoT demonstrations
 * (section 2.3.1); 2. reasoning-oriented RL, GRPO with rule-based rewards (2.3.2); 3. rejection
 * sampling from the stage-2 policy (correct, readable, single-language, not overlong) plus
 * non-reasoning data, SFT of the base model (2.3.3); 4. RL for all scenarios, GRPO on reasoning
 * prompts (rule-based reward) mixed with general prompts scored by a learned reward model through
 * `routeReward` (2.3.4); 5. distillation of the final policy into a smaller student by SFT on its
 * rejection-sampled outputs (2.4). A checkpoint is saved after each stage in `outDir/<stage>/` and the
 * progress in `outDir/pipeline.json`; re-running with the same folder and configuration resumes after
 * the last complete stage; a folder written by another configuration is an error.
 *
 * @param config see {@link R1PipelineConfig}.
 * @returns the stage results and the final policy (and student).
 * @throws before any stage runs on an unknown key in the configuration or one of its sections
 *   (`coldStart.learning_rate`), a setting of the wrong type or out of range (`steps` not an integer >= 0,
 *   `batchSize` / `promptsPerStep` / `samplesPerPrompt` not integers >= 1, `groupSize` < 2, a learning
 *   rate not > 0, a negative `beta` or `temperature`), a missing function, an empty or malformed prompt,
 *   example or preference list; later on a student whose vocabulary differs from the teacher's, or an
 *   `outDir` holding a run of another configuration.
 * @example
 * const tokenizer = charTokenizer({alphabet: '0123456789,ab', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
 * const sortProblem = (digits: string) => {
 *   const sorted = [...digits].sort().join('');
 *   return {prompt: digits, reference: sorted, demonstration: `<think>${[...sorted].join(',')}</think><answer>${sorted}</answer>`};
 * };
 * const train = ['21', '31', '32', '10', '43', '20'].map(sortProblem);
 * const model = (width: number) => () =>
 *   TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 16, layers: 1, width, heads: 2, seed: 0});
 * const sft = {steps: 20, batchSize: 6, learningRate: 1e-2};
 * const rl = {steps: 4, promptsPerStep: 2, groupSize: 4, learningRate: 1e-3};
 *
 * const {stages, policy, student} = await runR1Pipeline({
 *   outDir: 'r1-run', seed: 0, tokenizer, createBase: model(16), createStudent: model(8),
 *   sampling: {maxNewTokens: 11, stopToken: tokenizer.id('</answer>')},
 *   reasoningReward: gate(formatReward(), accuracyReward()),
 *   reasoning: {train, heldOut: ['41', '30'].map(sortProblem)},
 *   coldStart: {...sft, demonstrations: train.map((p) => ({prompt: p.prompt, completion: p.demonstration}))},
 *   reasoningRl: rl,
 *   rejection: {...sft, samplesPerPrompt: 4, accept: {minReward: 1}, filters: {unreadable: true},
 *     extraData: [{prompt: 'ab', completion: '<answer>ba</answer>'}]},
 *   allScenarios: {...rl, generalPrompts: ['a', 'b'], heldOutGeneral: ['ab'],
 *     preferences: [{prompt: 'a', chosen: 'aa', rejected: 'bb'}, {prompt: 'b', chosen: 'ab', rejected: 'ba'}],
 *     rewardModel: {steps: 10, batchSize: 2, learningRate: 1e-2}},
 *   distillation: {...sft, samplesPerPrompt: 4, accept: {minReward: 1}},
 *   onStage: (r) => console.log(r.name, r.accuracy, r.generalReward, r.seconds.toFixed(1)),
 * });
 * console.log(stages.length); // 5 (cold-start, reasoning-rl, rejection-sft, all-scenarios-rl, distillation)
 * policy.dispose();
 * student?.dispose();
 */
export async function runR1Pipeline(config: R1PipelineConfig): Promise<R1PipelineResult> {
  assertR1PipelineConfig(config);
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const {tokenizer, seed, sampling} = config;
  const id = fingerprint(config);
  const progressFile = path.join(config.outDir, 'pipeline.json');
  let progress: {fingerprint: string; stages: R1StageResult[]} = {fingerprint: id, stages: []};
  try {
    progress = JSON.parse(await fs.readFile(progressFile, 'utf8')) as typeof progress;
  } catch {
    // no previous run
  }
  check(progress.fingerprint === id, FN, () => `'outDir' ${config.outDir} holds a checkpoint from another configuration ` +
    `(fingerprint ${progress.fingerprint}, this configuration ${id}); use a new folder or delete it`);
  await fs.mkdir(config.outDir, {recursive: true});
  const stopToken = sampling.stopToken ?? tokenizer.eosId;
  const done = new Map(progress.stages.map((s) => [s.name, s]));
  const results: R1StageResult[] = [];
  const general = new Set(config.allScenarios.generalPrompts);
  const dirOf = (stage: R1Stage) => path.join(config.outDir, stage);
  const accuracyOf = async (p: TransformerPolicy) =>
    (await evaluatePolicy(p, tokenizer, config.reasoning.heldOut, config.reasoningReward, {maxNewTokens: sampling.maxNewTokens, stopToken})).score;
  let rewardModel: RewardModel | null = null;
  const generalRewardOf = async (p: TransformerPolicy): Promise<number | null> => {
    if (rewardModel === null) return null;
    const rm = rewardModelReward(rewardModel, tokenizer);
    const problems = config.allScenarios.heldOutGeneral.map((prompt) => ({prompt, reference: ''}));
    return (await evaluatePolicy(p, tokenizer, problems, rm, {maxNewTokens: sampling.maxNewTokens, stopToken})).score;
  };

  const sft = async (stage: R1Stage, policy: TransformerPolicy, data: SftExample[], s: R1SftSettings): Promise<number> => {
    check(data.length > 0, FN, () => `stage '${stage}' has no SFT data (rejection sampling accepted nothing?)`);
    const optimizer = tf.train.adam(s.learningRate);
    let loss = NaN;
    for (let step = 0; step < s.steps; step++) {
      const batch = encodeStageBatch(tokenizer, Array.from({length: s.batchSize}, (_, i) => data[(step * s.batchSize + i) % data.length]!),
          stopToken, policy.contextLength);
      ({loss} = await sftStep(policy, optimizer, batch));
      tf.dispose(Object.values(batch));
      config.onProgress?.(stage, step + 1, s.steps);
    }
    optimizer.dispose();
    return loss;
  };
  const grpo = async (stage: R1Stage, policy: TransformerPolicy, problems: Problem[], reward: RewardFn, s: R1RlSettings) => {
    const reference = policy.copy({trainable: false});
    const optimizer = tf.train.adam(s.learningRate);
    const rewards: number[] = [];
    for (let step = 0; step < s.steps; step++) {
      const batch = Array.from({length: s.promptsPerStep}, (_, i) => problems[(step * s.promptsPerStep + i) % problems.length]!);
      const m = await grpoStep({policy, reference, optimizer, tokenizer, reward}, batch, {
        groupSize: s.groupSize, maxNewTokens: sampling.maxNewTokens, stopToken, temperature: s.temperature ?? 1,
        seed: seed * 1_000_003 + R1_STAGES.indexOf(stage) * 10_007 + step, beta: s.beta ?? 0.04,
      });
      rewards.push(m.reward);
      config.onProgress?.(stage, step + 1, s.steps);
    }
    optimizer.dispose();
    reference.dispose();
    return {firstReward: rewards[0] ?? null, lastReward: rewards[rewards.length - 1] ?? null};
  };

  let policy: TransformerPolicy | null = null;
  let student: TransformerPolicy | undefined;
  const stages = R1_STAGES.filter((s) => s !== 'distillation' || config.createStudent !== undefined);
  const lastDone = stages.reduce((last, s, i) => (done.has(s) && last === i - 1 ? i : last), -1);
  try {
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      if (i <= lastDone) {
        const r = {...done.get(stage)!, resumed: true};
        results.push(r);
        config.onStage?.(r);
        continue;
      }
      if (policy === null && i > 0) {
        // Resume: the last complete stage's checkpoint (the teacher, for distillation).
        const from = stages[i - 1] === 'distillation' ? 'all-scenarios-rl' : stages[i - 1]!;
        policy = (await loadCheckpointFiles(dirOf(from))).policy;
      }
      const t0 = performance.now();
      const details: Record<string, unknown> = {};
      if (stage === 'cold-start') {
        policy = config.createBase();
        details.finalLoss = await sft(stage, policy, config.coldStart.demonstrations, config.coldStart);
      } else if (stage === 'reasoning-rl') {
        Object.assign(details, await grpo(stage, policy!, config.reasoning.train, config.reasoningReward, config.reasoningRl));
      } else if (stage === 'rejection-sft') {
        const r = config.rejection;
        const sampled = await rejectionSample(policySampler(policy!, tokenizer, {maxNewTokens: sampling.maxNewTokens, stopToken}),
            config.reasoning.train, config.reasoningReward,
            {samplesPerPrompt: r.samplesPerPrompt, accept: r.accept, filters: r.filters, maxPerPrompt: r.maxPerPrompt, seed});
        details.rejection = {samples: sampled.stats.samples, accepted: sampled.stats.accepted,
          acceptanceRate: sampled.stats.acceptanceRate, passAtK: sampled.stats.passAtK, removed: sampled.stats.removed,
          tokensKept: sampled.stats.tokensKept, promptsWithoutAccepted: sampled.stats.promptsWithoutAccepted.length};
        const data = [...sampled.accepted.map((a) => ({prompt: a.prompt, completion: a.completion})), ...(r.extraData ?? [])];
        if ((r.from ?? 'base') === 'base') {
          policy!.dispose();
          policy = config.createBase();
        }
        details.finalLoss = await sft(stage, policy!, data, r);
      } else if (stage === 'all-scenarios-rl') {
        const a = config.allScenarios;
        rewardModel = RewardModel.fromPolicy(policy!, {seed});
        const optimizer = tf.train.adam(a.rewardModel.learningRate);
        let rm = {loss: NaN, accuracy: NaN, meanGap: NaN};
        for (let step = 0; step < a.rewardModel.steps; step++) {
          const pairs = Array.from({length: a.rewardModel.batchSize}, (_, k) => a.preferences[(step * a.rewardModel.batchSize + k) % a.preferences.length]!);
          rm = await rewardModelStep({model: rewardModel, optimizer, tokenizer}, pairs);
        }
        optimizer.dispose();
        details.rewardModel = rm;
        // The same reward model's score of the policy before this stage: what the stage raised it from.
        details.generalRewardBefore = await generalRewardOf(policy!);
        const reward = routeReward({reasoning: config.reasoningReward, general: rewardModelReward(rewardModel, tokenizer)},
            (s) => (general.has(s.prompt) ? 'general' : 'reasoning'));
        const mixed: Problem[] = [];
        const n = Math.max(config.reasoning.train.length, a.generalPrompts.length);
        for (let k = 0; k < n; k++) {
          mixed.push(config.reasoning.train[k % config.reasoning.train.length]!, {prompt: a.generalPrompts[k % a.generalPrompts.length]!, reference: ''});
        }
        Object.assign(details, await grpo(stage, policy!, mixed, reward, a));
      } else {
        const d = config.distillation!;
        student = config.createStudent!();
        check(student.vocabSize === policy!.vocabSize, FN, () =>
          `the student's vocabulary size ${student!.vocabSize} differs from the teacher's ${policy!.vocabSize}; ` +
          'sequence-level distillation needs one shared tokenizer');
        const sampled = await rejectionSample(policySampler(policy!, tokenizer, {maxNewTokens: sampling.maxNewTokens, stopToken}),
            config.reasoning.train, config.reasoningReward, {samplesPerPrompt: d.samplesPerPrompt, accept: d.accept, seed: seed + 1});
        details.samples = sampled.stats.accepted;
        details.teacherParams = policy!.numParams();
        details.studentParams = student.numParams();
        details.finalLoss = await sft(stage, student, sampled.accepted.map((x) => ({prompt: x.prompt, completion: x.completion})), d);
      }
      const evaluated = stage === 'distillation' ? student! : policy!;
      const result: R1StageResult = {
        name: stage, accuracy: await accuracyOf(evaluated), generalReward: await generalRewardOf(evaluated),
        seconds: (performance.now() - t0) / 1000, details, resumed: false,
      };
      if (stage === 'distillation') details.teacherAccuracy = await accuracyOf(policy!);
      await saveCheckpointFiles(evaluated, dirOf(stage), {stage, fingerprint: id, tokenizer: tokenizer.options ?? null});
      progress.stages = [...results, result].map((r) => ({...r, resumed: false}));
      await fs.writeFile(progressFile, JSON.stringify(progress, null, 1));
      results.push(result);
      config.onStage?.(result);
    }
    if (policy === null) {
      const last = stages[stages.length - 1] === 'distillation' ? 'all-scenarios-rl' : stages[stages.length - 1]!;
      policy = (await loadCheckpointFiles(dirOf(last))).policy;
    }
    if (student === undefined && config.createStudent !== undefined) student = (await loadCheckpointFiles(dirOf('distillation'))).policy;
    return {stages: results, policy, ...(student ? {student} : {})};
  } catch (e) {
    policy?.dispose();
    student?.dispose();
    throw e;
  } finally {
    (rewardModel as RewardModel | null)?.dispose();
  }
}

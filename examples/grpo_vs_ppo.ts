/**
 * The experiment behind `npm run demo` and `npm run bench -- --rl`: a generated verifiable task,
 * cold-start SFT of a `TransformerPolicy`, then GRPO or PPO from that checkpoint with the same
 * prompts and sample budget. The entry point registers tfjs's gradients (see examples/demo.ts).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {TransformerPolicy} from '../src/models/transformer_policy.js';
import {ValueHead} from '../src/models/value_head.js';
import {accuracyReward} from '../src/rewards/accuracy_reward.js';
import {formatReward} from '../src/rewards/format_reward.js';
import {gate} from '../src/rewards/gate.js';
import {named} from '../src/rewards/named.js';
import type {RewardFn} from '../src/rewards/types.js';
import {weighted} from '../src/rewards/weighted.js';
import {evaluatePolicy} from '../src/train/evaluate_policy.js';
import {grpoStep, type RlStepMetrics} from '../src/train/grpo_step.js';
import {ppoStep} from '../src/train/ppo_step.js';
import {rlLoop, type StepRecord} from '../src/train/rl_loop.js';
import {encodeSftBatch, sftStep} from '../src/train/sft_step.js';
import {additionProblems, additionTokenizer, type AdditionProblem} from './tasks/addition_task.js';
import {sortingProblems} from './tasks/sorting_task.js';

/** Model sizes of the demo and the benchmark. */
export const MODELS = {
  tiny: {layers: 2, width: 32, heads: 4},
  small: {layers: 2, width: 64, heads: 4},
  base: {layers: 4, width: 128, heads: 8},
} as const;
export type ModelSize = keyof typeof MODELS;

/** Everything that defines a run (the demo's flags). */
export interface ExperimentConfig {
  seed: number; model: ModelSize; task: 'sort' | 'add'; digits?: number; demos: number;
  sftSteps: number; sftBatch: number; sftLr: number; steps: number; batchSize: number; groupSize: number; mu: number;
  lr: number; beta: number; temperature: number; formatWeight: number; critic: 'separate' | 'shared'; evalSize: number; evalEvery: number;
  /** Block linears as simulated FP8 GEMMs (`TransformerPolicy`'s `fp8`, docs/fp8.md); default off. */
  fp8?: boolean;
}

/** Initialises a tfjs backend: `cpu`, `wasm` (its .wasm files resolve from the package in Node) or `webgpu` (Dawn via the `webgpu` package). */
export async function useBackend(name: string): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (name === 'webgpu') {
    const {create, globals} = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as {navigator?: unknown}).navigator = {gpu: create([])};
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' could not be initialised`);
  await tf.ready();
}

/** The task of a run: data, tokenizer, rewards and the held-out evaluation. */
export interface Task {
  tokenizer: ReturnType<typeof additionTokenizer>;
  digits: number;
  heldOut: AdditionProblem[];
  demos: AdditionProblem[];
  /** Prompts of RL step i (1-based), the same for both methods. */
  problemsAt: (i: number) => AdditionProblem[];
  contextLength: number;
  maxNewTokens: number;
  stopToken: number;
  /** Format-gated accuracy (the held-out metric). */
  accuracy: RewardFn;
  /** The training reward: accuracy plus `formatWeight` times the format reward. */
  reward: RewardFn;
  evaluate: (policy: TransformerPolicy) => Promise<number>;
}

/** Generates the task of `config` (held-out prompts first, excluded from everything else). */
export function makeTask(config: ExperimentConfig): Task {
  const tokenizer = additionTokenizer();
  const digits = config.digits ?? (config.task === 'sort' ? 5 : 2);
  const generate = (count: number, seed: number, exclude?: ReadonlySet<string>): AdditionProblem[] =>
    config.task === 'sort' ? sortingProblems(count, {length: digits, seed, exclude}) : additionProblems(count, {digits, seed, exclude});
  const heldOut = generate(config.evalSize, config.seed * 1000 + 999);
  const exclude = new Set(heldOut.map((p) => p.prompt));
  const demos = generate(config.demos, config.seed * 1000 + 1, exclude);
  const promptLength = tokenizer.encode(heldOut[0]!.prompt).length;
  const maxNewTokens = tokenizer.encode(demos[0]!.demonstration).length + 4;
  const promptsPerStep = config.batchSize / config.groupSize;
  const stream = generate(config.steps * promptsPerStep, config.seed * 1000 + 2, exclude);
  const accuracy = named('accuracy', gate(formatReward(), accuracyReward()));
  // A small format bonus turns into unit-size advantages under GRPO's per-group std normalisation: weight 0 by default.
  const reward = weighted([[accuracy, 1], [named('format', formatReward()), config.formatWeight]]);
  // Completions end at '</answer>' (the demonstrations carry no end-of-sequence token).
  const stopToken = tokenizer.id('</answer>');
  return {
    tokenizer, digits, heldOut, demos, contextLength: promptLength + maxNewTokens, maxNewTokens, stopToken, accuracy, reward,
    problemsAt: (i) => stream.slice((i - 1) * promptsPerStep, i * promptsPerStep),
    evaluate: async (policy) => (await evaluatePolicy(policy, tokenizer, heldOut, accuracy, {maxNewTokens, stopToken})).score,
  };
}

/** Cold-start SFT on the demonstrations; `onStep(step, loss)` after each step. Returns the trained policy. */
export async function coldStart(
    task: Task, config: ExperimentConfig, onStep?: (step: number, loss: number) => void): Promise<TransformerPolicy> {
  const policy = TransformerPolicy.create({
    vocabSize: task.tokenizer.vocabSize, contextLength: task.contextLength, ...MODELS[config.model], seed: config.seed,
    fp8: config.fp8 === true,
  });
  const optimizer = tf.train.adam(config.sftLr);
  for (let s = 0; s < config.sftSteps; s++) {
    const pairs = Array.from({length: config.sftBatch}, (_, i) => task.demos[(s * config.sftBatch + i) % task.demos.length]!)
      .map((d) => ({prompt: d.prompt, completion: d.demonstration}));
    const batch = encodeSftBatch(task.tokenizer, pairs, {contextLength: task.contextLength});
    const {loss} = await sftStep(policy, optimizer, batch);
    tf.dispose(Object.values(batch));
    onStep?.(s + 1, loss);
  }
  optimizer.dispose();
  return policy;
}

export type Method = 'grpo' | 'ppo';
export type RlRecord = StepRecord<RlStepMetrics & {valueLoss?: number}>;

/** What {@link trainRl} measured. */
export interface RlResult {
  records: RlRecord[];
  /** Held-out accuracy after the last step. */
  accuracy: number;
  /** Mean seconds per step, the first (kernel warm-up) excluded. */
  secondsPerStep: number;
  /** Largest peak tensor bytes of a step. */
  peakBytes: number;
  /** Parameters updated by the optimizer (policy, and for PPO the critic). */
  trainableParams: number;
  /** Parameters held in memory (+ the frozen reference). */
  paramsInMemory: number;
}

/**
 * `config.steps` steps of GRPO or PPO on `policy` (trained in place; the caller disposes it), with a
 * frozen reference copy and, for PPO, a critic (separate trunk or shared). Evaluates every
 * `config.evalEvery` steps.
 */
export async function trainRl(
    method: Method, policy: TransformerPolicy, task: Task, config: ExperimentConfig, startAccuracy: number,
    onStep?: (record: RlRecord, accuracy: number) => void): Promise<RlResult> {
  const reference = policy.copy({trainable: false});
  const critic = method === 'ppo'
    ? {trunk: config.critic === 'shared' ? policy : policy.copy({trainable: true}), head: new ValueHead(policy.config.width, {seed: config.seed, initStd: 0})}
    : undefined;
  const optimizer = tf.train.adam(config.lr);
  const {tokenizer, reward} = task;
  const options = (i: number) => ({
    groupSize: config.groupSize, maxNewTokens: task.maxNewTokens, temperature: config.temperature, stopToken: task.stopToken,
    seed: config.seed * 100_000 + i, mu: config.mu, beta: config.beta,
  });
  let accuracy = startAccuracy;
  try {
    const records = await rlLoop<RlStepMetrics & {valueLoss?: number}>({
      steps: config.steps,
      evalEvery: config.evalEvery,
      step: (i) => method === 'grpo'
        ? grpoStep({policy, reference, optimizer, tokenizer, reward}, task.problemsAt(i), options(i))
        : ppoStep({policy, reference, critic: critic!, optimizer, tokenizer, reward}, task.problemsAt(i), options(i)),
      evaluate: async () => (accuracy = await task.evaluate(policy)),
      onStep: (r) => onStep?.(r, accuracy),
    });
    const trainable = policy.numParams() + (critic ? (critic.trunk === policy ? 0 : critic.trunk.numParams()) + critic.head.hiddenSize + 1 : 0);
    const timed = records.slice(1);
    return {
      records, accuracy,
      secondsPerStep: mean((timed.length > 0 ? timed : records).map((r) => r.seconds)),
      peakBytes: Math.max(0, ...records.map((r) => r.peakBytes)),
      trainableParams: trainable, paramsInMemory: trainable + reference.numParams(),
    };
  } finally {
    optimizer.dispose();
    if (critic) { critic.head.dispose(); if (critic.trunk !== policy) critic.trunk.dispose(); }
    reference.dispose();
  }
}

export const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

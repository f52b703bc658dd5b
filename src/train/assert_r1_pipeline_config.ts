/**
 * Up-front checks of an {@link R1PipelineConfig}: a pipeline runs for minutes to hours, so a typo in
 * a stage's settings (`learning_rate`, `groupsize`) or a value out of range must fail before stage 1,
 * not when its stage comes.
 * @module
 */
import {assertKnownInputs, assertNumber, assertOneOf, check} from '../math/assert.js';
import {assertProblems, describeValue} from './assert_step_inputs.js';
import type {R1PipelineConfig} from './r1_pipeline.js';

const FN = 'runR1Pipeline';
const TOP = ['outDir', 'seed', 'tokenizer', 'createBase', 'createStudent', 'sampling', 'reasoningReward', 'reasoning',
  'coldStart', 'reasoningRl', 'rejection', 'allScenarios', 'distillation', 'onStage', 'onProgress'];
const SFT = ['steps', 'batchSize', 'learningRate'];
const RL = ['steps', 'promptsPerStep', 'groupSize', 'learningRate', 'beta', 'temperature'];

/** An object whose keys are all in `known`: `runR1Pipeline: unknown key of 'coldStart' 'lr'; ...`. */
function section(value: unknown, known: readonly string[], name: string): Record<string, unknown> {
  assertKnownInputs(value, known, FN, name);
  return value as Record<string, unknown>;
}

function sftSettings(s: Record<string, unknown>, name: string): void {
  assertNumber(s.steps, FN, `${name}.steps`, {integer: true, min: 0});
  assertNumber(s.batchSize, FN, `${name}.batchSize`, {integer: true, min: 1});
  assertNumber(s.learningRate, FN, `${name}.learningRate`, {min: 0, minExclusive: true});
}

function rlSettings(s: Record<string, unknown>, name: string): void {
  assertNumber(s.steps, FN, `${name}.steps`, {integer: true, min: 0});
  assertNumber(s.promptsPerStep, FN, `${name}.promptsPerStep`, {integer: true, min: 1});
  assertNumber(s.groupSize, FN, `${name}.groupSize`, {integer: true, min: 2});
  assertNumber(s.learningRate, FN, `${name}.learningRate`, {min: 0, minExclusive: true});
  if (s.beta !== undefined) assertNumber(s.beta, FN, `${name}.beta`, {min: 0});
  if (s.temperature !== undefined) assertNumber(s.temperature, FN, `${name}.temperature`, {min: 0});
}

function fnOption(value: unknown, name: string, optional: boolean): void {
  if (optional && value === undefined) return;
  check(typeof value === 'function', FN, () => `'${name}' expected a function, got ${describeValue(value)}`);
}

function sftExamples(value: unknown, name: string, allowEmpty: boolean): void {
  check(Array.isArray(value) && (allowEmpty || value.length > 0), FN, () =>
    `'${name}' expected ${allowEmpty ? 'an array' : 'at least one example'} {prompt, completion}, got ${
      Array.isArray(value) ? 'an empty array' : describeValue(value)}`);
  value.forEach((e: unknown, i) => {
    const x = e as {prompt?: unknown; completion?: unknown} | null;
    check(x !== null && typeof x === 'object' && typeof x.prompt === 'string' && typeof x.completion === 'string', FN, () =>
      `'${name}[${i}]' expected {prompt: string, completion: string}, got ${describeValue(e)}`);
  });
}

function strings(value: unknown, name: string): void {
  check(Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === 'string'), FN, () =>
    `'${name}' expected a non-empty array of strings, got ${describeValue(value)}`);
}

function acceptRule(value: unknown, name: string): void {
  const a = section(value, ['minReward', 'bestOf'], name);
  check(a.minReward !== undefined || a.bestOf !== undefined, FN, () => `'${name}' expected {minReward: number} or {bestOf: k}, got neither`);
}

/**
 * @internal Checks every section of the configuration (keys, types, ranges) before any stage runs;
 * the accept rules and filters get their full checks from `rejectionSample` (its key checks here).
 */
export function assertR1PipelineConfig(config: R1PipelineConfig): void {
  const c = section(config, TOP, 'config');
  check(typeof c.outDir === 'string' && c.outDir.length > 0, FN, () => `'outDir' expected a folder path, got ${describeValue(c.outDir)}`);
  assertNumber(c.seed, FN, 'seed', {integer: true});
  const tok = c.tokenizer as {encode?: unknown; vocabSize?: unknown} | null | undefined;
  check(tok !== null && typeof tok === 'object' && typeof tok.encode === 'function', FN, () =>
    `'tokenizer' expected a Tokenizer (encode, decode, vocabSize, padId, eosId), got ${describeValue(tok)}`);
  fnOption(c.createBase, 'createBase', false);
  fnOption(c.createStudent, 'createStudent', true);
  fnOption(c.reasoningReward, 'reasoningReward', false);
  fnOption(c.onStage, 'onStage', true);
  fnOption(c.onProgress, 'onProgress', true);
  const sampling = section(c.sampling, ['maxNewTokens', 'stopToken'], 'sampling');
  assertNumber(sampling.maxNewTokens, FN, 'sampling.maxNewTokens', {integer: true, min: 1});
  if (sampling.stopToken !== undefined) assertNumber(sampling.stopToken, FN, 'sampling.stopToken', {integer: true, min: 0});
  const reasoning = section(c.reasoning, ['train', 'heldOut'], 'reasoning');
  check(Array.isArray(reasoning.train) && reasoning.train.length > 0 && Array.isArray(reasoning.heldOut) && reasoning.heldOut.length > 0,
      FN, () => `'reasoning' expected non-empty 'train' and 'heldOut' prompt lists`);
  assertProblems(reasoning.train, FN, 'reasoning.train');
  assertProblems(reasoning.heldOut, FN, 'reasoning.heldOut');
  const coldStart = section(c.coldStart, [...SFT, 'demonstrations'], 'coldStart');
  sftSettings(coldStart, 'coldStart');
  check(Array.isArray(coldStart.demonstrations) && coldStart.demonstrations.length > 0, FN, () =>
    `'coldStart.demonstrations' expected at least one example`);
  sftExamples(coldStart.demonstrations, 'coldStart.demonstrations', false);
  rlSettings(section(c.reasoningRl, RL, 'reasoningRl'), 'reasoningRl');
  const rejection = section(c.rejection, [...SFT, 'samplesPerPrompt', 'accept', 'filters', 'maxPerPrompt', 'extraData', 'from'], 'rejection');
  sftSettings(rejection, 'rejection');
  assertNumber(rejection.samplesPerPrompt, FN, 'rejection.samplesPerPrompt', {integer: true, min: 1});
  acceptRule(rejection.accept, 'rejection.accept');
  if (rejection.filters !== undefined) section(rejection.filters, ['unreadable', 'mixedLanguage', 'overlong'], 'rejection.filters');
  if (rejection.maxPerPrompt !== undefined) assertNumber(rejection.maxPerPrompt, FN, 'rejection.maxPerPrompt', {integer: true, min: 1});
  if (rejection.extraData !== undefined) sftExamples(rejection.extraData, 'rejection.extraData', true);
  if (rejection.from !== undefined) assertOneOf(rejection.from, ['base', 'checkpoint'], FN, 'rejection.from');
  const all = section(c.allScenarios, [...RL, 'generalPrompts', 'preferences', 'rewardModel', 'heldOutGeneral'], 'allScenarios');
  rlSettings(all, 'allScenarios');
  check(Array.isArray(all.generalPrompts) && all.generalPrompts.length > 0 && Array.isArray(all.preferences) && all.preferences.length > 0,
      FN, () => `'allScenarios' expected non-empty 'generalPrompts' and 'preferences'`);
  strings(all.generalPrompts, 'allScenarios.generalPrompts');
  strings(all.heldOutGeneral, 'allScenarios.heldOutGeneral');
  (all.preferences as unknown[]).forEach((p, i) => {
    const q = p as {prompt?: unknown; chosen?: unknown; rejected?: unknown} | null;
    check(q !== null && typeof q === 'object' && typeof q.prompt === 'string' && typeof q.chosen === 'string' &&
        typeof q.rejected === 'string', FN, () =>
      `'allScenarios.preferences[${i}]' expected {prompt: string, chosen: string, rejected: string}, got ${describeValue(p)}`);
  });
  sftSettings(section(all.rewardModel, SFT, 'allScenarios.rewardModel'), 'allScenarios.rewardModel');
  if (c.distillation !== undefined) {
    const d = section(c.distillation, [...SFT, 'samplesPerPrompt', 'accept'], 'distillation');
    sftSettings(d, 'distillation');
    assertNumber(d.samplesPerPrompt, FN, 'distillation.samplesPerPrompt', {integer: true, min: 1});
    acceptRule(d.accept, 'distillation.accept');
  }
}

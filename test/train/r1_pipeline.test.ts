import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import {mkdtemp, readFile, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {encodeStageBatch} from '../../src/train/r1_pipeline_batch.js';
import {runR1Pipeline, R1_STAGES, type R1PipelineConfig, type R1StageResult} from '../../src/train/r1_pipeline.js';

const tokenizer = charTokenizer({alphabet: '0123456789,ab', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
const sortProblem = (digits: string) => {
  const sorted = [...digits].sort().join('');
  return {prompt: digits, reference: sorted, demonstration: `<think>${[...sorted].join(',')}</think><answer>${sorted}</answer>`};
};
const train = ['21', '31', '32', '10', '43', '20'].map(sortProblem);
const heldOut = ['41', '30'].map(sortProblem);

function config(outDir: string, overrides: Partial<R1PipelineConfig> = {}): R1PipelineConfig {
  const model = (width: number, seed: number) => () =>
    TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 16, layers: 1, width, heads: 2, seed});
  const sft = {steps: 6, batchSize: 6, learningRate: 1e-2};
  const rl = {steps: 2, promptsPerStep: 2, groupSize: 2, learningRate: 1e-3};
  return {
    outDir, seed: 1, tokenizer, createBase: model(16, 1), createStudent: model(8, 2),
    sampling: {maxNewTokens: 11, stopToken: tokenizer.id('</answer>')},
    reasoningReward: gate(formatReward(), accuracyReward()),
    reasoning: {train, heldOut},
    coldStart: {...sft, demonstrations: train.map((p) => ({prompt: p.prompt, completion: p.demonstration}))},
    reasoningRl: rl,
    rejection: {...sft, samplesPerPrompt: 2, accept: {minReward: 0}, extraData: [{prompt: 'ab', completion: '<answer>ba</answer>'}]},
    allScenarios: {
      ...rl, generalPrompts: ['a', 'b'], heldOutGeneral: ['ab'], rewardModel: {steps: 2, batchSize: 2, learningRate: 1e-2},
      preferences: [{prompt: 'a', chosen: 'aa', rejected: 'bb'}, {prompt: 'b', chosen: 'ab', rejected: 'ba'}],
    },
    distillation: {...sft, samplesPerPrompt: 2, accept: {minReward: 0}},
    ...overrides,
  };
}

describe('encodeStageBatch', () => {
  it('ends every SFT completion with the stop token exactly once (EOS-stripped samples, extra data without it)', async () => {
    const before = tf.memory().numTensors;
    const stop = tokenizer.id('</answer>');
    const batch = encodeStageBatch(tokenizer, [{prompt: '21', completion: '<answer>12</answer>'}, {prompt: 'ab', completion: 'ba'}], stop, 16);
    const tokens = (await batch.completionTokens.array()) as number[][];
    const mask = (await batch.completionMask.array()) as number[][];
    expect(tokens[0]).toEqual(tokenizer.encode('<answer>12</answer>')); // not doubled
    expect(tokens[1]!.slice(0, 3)).toEqual([...tokenizer.encode('ba'), stop]); // appended, and scored
    expect(mask[1]).toEqual([1, 1, 1, 0]);
    const eos = encodeStageBatch(tokenizer, [{prompt: '21', completion: '12'}], tokenizer.eosId, 16);
    expect(await eos.completionTokens.array()).toEqual([[...tokenizer.encode('12'), tokenizer.eosId]]);
    tf.dispose([...Object.values(batch), ...Object.values(eos)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('runR1Pipeline', () => {
  it('runs the five stages with a checkpoint each, resumes from disk, and rejects another configuration', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'r1-'));
    try {
      const seen: R1StageResult[] = [];
      const before = tf.memory().numTensors;
      const first = await runR1Pipeline(config(dir, {onStage: (r) => seen.push(r)}));
      expect(first.stages.map((s) => s.name)).toEqual([...R1_STAGES]);
      expect(seen.map((s) => s.resumed)).toEqual([false, false, false, false, false]);
      for (const s of R1_STAGES) expect((await stat(join(dir, s, 'model.json'))).isFile()).toBe(true);
      const rejection = first.stages[2]!.details.rejection as {samples: number; accepted: number};
      expect(rejection.samples).toBe(12);
      expect(first.stages[3]!.generalReward).not.toBeNull(); // the reward model scores the general prompts
      expect(first.stages[0]!.generalReward).toBeNull();
      const distill = first.stages[4]!.details as {teacherParams: number; studentParams: number};
      expect(distill.studentParams).toBeLessThan(distill.teacherParams);
      expect(first.student!.numParams()).toBe(distill.studentParams);
      first.stages.forEach((s) => expect(s.accuracy).toBeGreaterThanOrEqual(0));
      first.policy.dispose();
      first.student!.dispose();
      expect(tf.memory().numTensors).toBe(before);

      // Re-run: everything is read back, nothing retrained.
      const again = await runR1Pipeline(config(dir));
      expect(again.stages.map((s) => s.resumed)).toEqual([true, true, true, true, true]);
      expect(again.stages.map((s) => s.accuracy)).toEqual(first.stages.map((s) => s.accuracy));
      again.policy.dispose();
      again.student!.dispose();

      // A stage deleted from the progress file is run again from the previous checkpoint.
      const progress = JSON.parse(await readFile(join(dir, 'pipeline.json'), 'utf8')) as {stages: unknown[]};
      const {writeFile} = await import('node:fs/promises');
      await writeFile(join(dir, 'pipeline.json'), JSON.stringify({...progress, stages: progress.stages.slice(0, 4)}));
      const partial = await runR1Pipeline(config(dir));
      expect(partial.stages.map((s) => s.resumed)).toEqual([true, true, true, true, false]);
      partial.policy.dispose();
      partial.student!.dispose();

      await expect(runR1Pipeline(config(dir, {seed: 2}))).rejects.toThrow(
          /^runR1Pipeline: 'outDir' .* holds a checkpoint from another configuration/);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
  it('checks the whole configuration before stage 1 (keys, types, ranges of every section)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'r1-'));
    const c = config(dir);
    const cases: Array<[Partial<R1PipelineConfig>, string]> = [
      [{seeds: 1} as never, "runR1Pipeline: unknown key of 'config' 'seeds'; expected one of 'outDir', 'seed', 'tokenizer', " +
        "'createBase', 'createStudent', 'sampling', 'reasoningReward', 'reasoning', 'coldStart', 'reasoningRl', 'rejection', " +
        "'allScenarios', 'distillation', 'onStage', 'onProgress'; did you mean 'seed'?"],
      [{seed: 0.5}, "runR1Pipeline: 'seed' expected an integer, got 0.5"],
      [{outDir: ''}, "runR1Pipeline: 'outDir' expected a folder path, got \"\""],
      [{createBase: undefined as never}, "runR1Pipeline: 'createBase' expected a function, got undefined"],
      [{onStage: 1 as never}, "runR1Pipeline: 'onStage' expected a function, got number 1"],
      [{sampling: {maxNewTokens: 0}}, "runR1Pipeline: 'sampling.maxNewTokens' expected >= 1, got 0"],
      [{sampling: {maxNewTokens: 11, stop_token: 3} as never},
        "runR1Pipeline: unknown key of 'sampling' 'stop_token'; expected one of 'maxNewTokens', 'stopToken'; did you mean 'stopToken'?"],
      [{reasoning: {train: [{prompt: '21'}] as never, heldOut}},
        "runR1Pipeline: 'reasoning.train[0]' expected {prompt: string, reference: string}, got an object {prompt}"],
      [{coldStart: {...c.coldStart, learning_rate: 1} as never},
        "runR1Pipeline: unknown key of 'coldStart' 'learning_rate'; expected one of 'steps', 'batchSize', 'learningRate', " +
        "'demonstrations'; did you mean 'learningRate'?"],
      [{coldStart: {...c.coldStart, steps: -1}}, "runR1Pipeline: 'coldStart.steps' expected >= 0, got -1"],
      [{coldStart: {...c.coldStart, batchSize: 1.5}}, "runR1Pipeline: 'coldStart.batchSize' expected an integer, got 1.5"],
      [{coldStart: {...c.coldStart, learningRate: NaN}}, "runR1Pipeline: 'coldStart.learningRate' expected a finite number, got NaN"],
      [{coldStart: {...c.coldStart, demonstrations: [{prompt: 'a'}] as never}},
        "runR1Pipeline: 'coldStart.demonstrations[0]' expected {prompt: string, completion: string}, got an object {prompt}"],
      [{reasoningRl: {...c.reasoningRl, groupSize: 1}}, "runR1Pipeline: 'reasoningRl.groupSize' expected >= 2, got 1"],
      [{reasoningRl: {...c.reasoningRl, beta: -0.1}}, "runR1Pipeline: 'reasoningRl.beta' expected >= 0, got -0.1"],
      [{reasoningRl: {...c.reasoningRl, learningRate: 0}}, "runR1Pipeline: 'reasoningRl.learningRate' expected > 0, got 0"],
      [{rejection: {...c.rejection, samplesPerPrompt: 0}}, "runR1Pipeline: 'rejection.samplesPerPrompt' expected >= 1, got 0"],
      [{rejection: {...c.rejection, accept: {min_reward: 1}} as never},
        "runR1Pipeline: unknown key of 'rejection.accept' 'min_reward'; expected one of 'minReward', 'bestOf'; did you mean 'minReward'?"],
      [{rejection: {...c.rejection, accept: {}}}, "runR1Pipeline: 'rejection.accept' expected {minReward: number} or {bestOf: k}, got neither"],
      [{rejection: {...c.rejection, filters: {overLong: {maxTokens: 4}}} as never},
        "runR1Pipeline: unknown key of 'rejection.filters' 'overLong'; expected one of 'unreadable', 'mixedLanguage', 'overlong'; did you mean 'overlong'?"],
      [{rejection: {...c.rejection, from: 'start'} as never},
        "runR1Pipeline: 'rejection.from' expected one of 'base', 'checkpoint', got \"start\""],
      [{allScenarios: {...c.allScenarios, generalPrompts: [1]} as never},
        "runR1Pipeline: 'allScenarios.generalPrompts' expected a non-empty array of strings, got an array of length 1"],
      [{allScenarios: {...c.allScenarios, preferences: [{prompt: 'a', chosen: 'aa'}]} as never},
        "runR1Pipeline: 'allScenarios.preferences[0]' expected {prompt: string, chosen: string, rejected: string}, got an object {prompt, chosen}"],
      [{allScenarios: {...c.allScenarios, rewardModel: {steps: 2, batchSize: 0, learningRate: 1e-2}}},
        "runR1Pipeline: 'allScenarios.rewardModel.batchSize' expected >= 1, got 0"],
      [{distillation: {...c.distillation!, samplesPerPrompt: 2.5}}, "runR1Pipeline: 'distillation.samplesPerPrompt' expected an integer, got 2.5"],
    ];
    try {
      for (const [overrides, message] of cases) {
        await expect(runR1Pipeline(config(dir, overrides))).rejects.toThrow(message);
      }
      await expect(stat(join(dir, 'pipeline.json'))).rejects.toThrow(); // nothing ran
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
  it('names bad input: empty prompts, a student with another vocabulary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'r1-'));
    try {
      await expect(runR1Pipeline(config(dir, {reasoning: {train: [], heldOut}}))).rejects.toThrow(
          "runR1Pipeline: 'reasoning' expected non-empty 'train' and 'heldOut' prompt lists");
      const other = () => TransformerPolicy.create({vocabSize: tokenizer.vocabSize + 3, contextLength: 16, layers: 1, width: 8, heads: 2});
      const fast = {steps: 1, batchSize: 2, learningRate: 1e-3};
      await expect(runR1Pipeline(config(dir, {createStudent: other, coldStart: {...config(dir).coldStart, ...fast},
        reasoningRl: {...config(dir).reasoningRl, steps: 1}}))).rejects.toThrow(
          /the student's vocabulary size \d+ differs from the teacher's \d+; sequence-level distillation needs one shared tokenizer/);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
});

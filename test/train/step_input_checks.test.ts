import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {additionProblems, additionTokenizer} from '../../examples/tasks/addition_task.js';
import {configureValidation} from '../../src/math/assert.js';
import {RewardModel} from '../../src/models/reward_model.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {ValueHead} from '../../src/models/value_head.js';
import {collectRollout} from '../../src/train/collect_rollout.js';
import {evaluatePolicy} from '../../src/train/evaluate_policy.js';
import {grpoStep} from '../../src/train/grpo_step.js';
import {ppoStep} from '../../src/train/ppo_step.js';
import {rejectionSample} from '../../src/train/rejection_sample.js';
import {rewardModelStep} from '../../src/train/reward_model_step.js';
import {rlLoop} from '../../src/train/rl_loop.js';
import {encodeSftBatch, type SftBatch, sftStep} from '../../src/train/sft_step.js';

// Bad input to the training-level API: each case pins the full message and checks that the failed
// call leaves no tensor behind.
const tok = additionTokenizer();
const problems = additionProblems(2, {seed: 1});
const tiny = (): TransformerPolicy =>
  TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 26, layers: 1, width: 16, heads: 2, seed: 0});
const zero = (s: readonly unknown[]): number[] => s.map(() => 0);
const sampler = (ps: readonly string[]): string[] => ps.map(() => 'x');

async function rejectsWith(f: () => Promise<unknown> | unknown, message: string): Promise<void> {
  const before = tf.memory().numTensors;
  await expect((async () => f())()).rejects.toThrow(message);
  expect(tf.memory().numTensors).toBe(before);
}

describe('training-level input checks', () => {
  let policy: TransformerPolicy, optimizer: tf.Optimizer, head: ValueHead, rm: RewardModel;
  let batch: SftBatch, wide: tf.Tensor2D, twos: tf.Tensor2D;
  let ctx: Parameters<typeof grpoStep>[0], pctx: Parameters<typeof ppoStep>[0], rctx: Parameters<typeof rewardModelStep>[0];
  const o = {groupSize: 2, maxNewTokens: 4, beta: 0};
  beforeAll(() => {
    policy = tiny();
    optimizer = tf.train.adam(1e-3);
    head = new ValueHead(16);
    rm = new RewardModel(tiny(), new ValueHead(16));
    ctx = {policy, optimizer, tokenizer: tok, reward: zero};
    pctx = {policy, optimizer, tokenizer: tok, reward: zero, critic: {trunk: policy, head}};
    rctx = {model: rm, optimizer, tokenizer: tok};
    batch = encodeSftBatch(tok, [{prompt: '1+2', completion: '3'}], {contextLength: 26});
    wide = tf.zeros([2, 3], 'int32');
    twos = tf.fill(batch.completionMask.shape, 2);
  });
  afterAll(() => {
    tf.dispose([batch.promptTokens, batch.promptMask, batch.completionTokens, batch.completionMask, wide, twos]);
    policy.dispose(); optimizer.dispose(); head.dispose(); rm.dispose();
  });

  it('grpoStep', async () => {
    await rejectsWith(() => grpoStep(ctx, problems, {...o, maxNewTokens: -1}), // grpo maxNewTokens -1
        "grpoStep: 'maxNewTokens' expected >= 1, got -1");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, maxNewTokens: 1.5}), // grpo maxNewTokens 1.5
        "grpoStep: 'maxNewTokens' expected an integer, got 1.5");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, temperature: NaN}), // grpo temperature NaN
        "grpoStep: 'temperature' expected a finite number, got NaN");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, temperature: -1}), // grpo temperature -1
        "grpoStep: 'temperature' expected >= 0, got -1");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, topP: 2}), // grpo topP 2
        "grpoStep: 'topP' expected <= 1, got 2");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, topK: -1}), // grpo topK -1
        "grpoStep: 'topK' expected >= 0, got -1");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, seed: 0.5}), // grpo seed 0.5
        "grpoStep: 'seed' expected an integer, got 0.5");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, seed: NaN}), // grpo seed NaN
        "grpoStep: 'seed' expected a finite number, got NaN");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, stopToken: 99}), // grpo stopToken 99
        "grpoStep: 'stopToken' expected <= 18, got 99");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, beta: NaN}), // grpo beta NaN
        "grpoStep: 'beta' expected a finite number, got NaN");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, beta: -1}), // grpo beta -1
        "grpoStep: 'beta' expected >= 0, got -1");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, mu: 0}), // grpo mu 0
        "grpoStep: 'mu' expected >= 1, got 0");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, maxGradNorm: NaN}), // grpo maxGradNorm NaN
        "grpoStep: 'maxGradNorm' expected a number > 0 (Infinity: no clip), got NaN");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, loss: {clip_low: 0.1} as never}), // grpo loss unknown
        "grpoStep: in 'loss': grpoLossWithStats: unknown option 'clip_low'; expected one of 'beta', 'klEstimator', 'clipLow', 'clipHigh', 'dualClip', 'ratioLevel', 'aggregation', 'maxLength', 'normalizer', 'rolloutLogProbs', 'tisCap', 'implementation'; did you mean 'clipLow'?");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, loss: {clipLow: -1}}), // grpo loss clipLow -1
        "grpoStep: in 'loss': grpoLossWithStats: 'clipLow' expected >= 0, got -1");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, advantages: {foo: 1} as never}), // grpo advantages unknown
        "grpoStep: in 'advantages': groupAdvantages: unknown option 'foo'; expected one of 'groupSize', 'groupIds', 'scale', 'std', 'epsilon'");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, advantages: {epsilon: NaN} as never}), // grpo advantages epsilon NaN
        "grpoStep: in 'advantages': groupAdvantages: 'epsilon' expected a finite number, got NaN");
    await rejectsWith(() => grpoStep(ctx, [], o), // grpo problems []
        "grpoStep: 'problems' expected at least one problem {prompt, reference}, got an empty array");
    await rejectsWith(() => grpoStep(ctx, ['1+2'] as never, o), // grpo problems strings
        "grpoStep: 'problems[0]' expected {prompt: string, reference: string}, got \"1+2\"");
    await rejectsWith(() => grpoStep(ctx, [{prompt: '1+2'}] as never, o), // grpo problems no ref
        "grpoStep: 'problems[0]' expected {prompt: string, reference: string}, got an object {prompt}");
    await rejectsWith(() => grpoStep(ctx, {prompt: 'a'} as never, o), // grpo problems not array
        "grpoStep: 'problems' expected at least one problem {prompt, reference}, got an object {prompt}");
    await rejectsWith(() => grpoStep({...ctx, reward: () => [1]}, problems, o), // grpo reward wrong count
        "grpoStep: 'reward' expected to return 4 values (one per sample), got 1");
    await rejectsWith(() => grpoStep({...ctx, reward: (s) => s.map(() => NaN)}, problems, o), // grpo reward NaN
        "grpoStep: 'reward' expected finite numbers, got NaN at index 0");
    await rejectsWith(() => grpoStep({...ctx, reward: 3 as never}, problems, o), // grpo reward not fn
        "grpoStep: 'reward' expected a reward function (samples) => number[], got number 3");
    await rejectsWith(() => grpoStep({...ctx, policy: {vocabSize: 19, contextLength: 26, variables: () => []} as never}, problems, o), // grpo policy no apply
        "grpoStep: 'policy' expected a Policy (apply, variables, vocabSize, contextLength), got an object {vocabSize, contextLength, variables} with no apply method");
    await rejectsWith(() => grpoStep({...ctx, policy: undefined as never}, problems, o), // grpo policy undefined
        "grpoStep: 'policy' expected a Policy (apply, variables, vocabSize, contextLength), got undefined");
    await rejectsWith(() => grpoStep({...ctx, optimizer: undefined as never}, problems, o), // grpo optimizer missing
        "grpoStep: 'optimizer' expected a tf.Optimizer (e.g. tf.train.adam(1e-3)), got undefined");
    await rejectsWith(() => grpoStep({...ctx, optimizer: {} as never}, problems, o), // grpo optimizer bad
        "grpoStep: 'optimizer' expected a tf.Optimizer (e.g. tf.train.adam(1e-3)), got an object {}");
    await rejectsWith(() => grpoStep(ctx, problems, undefined as never), // grpo options undefined
        "grpoStep: 'options' expected {groupSize, maxNewTokens, ...}, got undefined");
    await rejectsWith(() => grpoStep(ctx, problems, {maxNewTokens: 4, beta: 0} as never), // grpo groupSize missing
        "grpoStep: 'groupSize' expected a finite number, got undefined");
    await rejectsWith(() => grpoStep(ctx, problems, {groupSize: 2, beta: 0} as never), // grpo maxNewTokens missing
        "grpoStep: 'maxNewTokens' expected a finite number, got undefined");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, dynamicSampling: {source: () => problems, maxTry: 2} as never}), // grpo ds unknown
        "grpoStep: dynamicSampling: unknown option 'maxTry'; expected one of 'source', 'maxTries', 'problemsPerTry'");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, dynamicSampling: {source: () => problems, maxTries: 0}}), // grpo ds maxTries 0
        "grpoStep: 'dynamicSampling.maxTries' expected >= 1, got 0");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, dynamicSampling: {source: () => ['x'] as never, maxTries: 2}}), // grpo ds source bad problems
        "grpoStep: 'dynamicSampling.source()[0]' expected {prompt: string, reference: string}, got \"x\"");
    await rejectsWith(() => grpoStep({...ctx, reference: {vocabSize: 19} as never}, problems, {...o, beta: 0.1}), // grpo reference no apply
        "grpoStep: 'reference' expected a Policy (apply, variables, vocabSize, contextLength), got an object {vocabSize} with no apply method");
  });

  it('grpoStep: nested names, reserved advantage keys, a Policy with a bad vocabSize', async () => {
    await rejectsWith(() => grpoStep(ctx, problems, {groupSize: 2, maxNewTokens: 4, loss: {beta: -1}}),
        "grpoStep: 'loss.beta' expected >= 0, got -1");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, advantages: {groupIds: [0, 0]}} as never),
        "grpoStep: 'advantages.groupIds' is set by the step (groups of 'groupSize'); remove it");
    await rejectsWith(() => grpoStep(ctx, problems, {...o, loss: 0.1} as never),
        "grpoStep: 'loss' expected an options object, got number 0.1");
    const broken = {apply: policy.apply.bind(policy), variables: () => policy.variables(), vocabSize: NaN, contextLength: 26};
    await rejectsWith(() => grpoStep({...ctx, policy: broken as never}, problems, o),
        "grpoStep: 'policy.vocabSize' expected a finite number, got NaN");
    await rejectsWith(() => grpoStep({...ctx, policy: {...broken, vocabSize: 19, variables: undefined} as never}, problems, o),
        "grpoStep: 'policy' expected a Policy with a variables() method (the optimizer updates them), got none");
  });

  it('ppoStep', async () => {
    await rejectsWith(() => ppoStep(pctx, problems, {...o, gae: {gama: 1} as never}), // ppo gae unknown
        "ppoStep: in 'gae': gae: unknown option 'gama'; expected one of 'gamma', 'lambda'; did you mean 'gamma'?");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, gae: {gamma: NaN}}), // ppo gae gamma NaN
        "ppoStep: in 'gae': gae: 'gamma' expected a finite number, got NaN");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, gae: {lambda: 2}}), // ppo gae lambda 2
        "ppoStep: in 'gae': gae: 'lambda' expected <= 1, got 2");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, loss: {foo: 1} as never}), // ppo loss unknown
        "ppoStep: in 'loss': ppoLoss: unknown option 'foo'; expected one of 'clipLow', 'clipHigh', 'dualClip', 'ratioLevel', 'valueClip', 'valueCoef', 'entropyCoef', 'klCoef', 'klEstimator', 'aggregation', 'maxLength', 'normalizer'");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, whitenAdvantages: 'yes' as never}), // ppo whiten non-bool
        "ppoStep: 'whitenAdvantages' expected a boolean, got \"yes\"");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, groupSize: 0}), // ppo groupSize 0
        "ppoStep: 'groupSize' expected >= 1, got 0");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, groupSize: NaN}), // ppo groupSize NaN
        "ppoStep: 'groupSize' expected a finite number, got NaN");
    await rejectsWith(() => ppoStep({...pctx, critic: {trunk: policy, head, extra: 1} as never}, problems, o), // ppo critic unknown
        "ppoStep: unknown key of 'critic' 'extra'; expected one of 'trunk', 'head'");
    await rejectsWith(() => ppoStep({...pctx, critic: {trunk: policy, head: {} as never}}, problems, o), // ppo critic.head bad
        "ppoStep: 'critic.head' expected a ValueHead (new ValueHead(width)), got an object {}");
    await rejectsWith(() => ppoStep(pctx, problems, {...o, dynamicSampling: {source: () => problems}} as never), // ppo dynamicSampling
        "ppoStep: unknown option 'dynamicSampling'; expected one of 'groupSize', 'maxNewTokens', 'temperature', 'topK', 'topP', 'stopToken', 'seed', 'mu', 'epochs', 'beta', 'klCoef', 'gae', 'loss', 'whitenAdvantages', 'maxGradNorm'");
    await rejectsWith(() => ppoStep(pctx, problems, undefined as never), // ppo options undefined
        "ppoStep: 'options' expected {groupSize, maxNewTokens, ...}, got undefined");
  });

  it('sftStep', async () => {
    await rejectsWith(() => sftStep(policy, optimizer, batch, {maxGradNorm: NaN}), // sft maxGradNorm NaN
        "sftStep: 'maxGradNorm' expected a number > 0 (Infinity: no clip), got NaN");
    await rejectsWith(() => sftStep({variables: () => []} as never, optimizer, batch), // sft policy no apply
        "sftStep: 'policy' expected a Policy (apply, variables, vocabSize, contextLength), got an object {variables} with no apply method");
    await rejectsWith(() => sftStep(policy, {} as never, batch), // sft optimizer bad
        "sftStep: 'optimizer' expected a tf.Optimizer (e.g. tf.train.adam(1e-3)), got an object {}");
    await rejectsWith(() => sftStep(policy, optimizer, {...batch, promptTokens: wide}), // sft batch mismatch
        "sftStep: 'batch.promptMask' expected shape [batch, promptTime]=[2,3], got [1,3]");
    await rejectsWith(() => sftStep(policy, optimizer, {promptTokens: batch.promptTokens} as never), // sft batch missing
        "sftStep: 'batch.promptMask' expected a tf.Tensor, got undefined; pass a tf.Tensor (is the argument missing, or its name misspelled?)");
    await rejectsWith(() => sftStep(policy, optimizer, {...batch, completionMask: twos}), // sft batch completionMask 2
        "sftStep: 'batch.completionMask' expected values in {0, 1}, got 2 (shape [1,1])");
  });

  it('encodeSftBatch', async () => {
    await rejectsWith(() => encodeSftBatch(tok, [{prompt: '1+2', completion: 3 as never}], {contextLength: 26}), // encodeSftBatch non-string
        "encodeSftBatch: 'pairs[0]' expected {prompt: string, completion: string}, got an object {prompt, completion}");
    await rejectsWith(() => encodeSftBatch(tok, [{prompt: '1+2', completion: '3'}], {contextLength: 26, foo: 1} as never), // encodeSftBatch options unknown
        "encodeSftBatch: unknown option 'foo'; expected one of 'contextLength'");
  });

  it('rlLoop', async () => {
    await rejectsWith(() => rlLoop({steps: 1, step: async () => ({}), evalevery: 2} as never), // rlLoop unknown
        "rlLoop: unknown option 'evalevery'; expected one of 'steps', 'step', 'evaluate', 'evalEvery', 'onStep'; did you mean 'evalEvery'?");
    await rejectsWith(() => rlLoop({steps: NaN, step: async () => ({})}), // rlLoop steps NaN
        "rlLoop: 'steps' expected a finite number, got NaN");
    await rejectsWith(() => rlLoop({steps: 1, step: async () => ({}), evaluate: 3 as never}), // rlLoop evaluate not fn
        "rlLoop: 'evaluate' expected a function (step) => Promise<number>, got number");
    await rejectsWith(() => rlLoop({steps: 1, step: async () => ({}), onStep: 3 as never}), // rlLoop onStep not fn
        "rlLoop: 'onStep' expected a function (record) => void, got number");
    await rejectsWith(() => rlLoop({steps: 1, step: async () => ({}), evaluate: async () => NaN}), // rlLoop evaluate NaN
        "rlLoop: 'evaluate' expected to return a finite number, got NaN at step 1");
    await rejectsWith(() => rlLoop({steps: 1, step: async () => undefined as never}), // rlLoop step returns undefined
        "rlLoop: 'step' expected to return (a promise of) a metrics object, got undefined at step 1");
    await rejectsWith(() => rlLoop(undefined as never), // rlLoop options undefined
        "rlLoop: 'options' expected {steps, step, ...}, got undefined");
  });

  it('collectRollout', async () => {
    await rejectsWith(() => collectRollout(policy, tok, problems, zero, {groupSize: 2, maxNewTokens: 4, foo: 1} as never), // collect unknown
        "collectRollout: unknown option 'foo'; expected one of 'groupSize', 'maxNewTokens', 'temperature', 'topK', 'topP', 'stopToken', 'seed'");
    await rejectsWith(() => collectRollout(policy, tok, problems, zero, {groupSize: 2, maxNewTokens: 0}), // collect maxNewTokens 0
        "collectRollout: 'maxNewTokens' expected >= 1, got 0");
    await rejectsWith(() => collectRollout(policy, tok, problems, () => [1, 2], {groupSize: 2, maxNewTokens: 4}), // collect reward count
        "collectRollout: 'reward' expected to return 4 values (one per sample), got 2");
  });

  it('evaluatePolicy', async () => {
    await rejectsWith(() => evaluatePolicy(policy, tok, problems, zero, {maxNewTokens: NaN}), // eval maxNewTokens NaN
        "evaluatePolicy: 'maxNewTokens' expected a finite number, got NaN");
    await rejectsWith(() => evaluatePolicy(policy, tok, problems, zero, {maxNewTokens: 4, temperature: -1}), // eval temperature -1
        "evaluatePolicy: 'temperature' expected >= 0, got -1");
    await rejectsWith(() => evaluatePolicy(policy, tok, problems, zero, {maxNewTokens: 4, k: 2, topP: 2}), // eval topP 2
        "evaluatePolicy: 'topP' expected <= 1, got 2");
    await rejectsWith(() => evaluatePolicy(policy, tok, problems, zero, {maxNewTokens: 4, seed: 0.5}), // eval seed 0.5
        "evaluatePolicy: 'seed' expected an integer, got 0.5");
    await rejectsWith(() => evaluatePolicy(policy, tok, ['a'] as never, zero, {maxNewTokens: 4}), // eval problems strings
        "evaluatePolicy: 'problems[0]' expected {prompt: string, reference: string}, got \"a\"");
    await rejectsWith(() => evaluatePolicy(policy, tok, problems, zero, undefined as never), // eval options undefined
        "evaluatePolicy: 'options' expected {maxNewTokens, ...}, got undefined");
    await rejectsWith(() => evaluatePolicy(policy, tok, problems, (s) => s.map(() => NaN), {maxNewTokens: 4}), // eval reward NaN
        "evaluatePolicy: 'reward' expected finite numbers, got NaN at index 0");
  });

  it('evaluatePolicy and collectRollout: a missing tokenizer', async () => {
    const message = "'tokenizer' expected a Tokenizer (encode, decode, vocabSize, padId, eosId), got undefined";
    await rejectsWith(() => evaluatePolicy(policy, undefined as never, problems, zero, {maxNewTokens: 4}), `evaluatePolicy: ${message}`);
    await rejectsWith(() => collectRollout(policy, undefined as never, problems, zero, {groupSize: 2, maxNewTokens: 4}),
        `collectRollout: ${message}`);
    await rejectsWith(() => grpoStep({...ctx, tokenizer: undefined as never}, problems, o), `grpoStep: ${message}`);
  });

  it('rejectionSample', async () => {
    await rejectsWith(() => rejectionSample(sampler, [{prompt: 'a'}], zero, {samplesPerPrompt: 1, accept: {minReward: 0}, filters: {overlong: {maxTokens: 3, foo: 1} as never}}), // rej filters.overlong unknown
        "rejectionSample: 'filters.overlong': unknown option 'foo'; expected one of 'maxTokens'");
    await rejectsWith(() => rejectionSample(sampler, [{prompt: 'a'}], zero, {samplesPerPrompt: 1, accept: {minReward: 0}, filters: {mixedLanguage: {language: 'en', minconsistency: 1} as never}}), // rej filters.mixedLanguage unknown
        "rejectionSample: 'filters.mixedLanguage': unknown option 'minconsistency'; expected one of 'language', 'minConsistency'; did you mean 'minConsistency'?");
    await rejectsWith(() => rejectionSample(sampler, [{prompt: 'a'}], zero, {samplesPerPrompt: 1, accept: {minReward: 0}, filters: null as never}), // rej filters null
        "rejectionSample: 'filters': 'options' expected an object, got null");
    await rejectsWith(() => rejectionSample(sampler, [{prompt: 'a'}], zero, {samplesPerPrompt: 1, accept: {minReward: 0}, filters: {overlong: null as never}}), // rej filters.overlong null
        "rejectionSample: 'filters.overlong' expected {maxTokens}, got null");
    await rejectsWith(() => rejectionSample((ps) => ps.map(() => ({completion: 'x', tokens: NaN})), [{prompt: 'a'}], zero, {samplesPerPrompt: 1, accept: {minReward: 0}, filters: {overlong: {maxTokens: 3}}}), // rej tokens NaN
        "rejectionSample: 'sampler' returned a token count that is not a non-negative integer at index 0: NaN");
    await rejectsWith(() => rejectionSample(sampler, [{prompt: 'a'}], () => [], {samplesPerPrompt: 1, accept: {minReward: 0}}), // rej reward count
        "rejectionSample: 'reward' expected to return 1 values (one per sample), got 0");
    await rejectsWith(() => rejectionSample(sampler, [{prompt: 'a'}], () => [NaN], {samplesPerPrompt: 1, accept: {minReward: 0}}), // rej reward NaN
        "rejectionSample: 'reward' expected finite numbers, got NaN at index 0");
  });

  it('rewardModelStep', async () => {
    await rejectsWith(() => rewardModelStep(rctx, [{prompt: 'a', chosen: '1', rejected: '2'}], {maxGradNorm: NaN}), // rm maxGradNorm NaN
        "rewardModelStep: 'maxGradNorm' expected > 0, got NaN");
    await rejectsWith(() => rewardModelStep({...rctx, foo: 1} as never, [{prompt: 'a', chosen: '1', rejected: '2'}]), // rm ctx unknown
        "rewardModelStep: unknown key of 'ctx' 'foo'; expected one of 'model', 'optimizer', 'tokenizer'");
    await rejectsWith(() => rewardModelStep(rctx, [{prompt: 'a', rejected: '2'}] as never), // rm pair missing chosen
        "rewardModelStep: 'pairs[0]' expected {prompt: string, chosen: string, rejected: string}, got an object {prompt, rejected}");
    await rejectsWith(() => rewardModelStep(rctx, ['a'] as never), // rm pair string
        "rewardModelStep: 'pairs[0]' expected {prompt: string, chosen: string, rejected: string}, got \"a\"");
    await rejectsWith(() => rewardModelStep({...rctx, model: {} as never}, [{prompt: 'a', chosen: '1', rejected: '2'}]), // rm model bad
        "rewardModelStep: 'model' expected a RewardModel (new RewardModel(trunk, head)), got an object {}");
    await rejectsWith(() => rewardModelStep(rctx, [{prompt: 'a', chosen: '1', rejected: '2'}], null as never), // rm options undefined-null
        "rewardModelStep: 'options' expected an object, got null");
  });
  it("sftStep's completionMask value check is skipped with valueChecks off", async () => {
    const previous = configureValidation({valueChecks: false});
    try {
      // The check inside sftLoss is off too: the mask of 2s weighs the token twice and trains.
      const result = await sftStep(policy, optimizer, {...batch, completionMask: twos});
      expect(Number.isFinite(result.loss)).toBe(true);
    } finally {
      configureValidation(previous);
    }
  });
});

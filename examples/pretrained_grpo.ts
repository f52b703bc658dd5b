// GRPO on a Hugging Face checkpoint: load a folder (config.json, safetensors, tokenizer.json with its
// chat template), wrap each problem in the chat template, and run a few GRPO steps whose reward is the
// fraction of digits in the completion. The committed tiny random Qwen2 fixture stands in for a real
// R1-Distill-Qwen checkpoint (same architecture and files).
// Run: npx tsx examples/pretrained_grpo.ts [folder] [steps]
import * as tf from '@tensorflow/tfjs-core';
import {pathToFileURL} from 'node:url';
import {grpoStep, type RewardFn} from '../src/index.js';
import {loadPretrained} from '../src/node.js';

export const DEFAULT_FOLDER = 'test/fixtures/pretrained/qwen2_tied_f32';

/** Reward: the fraction of the completion's characters that are digits (0 for an empty completion). */
export const digitReward: RewardFn = (samples) =>
  samples.map((s) => (s.completion.length === 0 ? 0 : (s.completion.match(/[0-9]/g)?.length ?? 0) / s.completion.length));

export interface PretrainedGrpoResult {
  /** Mean reward of each step. */
  rewards: number[];
  /** Probability mass the policy puts on digit-only tokens at the first completion position, before / after. */
  digitMassBefore: number;
  digitMassAfter: number;
}

/** Loads `folder`, runs `steps` GRPO steps and reports the rewards and the first-token digit mass. */
export async function runPretrainedGrpo(
    {folder = DEFAULT_FOLDER, steps = 6, groupSize = 8, learningRate = 3e-3, seed = 1, log = (_line: string) => {}} = {}): Promise<PretrainedGrpoResult> {
  const model = await loadPretrained(folder);
  const tokenizer = model.tokenizer;
  if (tokenizer === undefined) throw new Error(`${folder} has no tokenizer.json`);
  log(`${model.architecture}: ${model.numParams()} parameters, vocabulary ${tokenizer.vocabSize}`);
  const reference = model.copy(); // frozen, for the KL term
  const optimizer = tf.train.adam(learningRate);
  const problems = ['Sort the digits 5 3 9 1.', 'Add 12 and 30.'].map((q) => ({
    prompt: tokenizer.applyChatTemplate([{role: 'user', content: q}]),
    reference: '',
  }));
  const digitIds = [...Array(tokenizer.vocabSize).keys()].filter((id) => /^[0-9]+$/.test(tokenizer.decode([id])));
  const digitMass = (): number => tf.tidy(() => {
    const ids = tokenizer.encode(problems[0]!.prompt);
    const {logits, hidden} = model.apply(tf.tensor2d([ids], [1, ids.length], 'int32'));
    hidden?.dispose();
    const probs = tf.softmax(tf.reshape(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]), [-1]));
    return tf.sum(tf.gather(probs, tf.tensor1d(digitIds, 'int32'))).dataSync()[0]!;
  });
  const digitMassBefore = digitMass();
  const rewards: number[] = [];
  for (let step = 0; step < steps; step++) {
    const m = await grpoStep({policy: model, reference, optimizer, tokenizer, reward: digitReward}, problems,
        {groupSize, maxNewTokens: 6, temperature: 1, seed: seed * 1000 + step, beta: 0.01});
    rewards.push(m.reward);
    log(`step ${step}: reward ${m.reward.toFixed(3)}, kl ${m.kl.toFixed(4)}, loss ${m.loss.toFixed(4)}, ` +
        `zero-variance groups ${m.zeroVarianceGroups.toFixed(2)}`);
  }
  const digitMassAfter = digitMass();
  log(`first-token digit mass ${digitMassBefore.toFixed(4)} -> ${digitMassAfter.toFixed(4)}`);
  optimizer.dispose();
  reference.dispose();
  model.dispose();
  return {rewards, digitMassBefore, digitMassAfter};
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await import('@tensorflow/tfjs'); // registers the gradients of every op (tfjs-core alone has none)
  await tf.setBackend('cpu');
  await runPretrainedGrpo({folder: process.argv[2] ?? DEFAULT_FOLDER, steps: Number(process.argv[3] ?? 6), log: console.log});
}

/**
 * `npm run demo -- --recipe r1 --out DIR`: the DeepSeek-R1 pipeline in miniature with `runR1Pipeline`
 * (cold start, reasoning RL, rejection sampling + SFT, RL for all scenarios with a learned reward
 * model, distillation into a smaller student), plus an RL-only student (cold start + GRPO on the same
 * sample budget) for the paper's distillation comparison. Tasks are generated: sorting digits
 * (reasoning, verifiable) and a preference task (general prompts `w<letters>:` (letters u, v: none of the chain of thought's); people prefer replies
 * that start with `y` over replies that start with `x`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Command, Option} from 'commander';
import type * as vl from 'vega-lite';
import {vegaLiteSvg} from '../vega_svg.js';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {mulberry32} from '../../src/models/mulberry32.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {routeReward} from '../../src/rewards/route_reward.js';
import {weighted} from '../../src/rewards/weighted.js';
import type {RewardFn} from '../../src/rewards/types.js';
import {languageConsistencyReward} from '../../src/rewards/language_consistency_reward.js';
import {loadCheckpointFiles} from '../../src/train/checkpoint_files.js';
import {evaluatePolicy} from '../../src/train/evaluate_policy.js';
import {grpoStep} from '../../src/train/grpo_step.js';
import {runR1Pipeline, type R1StageResult} from '../../src/train/r1_pipeline.js';
import {encodeSftBatch, sftStep} from '../../src/train/sft_step.js';
import {sortingProblems} from '../tasks/sorting_task.js';

/** Digits 0-9 written as letters of two scripts: the CoT lists the sorted digits in the script the prompt asks for. */
const LATIN = 'abcdefghij';
const GREEK = 'αβγδεζηθικ';
/** Weight of the language-consistency term in the reasoning reward (R1 sums it with accuracy). */
const LANGUAGE_WEIGHT = 0.2;
/** `'L'` (Latin) or `'Λ'` (Greek) ends a reasoning prompt. */
const scriptOf = (prompt: string): 'Latin' | 'Greek' => (prompt.endsWith('Λ') ? 'Greek' : 'Latin');
/** Sorting problems, alternately asking for the chain of thought in Latin or Greek letters. */
function scripted(problems: ReturnType<typeof sortingProblems>): ReturnType<typeof sortingProblems> {
  return problems.map((p, i) => {
    const letters = i % 2 === 0 ? LATIN : GREEK;
    const cot = [...p.reference].map((d) => letters[Number(d)]!).join(',');
    return {prompt: `${p.prompt}${i % 2 === 0 ? 'L' : 'Λ'}`, reference: p.reference, demonstration: `<think>${cot}</think><answer>${p.reference}</answer>`};
  });
}

interface Args { out: string; backend: string; seed: number; quiet?: boolean }

export async function runR1(argv: string[]): Promise<void> {
  const args = new Command().name('demo --recipe r1')
    .requiredOption('--out <dir>', 'report folder')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['cpu', 'wasm']).default('wasm'))
    .option('--seed <n>', 'seed', (v) => Number(v), 0)
    .option('--quiet', 'no progress lines')
    .parse(argv, {from: 'user'}).opts<Args>();
  if (args.backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(args.backend))) throw new Error(`demo: backend '${args.backend}' could not be initialised`);
  await tf.ready();
  const t0 = performance.now();
  await mkdir(args.out, {recursive: true});
  const log = (s: string) => { if (!args.quiet) console.log(s); };

  const tokenizer = charTokenizer({alphabet: `0123456789,${LATIN}${GREEK}uvwxyLΛ:`, specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
  const digits = 4;
  const heldOut = scripted(sortingProblems(48, {length: digits, seed: args.seed * 1000 + 999}));
  const exclude = new Set(heldOut.map((p) => p.prompt.slice(0, digits)));
  const train = scripted(sortingProblems(320, {length: digits, seed: args.seed * 1000 + 2, exclude}));
  const random = mulberry32(args.seed + 11);
  const word = () => Array.from({length: 3}, () => (random() < 0.5 ? 'u' : 'v')).join('');
  const generalPrompts = Array.from({length: 32}, () => `w${word()}:`);
  const heldOutGeneral = Array.from({length: 16}, () => `w${word()}:`);
  const preferences = Array.from({length: 128}, () => ({prompt: `w${word()}:`, chosen: `y${word()}`, rejected: `x${word()}`}));
  const stopToken = tokenizer.id('</answer>');
  const maxNewTokens = tokenizer.encode(train[0]!.demonstration).length + 2;
  const contextLength = 6 + maxNewTokens;
  const model = (width: number, seed: number) => () =>
    TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength, layers: 2, width, heads: 4, seed});
  const format = formatReward();
  const accuracy = gate(format, accuracyReward());
  // R1's stage-2 reward: accuracy + format (gated) plus language consistency in the script the prompt asks for.
  const consistency = routeReward({Latin: languageConsistencyReward({language: 'Latin'}), Greek: languageConsistencyReward({language: 'Greek'})},
      (s) => scriptOf(s.prompt));
  // R1 drops unreadable reasoning: here, a chain of thought that does not spell the answer's digits in order.
  const readable: RewardFn = (samples) => samples.map(({prompt, completion}) => {
    const m = /^<think>([^<]*)<\/think><answer>(\d+)<\/answer>$/.exec(completion);
    const letters = scriptOf(prompt) === 'Greek' ? GREEK : LATIN;
    return m !== null && m[1] === [...m[2]!].map((d) => letters[Number(d)]!).join(',') ? 1 : 0;
  });
  const reasoningReward = weighted([[accuracy, 1], [consistency, LANGUAGE_WEIGHT]]);
  const demonstrations = train.slice(-64).map((p) => ({prompt: p.prompt, completion: p.demonstration}));
  const sft = {steps: 240, batchSize: 16, learningRate: 3e-3};
  const rl = {steps: 40, promptsPerStep: 8, groupSize: 8, learningRate: 3e-4, temperature: 1};
  // Correct and (nearly) single-script: accuracy 1 plus at least 0.95 of the language term.
  const correct = {minReward: 1 + 0.95 * LANGUAGE_WEIGHT};
  const distillation = {...sft, samplesPerPrompt: 2, accept: correct};

  const {stages, policy, student} = await runR1Pipeline({
    outDir: join(args.out, 'checkpoints'), seed: args.seed, tokenizer, createBase: model(32, args.seed), createStudent: model(24, args.seed + 1),
    sampling: {maxNewTokens, stopToken}, reasoningReward, reasoning: {train, heldOut},
    coldStart: {...sft, demonstrations}, reasoningRl: rl,
    rejection: {...sft, samplesPerPrompt: 4, accept: correct, filters: {unreadable: readable, overlong: {maxTokens: maxNewTokens}},
      // Non-reasoning SFT data of mixed quality (half preferred replies, half not), so stage 4 has a general reward to raise.
      extraData: preferences.slice(0, 32).map((p, i) => ({prompt: p.prompt, completion: i % 2 === 0 ? p.chosen : p.rejected}))},
    allScenarios: {...rl, steps: 24, generalPrompts, heldOutGeneral, preferences, rewardModel: {steps: 30, batchSize: 16, learningRate: 3e-3}},
    distillation,
    onStage: (r) => log(`${r.name}: reasoning reward (accuracy + 0.2 x language) ${r.accuracy.toFixed(3)}, general reward ${r.generalReward?.toFixed(3) ?? '-'} (${r.seconds.toFixed(0)} s)`),
  });

  // Per-stage format rate and language consistency of the held-out completions (greedy).
  const rows: Record<string, unknown>[] = [];
  const beforeRl = stages.find((x) => x.name === 'all-scenarios-rl')?.details.generalRewardBefore as number | undefined;
  for (const s of stages.filter((x) => x.name !== 'distillation')) {
    const {policy: p} = await loadCheckpointFiles(join(args.out, 'checkpoints', s.name));
    const f = await evaluatePolicy(p, tokenizer, heldOut, format, {maxNewTokens, stopToken});
    const l = await evaluatePolicy(p, tokenizer, heldOut, consistency, {maxNewTokens, stopToken});
    const a = await evaluatePolicy(p, tokenizer, heldOut, accuracy, {maxNewTokens, stopToken});
    rows.push({name: s.name, accuracy: a.score, reasoningReward: s.accuracy, formatRate: f.score, languageConsistency: l.score,
      // Stage 3's general reward is the stage-4 reward model's score of its checkpoint (the model did not exist before).
      generalReward: s.name === 'rejection-sft' ? (beforeRl ?? null) : s.generalReward, seconds: s.seconds});
    p.dispose();
  }

  // RL-only student: cold start + GRPO on the student directly, with the distilled student's sample budget.
  const distill = stages.find((s) => s.name === 'distillation') as R1StageResult;
  const rlStudent = model(24, args.seed + 1)();
  const optimizer = tf.train.adam(sft.learningRate);
  for (let s = 0; s < sft.steps; s++) {
    const batch = encodeSftBatch(tokenizer, Array.from({length: sft.batchSize}, (_, i) => demonstrations[(s * sft.batchSize + i) % demonstrations.length]!), {contextLength});
    await sftStep(rlStudent, optimizer, batch);
    tf.dispose(Object.values(batch));
  }
  optimizer.dispose();
  const budget = train.length * distillation.samplesPerPrompt; // completions the teacher sampled for distillation
  const rlSteps = Math.max(1, Math.round(budget / (rl.promptsPerStep * rl.groupSize)));
  const reference = rlStudent.copy({trainable: false});
  const rlOptimizer = tf.train.adam(rl.learningRate);
  for (let s = 0; s < rlSteps; s++) {
    await grpoStep({policy: rlStudent, reference, optimizer: rlOptimizer, tokenizer, reward: reasoningReward},
        Array.from({length: rl.promptsPerStep}, (_, i) => train[(s * rl.promptsPerStep + i) % train.length]!),
        {groupSize: rl.groupSize, maxNewTokens, stopToken, temperature: rl.temperature, seed: args.seed * 7919 + s});
  }
  rlOptimizer.dispose();
  reference.dispose();
  const accuracyOf = async (p: TransformerPolicy) => (await evaluatePolicy(p, tokenizer, heldOut, accuracy, {maxNewTokens, stopToken})).score;
  const rlStudentAccuracy = await accuracyOf(rlStudent);
  const teacherAccuracy = await accuracyOf(policy);
  const distilledStudentAccuracy = await accuracyOf(student!);
  const d = distill.details as {teacherParams: number; studentParams: number};
  const rejection = stages.find((s) => s.name === 'rejection-sft')!.details.rejection as {samples: number; accepted: number; acceptanceRate: number};
  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    recipe: 'r1', stages: rows,
    rejection: {samples: rejection.samples, accepted: rejection.accepted, acceptanceRate: rejection.acceptanceRate},
    distillation: {teacherAccuracy, distilledStudentAccuracy, rlStudentAccuracy,
      teacherParams: d.teacherParams, studentParams: d.studentParams, rlStudentSamples: rlSteps * rl.promptsPerStep * rl.groupSize,
      distillationSamples: budget},
    config: {...args, backend: tf.getBackend(), seconds},
  };
  rlStudent.dispose();
  policy.dispose();
  student?.dispose();
  await writeFile(join(args.out, 'summary.json'), JSON.stringify(summary, null, 2));
  await writeFile(join(args.out, 'metrics.json'), JSON.stringify(stages, null, 1));
  await writeFile(join(args.out, 'curves.svg'), await curves(rows));
  const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '-');
  await writeFile(join(args.out, 'report.md'), [
    '# DeepSeek-R1 pipeline in miniature', '',
    '| stage | accuracy | format rate | language consistency | general reward | seconds |', '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${pct(r.accuracy)} | ${pct(r.formatRate)} | ${pct(r.languageConsistency)} | ` +
      `${typeof r.generalReward === 'number' ? r.generalReward.toFixed(2) : '-'} | ${(r.seconds as number).toFixed(0)} |`),
    '', `Rejection sampling: ${rejection.accepted} of ${rejection.samples} accepted (${pct(rejection.acceptanceRate)}).`, '',
    `Distillation: teacher ${pct(teacherAccuracy)} (${d.teacherParams} params); distilled student ${pct(distilledStudentAccuracy)}, ` +
      `RL-only student ${pct(rlStudentAccuracy)} (${d.studentParams} params each).`, '',
    `Total ${seconds.toFixed(0)} s on ${tf.getBackend()}.`, '', '![curves](curves.svg)', '',
  ].join('\n'));
  console.log(`r1: ${rows.map((r) => `${r.name} ${pct(r.accuracy)}`).join(', ')}; distilled ${pct(distilledStudentAccuracy)} vs RL-only ` +
    `${pct(rlStudentAccuracy)}; ${seconds.toFixed(0)} s; report in ${args.out}/`);
}

async function curves(rows: Record<string, unknown>[]): Promise<string> {
  const values = rows.flatMap((r, i) => ['accuracy', 'generalReward', 'languageConsistency']
    .filter((k) => typeof r[k] === 'number').map((series) => ({stage: i + 1, name: r.name, series, value: r[series] as number})));
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title: 'R1 pipeline per stage', width: 480, height: 260,
    data: {values}, mark: {type: 'line', point: true},
    encoding: {x: {field: 'stage', type: 'ordinal', title: 'stage (1 cold start ... 4 all scenarios)'},
      y: {field: 'value', type: 'quantitative'}, color: {field: 'series', type: 'nominal'}},
  };
  return vegaLiteSvg(spec);
}

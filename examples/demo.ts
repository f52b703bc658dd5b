/**
 * `npm run demo`: cold-start SFT of a tiny transformer on an addition task with a scratchpad, then
 * GRPO and PPO from the same checkpoint with the same sample budget; writes a report folder.
 *
 *   npm run demo -- --help
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {createRequire} from 'node:module';
import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Command, InvalidArgumentError, Option} from 'commander';
import cliProgress from 'cli-progress';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import {TransformerPolicy} from '../src/models/transformer_policy.js';
import {ValueHead} from '../src/models/value_head.js';
import {accuracyReward} from '../src/rewards/accuracy_reward.js';
import {formatReward} from '../src/rewards/format_reward.js';
import {gate} from '../src/rewards/gate.js';
import {named} from '../src/rewards/named.js';
import {weighted} from '../src/rewards/weighted.js';
import {additionProblems, additionTokenizer, type AdditionProblem} from './tasks/addition_task.js';
import {sortingProblems} from './tasks/sorting_task.js';
import {runDeepseekDemo} from './demo_deepseek.js';
import {loadCheckpointFiles, saveCheckpointFiles} from '../src/train/checkpoint_files.js';
import {evaluatePolicy} from '../src/train/evaluate_policy.js';
import {grpoStep, type RlStepMetrics} from '../src/train/grpo_step.js';
import {ppoStep} from '../src/train/ppo_step.js';
import {rlLoop, type StepRecord} from '../src/train/rl_loop.js';
import {encodeSftBatch, sftStep} from '../src/train/sft_step.js';

// tfjs-core registers gradients only through this side-effect module (the full @tensorflow/tfjs
// package imports it); its ESM build has directory imports that Node's ESM loader rejects, so require it.
createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients');

const MODELS = {
  tiny: {layers: 2, width: 32, heads: 4},
  small: {layers: 2, width: 64, heads: 4},
  base: {layers: 4, width: 128, heads: 8},
} as const;

const int = (name: string, min = 0) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} expects an integer >= ${min}, got '${v}'`);
  return n;
};
const num = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got '${v}'`);
  return n;
};

const program = new Command()
  .name('demo')
  .description('Cold-start SFT, then GRPO and PPO from the same checkpoint on a synthetic addition task; writes a report.')
  .addOption(new Option('--backend <name>', 'tfjs backend').choices(['cpu', 'wasm', 'webgpu']).default('cpu'))
  .option('--out <dir>', 'report folder', 'demo-report')
  .option('--seed <n>', 'seed of weights, data and sampling', int('--seed'), 0)
  .addOption(new Option('--model <size>', 'model size (tiny: 2x32, small: 2x64, base: 4x128)').choices(Object.keys(MODELS)).default('tiny'))
  .addOption(new Option('--task <name>', 'sort: order a digit string; add: multi-digit addition (harder)').choices(['sort', 'add']).default('sort'))
  .option('--digits <n>', 'digits per prompt (sort) or per operand (add); default 5 (sort), 2 (add)', int('--digits', 1))
  .option('--demos <n>', 'cold-start demonstrations', int('--demos', 1), 256)
  .option('--sft-steps <n>', 'cold-start SFT steps', int('--sft-steps', 0), 150)
  .option('--sft-batch <n>', 'SFT batch size', int('--sft-batch', 1), 20)
  .option('--sft-lr <x>', 'SFT learning rate', num('--sft-lr'), 3e-3)
  .option('--steps <n>', 'RL steps per method', int('--steps', 0), 15)
  .option('--batch-size <n>', 'completions per RL step (the sample budget per step)', int('--batch-size', 1), 64)
  .option('--group-size <n>', 'completions per prompt (GRPO group; PPO samples the same)', int('--group-size', 2), 8)
  .option('--mu <n>', 'updates per batch (GRPO mu, PPO epochs)', int('--mu', 1), 1)
  .option('--lr <x>', 'RL learning rate', num('--lr'), 3e-4)
  .option('--beta <x>', 'KL coefficient (GRPO loss term, PPO reward shaping)', num('--beta'), 0.04)
  .option('--temperature <x>', 'RL sampling temperature', num('--temperature'), 0.7)
  .option('--format-weight <x>', 'weight of the format reward added to format-gated accuracy', num('--format-weight'), 0)
  .addOption(new Option('--critic <layout>', 'PPO critic: separate trunk + head, or a head on the policy trunk').choices(['separate', 'shared']).default('separate'))
  .option('--eval-size <n>', 'held-out prompts', int('--eval-size', 1), 200)
  .option('--eval-every <n>', 'evaluate every n RL steps', int('--eval-every', 1), 5)
  .option('--fp8', 'block linears as simulated FP8 GEMMs (DeepSeek-V3 §3.3, docs/fp8.md)')
  .addOption(new Option('--arch <name>', 'policy architecture (deepseek: tiny MLA + MoE + MTP, examples/demo_deepseek.ts)').choices(['transformer', 'deepseek']).default('transformer'))
  .option('--quiet', 'no progress bars');

interface Args {
  backend: string; out: string; seed: number; model: keyof typeof MODELS; task: 'sort' | 'add'; digits?: number; demos: number;
  sftSteps: number; sftBatch: number; sftLr: number; steps: number; batchSize: number; groupSize: number; mu: number;
  lr: number; beta: number; temperature: number; formatWeight: number; critic: 'separate' | 'shared'; evalSize: number; evalEvery: number;
  quiet?: boolean; fp8?: boolean; arch: 'transformer' | 'deepseek';
}

type Method = 'grpo' | 'ppo';
type Row = {method: Method | 'sft'; step: number} & Partial<StepRecord<RlStepMetrics & {valueLoss?: number}>> & {sftLoss?: number};

async function main(): Promise<void> {
  const args = program.parse().opts<Args>();
  if (args.batchSize % args.groupSize !== 0) {
    throw new Error(`demo: '--batch-size' (${args.batchSize}) expected a multiple of '--group-size' (${args.groupSize})`);
  }
  if (args.backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (args.backend === 'webgpu') {
    // WebGPU in Node through Dawn (the `webgpu` package), see docs/demo.md.
    const {create, globals} = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as {navigator?: unknown}).navigator = {gpu: create([])};
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (!(await tf.setBackend(args.backend))) throw new Error(`demo: backend '${args.backend}' could not be initialised`);
  await tf.ready();
  const t0 = performance.now();
  await mkdir(args.out, {recursive: true});
  if (args.arch === 'deepseek') {
    await runDeepseekDemo(args, (name) => program.getOptionValueSource(name) === 'default');
    return;
  }

  // --- task, tokenizer, rewards ---
  const tokenizer = additionTokenizer();
  const digits = args.digits ?? (args.task === 'sort' ? 5 : 2);
  const generate = (count: number, seed: number, exclude?: ReadonlySet<string>): AdditionProblem[] =>
    args.task === 'sort' ? sortingProblems(count, {length: digits, seed, exclude}) : additionProblems(count, {digits, seed, exclude});
  const heldOut = generate(args.evalSize, args.seed * 1000 + 999);
  const exclude = new Set(heldOut.map((p) => p.prompt));
  const demos = generate(args.demos, args.seed * 1000 + 1, exclude);
  const promptLength = tokenizer.encode(heldOut[0]!.prompt).length;
  const maxNewTokens = tokenizer.encode(demos[0]!.demonstration).length + 4;
  const contextLength = promptLength + maxNewTokens;
  const accuracy = named('accuracy', gate(formatReward(), accuracyReward()));
  // Format-gated accuracy; the format component is logged (weight --format-weight, default 0): a small
  // format bonus turns into unit-size advantages under GRPO's per-group std normalisation.
  const reward = weighted([[accuracy, 1], [named('format', formatReward()), args.formatWeight]]);
  // Completions end at '</answer>' (the demonstrations carry no end-of-sequence token).
  const stopToken = tokenizer.id('</answer>');
  const evaluate = async (policy: TransformerPolicy): Promise<number> =>
    (await evaluatePolicy(policy, tokenizer, heldOut, accuracy, {maxNewTokens, stopToken})).score;

  // Progress bars on a terminal; plain lines (one per evaluation) when the output is piped.
  const log = (line: string): void => { if (!args.quiet && !process.stdout.isTTY) console.log(line); };
  const bars = args.quiet || !process.stdout.isTTY ? null : new cliProgress.MultiBar({
    format: '{name} |{bar}| {value}/{total} {info}', hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const rows: Row[] = [];

  // --- cold-start SFT ---
  const policy0 = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength, ...MODELS[args.model], seed: args.seed, fp8: args.fp8 === true});
  const sftOptimizer = tf.train.adam(args.sftLr);
  const sftBar = bars?.create(args.sftSteps, 0, {name: 'sft  ', info: ''});
  const sftStart = performance.now();
  for (let s = 0; s < args.sftSteps; s++) {
    const pairs = Array.from({length: args.sftBatch}, (_, i) => demos[(s * args.sftBatch + i) % demos.length]!)
      .map((d) => ({prompt: d.prompt, completion: d.demonstration}));
    const batch = encodeSftBatch(tokenizer, pairs, {contextLength});
    const {loss} = await sftStep(policy0, sftOptimizer, batch);
    tf.dispose(Object.values(batch));
    rows.push({method: 'sft', step: s + 1, sftLoss: loss});
    sftBar?.update(s + 1, {info: `loss ${loss.toFixed(3)}`});
  }
  sftOptimizer.dispose();
  const sftSeconds = (performance.now() - sftStart) / 1000;
  const coldAccuracy = await evaluate(policy0);
  sftBar?.update(args.sftSteps, {info: `held-out accuracy ${coldAccuracy.toFixed(3)} (${sftSeconds.toFixed(0)} s)`});
  log(`sft: ${args.sftSteps} steps on ${args.demos} demonstrations, held-out accuracy ${pct(coldAccuracy)} (${sftSeconds.toFixed(0)} s)`);
  const checkpointDir = join(args.out, 'cold-start-checkpoint');
  await saveCheckpointFiles(policy0, checkpointDir, {tokenizer: tokenizer.options, task: {name: args.task, digits}});
  policy0.dispose();

  // --- GRPO and PPO from the same checkpoint, same prompts, same budget ---
  const promptsPerStep = args.batchSize / args.groupSize;
  const stream = generate(args.steps * promptsPerStep, args.seed * 1000 + 2, exclude);
  const problemsAt = (i: number): AdditionProblem[] => stream.slice((i - 1) * promptsPerStep, i * promptsPerStep);
  const sampling = {groupSize: args.groupSize, maxNewTokens, temperature: args.temperature, stopToken};
  const summary: Record<string, unknown> = {coldStart: {accuracy: coldAccuracy, sftSteps: args.sftSteps, demos: args.demos, seconds: sftSeconds}};

  for (const method of ['grpo', 'ppo'] as const) {
    const {policy} = await loadCheckpointFiles(checkpointDir);
    const reference = policy.copy({trainable: false});
    const critic = method === 'ppo'
      ? {trunk: args.critic === 'shared' ? policy : policy.copy({trainable: true}), head: new ValueHead(policy.config.width, {seed: args.seed, initStd: 0})}
      : undefined;
    const optimizer = tf.train.adam(args.lr);
    const bar = bars?.create(args.steps, 0, {name: method.padEnd(5), info: ''});
    let lastAccuracy = coldAccuracy;
    const records = await rlLoop<RlStepMetrics & {valueLoss?: number}>({
      steps: args.steps,
      evalEvery: args.evalEvery,
      step: (i) => method === 'grpo'
        ? grpoStep({policy, reference, optimizer, tokenizer, reward}, problemsAt(i),
            {...sampling, seed: args.seed * 100_000 + i, mu: args.mu, beta: args.beta})
        : ppoStep({policy, reference, critic: critic!, optimizer, tokenizer, reward}, problemsAt(i),
            {...sampling, seed: args.seed * 100_000 + i, mu: args.mu, beta: args.beta}),
      evaluate: async () => (lastAccuracy = await evaluate(policy)),
      onStep: (r) => {
        const info = `reward ${r.reward.toFixed(2)} acc ${lastAccuracy.toFixed(3)} kl ${r.kl.toFixed(3)} ${r.seconds.toFixed(1)} s/step`;
        bar?.update(r.step, {info});
        if (r.accuracy !== undefined) log(`${method} step ${r.step}/${args.steps}: ${info}`);
      },
    });
    for (const r of records) rows.push({method, ...r});
    const trainable = policy.numParams() + (critic ? (critic.trunk === policy ? 0 : critic.trunk.numParams()) + critic.head.hiddenSize + 1 : 0);
    const inMemory = trainable + reference.numParams();
    const timed = records.slice(1); // the first step includes one-off kernel warm-up
    summary[method] = {
      accuracy: lastAccuracy,
      secondsPerStep: mean((timed.length > 0 ? timed : records).map((r) => r.seconds)),
      peakBytes: Math.max(0, ...records.map((r) => r.peakBytes)),
      trainableParams: trainable,
      paramsInMemory: inMemory,
      samplesPerStep: args.batchSize,
      steps: args.steps,
      ...(method === 'ppo' ? {critic: args.critic} : {}),
    };
    optimizer.dispose();
    if (critic) { critic.head.dispose(); if (critic.trunk !== policy) critic.trunk.dispose(); }
    reference.dispose();
    policy.dispose();
  }
  bars?.stop();
  const totalSeconds = (performance.now() - t0) / 1000;
  summary.config = {...args, digits, backend: tf.getBackend(), contextLength, maxNewTokens, totalSeconds};

  // --- report ---
  await writeFile(join(args.out, 'metrics.json'), JSON.stringify(rows, null, 1));
  await writeFile(join(args.out, 'summary.json'), JSON.stringify(summary, null, 2));
  await writeFile(join(args.out, 'curves.svg'), await curves(rows, coldAccuracy));
  await writeFile(join(args.out, 'report.md'), report(summary, totalSeconds));
  console.log(`\ncold start ${pct(coldAccuracy)} -> GRPO ${pct((summary.grpo as {accuracy: number}).accuracy)}, ` +
    `PPO ${pct((summary.ppo as {accuracy: number}).accuracy)} held-out accuracy; ${totalSeconds.toFixed(0)} s; report in ${args.out}/`);
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Reward and held-out accuracy of both methods over steps, as one vega-lite chart rendered to SVG. */
async function curves(rows: Row[], coldAccuracy: number): Promise<string> {
  const values: Array<{method: string; step: number; series: string; value: number}> = [];
  for (const method of ['grpo', 'ppo'] as const) {
    values.push({method, step: 0, series: 'held-out accuracy', value: coldAccuracy});
    for (const r of rows.filter((x) => x.method === method)) {
      values.push({method, step: r.step, series: 'train reward (mean)', value: r.reward!});
      if (r.accuracy !== undefined) values.push({method, step: r.step, series: 'held-out accuracy', value: r.accuracy});
    }
  }
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'GRPO vs PPO from the same cold-start checkpoint',
    width: 520, height: 300,
    data: {values},
    mark: {type: 'line', point: true},
    encoding: {
      x: {field: 'step', type: 'quantitative', title: 'RL step'},
      y: {field: 'value', type: 'quantitative', title: 'reward / accuracy', scale: {domain: [0, 1.1]}},
      color: {field: 'method', type: 'nominal', title: 'method'},
      strokeDash: {field: 'series', type: 'nominal', title: 'series', legend: {symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400}},
    },
  };
  const compiled = vl.compile(spec).spec;
  // vega-lite draws the dash legend's line symbols without a stroke colour: give them one.
  for (const legend of compiled.legends ?? []) {
    if (legend.strokeDash !== undefined) legend.encode = {...legend.encode, symbols: {update: {stroke: {value: '#444'}}}};
  }
  const view = new vega.View(vega.parse(compiled), {renderer: 'none'});
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function report(summary: Record<string, unknown>, totalSeconds: number): string {
  const s = summary as {coldStart: {accuracy: number}; grpo: Record<string, number>; ppo: Record<string, number | string>};
  const row = (name: string, r: Record<string, number | string>): string =>
    `| ${name} | ${pct(r.accuracy as number)} | ${(r.secondsPerStep as number).toFixed(2)} | ${((r.peakBytes as number) / 2 ** 20).toFixed(1)} | ` +
    `${r.trainableParams} | ${r.paramsInMemory} |`;
  return [
    '# tfjs-grpo demo report', '',
    `Task: ${(summary.config as Args).task === 'sort' ? `sort ${(summary.config as {digits: number}).digits} digits` :
      `${(summary.config as {digits: number}).digits}-digit addition`} with a scratchpad ` +
      '(`<think>…</think><answer>…</answer>`), format-gated accuracy reward.', '',
    '| policy | held-out accuracy | s / step | peak tensor MiB | trainable params | params in memory |',
    '| --- | --- | --- | --- | --- | --- |',
    `| cold start (SFT) | ${pct(s.coldStart.accuracy)} | | | | |`,
    row('GRPO', s.grpo),
    row(`PPO (${s.ppo.critic} critic)`, s.ppo),
    '',
    `Same sample budget: ${(summary.config as Args).batchSize} completions per step, ${(summary.config as Args).steps} steps each. ` +
      `Total run ${totalSeconds.toFixed(0)} s on the \`${tf.getBackend()}\` backend.`,
    '',
    '![reward and held-out accuracy](curves.svg)', '',
    'Files: [curves.svg](curves.svg), [metrics.json](metrics.json), [summary.json](summary.json).', '',
  ].join('\n');
}

/** `--recipe r1` / `r1-zero` run examples/recipes/ with the other flags; no `--recipe`: this demo. */
async function dispatch(): Promise<void> {
  const at = process.argv.indexOf('--recipe');
  if (at < 0) return main();
  const recipe = process.argv[at + 1];
  const rest = [...process.argv.slice(2, at), ...process.argv.slice(at + 2)];
  if (recipe === 'r1-zero') return (await import('./recipes/r1_zero.js')).runR1Zero(rest);
  if (recipe === 'r1') return (await import('./recipes/r1.js')).runR1(rest);
  throw new Error(`demo: '--recipe' expected 'r1' or 'r1-zero', got ${JSON.stringify(recipe)}`);
}

dispatch().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

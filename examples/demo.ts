/**
 * `npm run demo`: cold-start SFT of a tiny transformer on an addition task with a scratchpad, then
 * GRPO and PPO from the same checkpoint with the same sample budget; writes a report folder.
 *
 *   npm run demo -- --help
 */
import * as tf from '@tensorflow/tfjs-core';
import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Command, InvalidArgumentError, Option} from 'commander';
import cliProgress from 'cli-progress';
import type * as vl from 'vega-lite';
import {vegaLiteSvg} from './vega_svg.js';
import {runDeepseekDemo} from './demo_deepseek.js';
import {loadCheckpointFiles, saveCheckpointFiles} from '../src/train/checkpoint_files.js';
import type {StepRecord} from '../src/train/rl_loop.js';
import type {RlStepMetrics} from '../src/train/grpo_step.js';
import {coldStart, type ExperimentConfig, makeTask, MODELS, trainRl, useBackend} from './grpo_vs_ppo.js';

// Gradients: the @tensorflow/tfjs union package registers every gradient into the tfjs-core instance
// (tfjs-core alone registers none); as in bench/run.ts, and it bundles for the GPU machine.
import '@tensorflow/tfjs';

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
  .addOption(new Option('--backend <name>', 'tfjs backend (wasm: the fastest that is always present)').choices(['cpu', 'wasm', 'webgpu']).default('wasm'))
  .option('--out <dir>', 'report folder', 'demo-report')
  .option('--seed <n>', 'seed of weights, data and sampling', int('--seed'), 0)
  .addOption(new Option('--model <size>', 'model size (tiny: 2x32, small: 2x64, base: 4x128)').choices(Object.keys(MODELS)).default('tiny'))
  .addOption(new Option('--task <name>', 'sort: order a digit string; add: multi-digit addition (harder)').choices(['sort', 'add']).default('sort'))
  .option('--digits <n>', 'digits per prompt (sort) or per operand (add); default 5 (sort), 2 (add)', int('--digits', 1))
  .option('--demos <n>', 'cold-start demonstrations', int('--demos', 1), 256)
  .option('--sft-steps <n>', 'cold-start SFT steps', int('--sft-steps', 0), 150)
  .option('--sft-batch <n>', 'SFT batch size', int('--sft-batch', 1), 32)
  .option('--sft-lr <x>', 'SFT learning rate', num('--sft-lr'), 3e-3)
  .option('--steps <n>', 'RL steps per method', int('--steps', 0), 40)
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

interface Args extends ExperimentConfig {
  backend: string; out: string; quiet?: boolean; arch: 'transformer' | 'deepseek';
}

type Row = {method: 'grpo' | 'ppo' | 'sft'; step: number} & Partial<StepRecord<RlStepMetrics & {valueLoss?: number}>> & {sftLoss?: number};

async function main(): Promise<void> {
  const args = program.parse().opts<Args>();
  if (args.batchSize % args.groupSize !== 0) {
    throw new Error(`demo: '--batch-size' (${args.batchSize}) expected a multiple of '--group-size' (${args.groupSize})`);
  }
  await useBackend(args.backend);
  const t0 = performance.now();
  await mkdir(args.out, {recursive: true});
  if (args.arch === 'deepseek') {
    await runDeepseekDemo(args, (name) => program.getOptionValueSource(name) === 'default');
    return;
  }

  const task = makeTask(args);
  const {tokenizer} = task;

  // Progress bars on a terminal; plain lines (one per evaluation) when the output is piped.
  const log = (line: string): void => { if (!args.quiet && !process.stdout.isTTY) console.log(line); };
  const bars = args.quiet || !process.stdout.isTTY ? null : new cliProgress.MultiBar({
    format: '{name} |{bar}| {value}/{total} {info}', hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const rows: Row[] = [];

  // --- cold-start SFT ---
  const sftBar = bars?.create(args.sftSteps, 0, {name: 'sft  ', info: ''});
  const sftStart = performance.now();
  const policy0 = await coldStart(task, args, (step, loss) => {
    rows.push({method: 'sft', step, sftLoss: loss});
    sftBar?.update(step, {info: `loss ${loss.toFixed(3)}`});
  });
  const sftSeconds = (performance.now() - sftStart) / 1000;
  const coldAccuracy = await task.evaluate(policy0);
  sftBar?.update(args.sftSteps, {info: `held-out accuracy ${coldAccuracy.toFixed(3)} (${sftSeconds.toFixed(0)} s)`});
  log(`sft: ${args.sftSteps} steps of ${args.sftBatch} on ${args.demos} demonstrations, held-out accuracy ${pct(coldAccuracy)} (${sftSeconds.toFixed(0)} s)`);
  const checkpointDir = join(args.out, 'cold-start-checkpoint');
  await saveCheckpointFiles(policy0, checkpointDir, {tokenizer: tokenizer.options, task: {name: args.task, digits: task.digits}});
  policy0.dispose();

  // --- GRPO and PPO from the same checkpoint, same prompts, same budget ---
  const summary: Record<string, unknown> = {coldStart: {accuracy: coldAccuracy, sftSteps: args.sftSteps, demos: args.demos, seconds: sftSeconds}};
  for (const method of ['grpo', 'ppo'] as const) {
    const {policy} = await loadCheckpointFiles(checkpointDir);
    const bar = bars?.create(args.steps, 0, {name: method.padEnd(5), info: ''});
    const methodStart = performance.now();
    const result = await trainRl(method, policy, task, args, coldAccuracy, (r, accuracy) => {
      const info = `reward ${r.reward.toFixed(2)} acc ${accuracy.toFixed(3)} kl ${r.kl.toFixed(3)} ${r.seconds.toFixed(1)} s/step`;
      bar?.update(r.step, {info});
      if (r.accuracy !== undefined) log(`${method} step ${r.step}/${args.steps}: ${info}`);
    });
    policy.dispose();
    for (const r of result.records) rows.push({method, ...r});
    summary[method] = {
      accuracy: result.accuracy, secondsPerStep: result.secondsPerStep, peakBytes: result.peakBytes,
      trainableParams: result.trainableParams, paramsInMemory: result.paramsInMemory, samplesPerStep: args.batchSize,
      steps: args.steps, seconds: (performance.now() - methodStart) / 1000, ...(method === 'ppo' ? {critic: args.critic} : {}),
    };
  }
  bars?.stop();
  const totalSeconds = (performance.now() - t0) / 1000;
  summary.config = {...args, digits: task.digits, backend: tf.getBackend(), contextLength: task.contextLength, maxNewTokens: task.maxNewTokens, totalSeconds};

  // --- report ---
  await writeFile(join(args.out, 'metrics.json'), JSON.stringify(rows, null, 1));
  await writeFile(join(args.out, 'summary.json'), JSON.stringify(summary, null, 2));
  await writeFile(join(args.out, 'curves.svg'), await curves(rows, coldAccuracy));
  await writeFile(join(args.out, 'report.md'), report(summary, totalSeconds));
  console.log(`\ncold start ${pct(coldAccuracy)} -> GRPO ${pct((summary.grpo as {accuracy: number}).accuracy)}, ` +
    `PPO ${pct((summary.ppo as {accuracy: number}).accuracy)} held-out accuracy; ${totalSeconds.toFixed(0)} s on ${tf.getBackend()}; report in ${args.out}/`);
}

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
  return vegaLiteSvg(spec);
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

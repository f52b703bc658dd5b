// npm run bench -- --rl [--backends wasm,cpu] [--sizes tiny,small] [--steps N] [--sft-steps N]
//   [--eval-every N] [--eval-size N] [--quick] [--machine NAME] [--out DIR] [--save]
//
// The GRPO-vs-PPO benchmark a user of this library runs: for each backend and model size, one
// cold-start SFT, then GRPO and PPO from that checkpoint on the same prompts with the same sample
// budget (examples/grpo_vs_ppo.ts, the demo's experiment). Reports per-step time (median, the first
// step excluded), peak tensor memory of a step (tf.profile), peak process RSS, parameters in memory
// (policy + frozen reference, + critic for PPO) and held-out accuracy against completions sampled,
// as rl-<machine>-<date>.json, a markdown table (.md) and a vega-lite chart (.svg), in
// bench/results/tmp/ (ignored by git) or, with --save, bench/results/ (committed), as `npm run bench`.
import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as vl from 'vega-lite';
import {vegaLiteSvg} from '../examples/vega_svg.js';
import {coldStart, type ExperimentConfig, makeTask, type Method, MODELS, type ModelSize, trainRl, useBackend} from '../examples/grpo_vs_ppo.js';

interface RlBenchArgs {
  backends: string[]; sizes: ModelSize[]; steps: number; sftSteps: number; evalEvery: number; evalSize: number;
  machine: string; out: string; quick: boolean;
}

/** One (backend, size, method) run. */
export interface RlBenchRow {
  backend: string; size: ModelSize; method: Method; layers: number; width: number;
  coldStartAccuracy: number; accuracy: number; medianStepMs: number; meanStepMs: number;
  peakTensorMiB: number; peakRssMiB: number; paramsInMemory: number; trainableParams: number;
  samplesPerStep: number; steps: number; sftSeconds: number; rlSeconds: number;
  /** Held-out accuracy after `samples` sampled completions (0 = the cold start). */
  curve: Array<{samples: number; accuracy: number}>;
}

function parseArgs(argv: string[]): RlBenchArgs {
  const get = (flag: string): string | undefined => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] : undefined; };
  const quick = argv.includes('--quick');
  const int = (flag: string, fallback: number): number => {
    const v = Number(get(flag) ?? fallback);
    if (!Number.isInteger(v) || v < 0) throw new Error(`bench --rl: '${flag}' expects an integer >= 0, got '${get(flag)}'`);
    return v;
  };
  const sizes = (get('--sizes') ?? (quick ? 'tiny' : 'tiny,small')).split(',') as ModelSize[];
  for (const s of sizes) if (!(s in MODELS)) throw new Error(`bench --rl: unknown size '${s}'; expected ${Object.keys(MODELS).join(', ')}`);
  return {
    backends: (get('--backends') ?? (quick ? 'wasm' : 'wasm,cpu')).split(','),
    sizes,
    steps: int('--steps', quick ? 4 : 20),
    sftSteps: int('--sft-steps', quick ? 40 : 150),
    evalEvery: Math.max(1, int('--eval-every', quick ? 2 : 5)),
    evalSize: Math.max(1, int('--eval-size', quick ? 50 : 200)),
    machine: get('--machine') ?? `cpu${os.cpus().length}-${os.arch()}`,
    out: get('--out') ?? (argv.includes('--save') ? 'bench/results' : 'bench/results/tmp'),
    quick,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const MiB = 2 ** 20;

/** Runs the benchmark; `argv` are the command-line arguments after the script name. */
export async function runRlBench(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const rows: RlBenchRow[] = [];
  const skipped: string[] = [];
  const date = new Date().toISOString().slice(0, 10);
  const base = path.join(args.out, `rl-${args.machine}-${date}${args.quick ? '-quick' : ''}`);
  // Written after every model size, so that a long run interrupted keeps what it measured.
  const write = async (): Promise<void> => {
    mkdirSync(args.out, {recursive: true});
    const meta = {
      machine: args.machine, date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model,
      loadAvg: os.loadavg(), args, skipped, tfjs: tf.version_core,
    };
    writeFileSync(`${base}.json`, JSON.stringify({meta, rows}, null, 1) + '\n');
    writeFileSync(`${base}.md`, table(rows, meta));
    writeFileSync(`${base}.svg`, await chart(rows));
  };
  for (const backend of args.backends) {
    try {
      await useBackend(backend);
    } catch (e) {
      skipped.push(`${backend}: ${(e as Error).message}`);
      continue;
    }
    for (const size of args.sizes) {
      // The demo's recipe (sorting 5 digits, 64 completions per step, groups of 8), at this size.
      const config: ExperimentConfig = {
        seed: 0, model: size, task: 'sort', demos: 256, sftSteps: args.sftSteps, sftBatch: 32, sftLr: 3e-3, steps: args.steps,
        batchSize: 64, groupSize: 8, mu: 1, lr: 3e-4, beta: 0.04, temperature: 0.7, formatWeight: 0, critic: 'separate',
        evalSize: args.evalSize, evalEvery: args.evalEvery,
      };
      const task = makeTask(config);
      const t0 = performance.now();
      const policy0 = await coldStart(task, config);
      const sftSeconds = (performance.now() - t0) / 1000;
      const cold = await task.evaluate(policy0);
      console.log(`${backend} ${size}: cold start ${(100 * cold).toFixed(1)}% after ${args.sftSteps} SFT steps (${sftSeconds.toFixed(0)} s)`);
      for (const method of ['grpo', 'ppo'] as const) {
        const policy = policy0.copy({trainable: true});
        let peakRss = process.memoryUsage().rss;
        const t1 = performance.now();
        const result = await trainRl(method, policy, task, config, cold, () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); });
        policy.dispose();
        const seconds = result.records.map((r) => r.seconds * 1000);
        const row: RlBenchRow = {
          backend, size, method, layers: MODELS[size].layers, width: MODELS[size].width,
          coldStartAccuracy: cold, accuracy: result.accuracy,
          medianStepMs: median(seconds.slice(1).length ? seconds.slice(1) : seconds), meanStepMs: result.secondsPerStep * 1000,
          peakTensorMiB: result.peakBytes / MiB, peakRssMiB: peakRss / MiB,
          paramsInMemory: result.paramsInMemory, trainableParams: result.trainableParams,
          samplesPerStep: config.batchSize, steps: config.steps, sftSeconds, rlSeconds: (performance.now() - t1) / 1000,
          curve: [{samples: 0, accuracy: cold},
            ...result.records.filter((r) => r.accuracy !== undefined).map((r) => ({samples: r.step * config.batchSize, accuracy: r.accuracy!}))],
        };
        rows.push(row);
        console.log(`  ${method}: ${(100 * row.accuracy).toFixed(1)}% after ${row.steps * row.samplesPerStep} samples, ` +
          `${row.medianStepMs.toFixed(0)} ms/step, peak tensors ${row.peakTensorMiB.toFixed(1)} MiB, ${row.paramsInMemory} params in memory`);
      }
      policy0.dispose();
      await write();
    }
  }
  await write();
  for (const s of skipped) console.log(`skipped ${s}`);
  console.log(`wrote ${base}.json, .md and .svg`);
}

export function table(rows: RlBenchRow[], meta: {machine: string; date: string; loadAvg: number[]}): string {
  const lines = [
    `# GRPO vs PPO (${meta.machine}, ${meta.date.slice(0, 10)}, load average ${meta.loadAvg.map((l) => l.toFixed(1)).join(' ')})`, '',
    'Sorting 5 digits, 64 completions per step (8 prompts x 8), same prompts and budget for both methods; ' +
      'PPO with a separate critic trunk. Step time: median over the steps after the first.', '',
    '| backend | model | method | cold start | final accuracy | samples | ms / step | peak tensor MiB | peak RSS MiB | params in memory |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(`| ${r.backend} | ${r.size} (${r.layers}x${r.width}) | ${r.method.toUpperCase()} | ${(100 * r.coldStartAccuracy).toFixed(1)}% | ` +
      `${(100 * r.accuracy).toFixed(1)}% | ${r.steps * r.samplesPerStep} | ${r.medianStepMs.toFixed(0)} | ${r.peakTensorMiB.toFixed(1)} | ` +
      `${r.peakRssMiB.toFixed(0)} | ${r.paramsInMemory.toLocaleString('en-US')} |`);
  }
  return lines.join('\n') + '\n';
}

export async function chart(rows: RlBenchRow[]): Promise<string> {
  const values = rows.flatMap((r) => r.curve.map((c) => ({...c, method: r.method.toUpperCase(), model: r.size, backend: r.backend})));
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Held-out accuracy against completions sampled',
    data: {values},
    facet: {column: {field: 'backend', type: 'nominal', title: 'backend'}},
    spec: {
      width: 300, height: 220,
      mark: {type: 'line', point: true},
      encoding: {
        x: {field: 'samples', type: 'quantitative', title: 'completions sampled'},
        y: {field: 'accuracy', type: 'quantitative', title: 'held-out accuracy', scale: {domain: [0, 1]}},
        color: {field: 'method', type: 'nominal'},
        strokeDash: {field: 'model', type: 'nominal', legend: {symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400}},
      },
    },
  };
  return vegaLiteSvg(spec);
}

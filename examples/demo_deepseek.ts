/**
 * `npm run demo -- --arch deepseek`: a tiny DeepSeek-V3-architecture policy (MLA + DeepSeekMoE with
 * auxiliary-loss-free balancing + one MTP module) through cold-start SFT and GRPO on the demo task.
 * The cold start runs twice from the same seed, with and without the router bias update, to show its
 * effect on the expert load; GRPO continues from the balanced model; the MTP module then drafts for
 * greedy speculative decoding on held-out prompts (acceptance rate). Writes `<out>/deepseek/`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import type * as vl from 'vega-lite';
import {vegaLiteSvg} from './vega_svg.js';
import {DeepseekV3Policy} from '../src/models/deepseek_v3.js';
import type {DeepseekV3Config} from '../src/models/deepseek_v3_config.js';
import {mtpSpeculativeGreedy} from '../src/models/mtp_speculative_greedy.js';
import {accuracyReward} from '../src/rewards/accuracy_reward.js';
import {formatReward} from '../src/rewards/format_reward.js';
import {gate} from '../src/rewards/gate.js';
import {named} from '../src/rewards/named.js';
import {evaluatePolicy} from '../src/train/evaluate_policy.js';
import {grpoStep} from '../src/train/grpo_step.js';
import {encodeSftBatch, sftStep} from '../src/train/sft_step.js';
import {additionTokenizer, type AdditionProblem} from './tasks/addition_task.js';
import {sortingProblems} from './tasks/sorting_task.js';

/** Options of {@link runDeepseekDemo} (the demo's command-line values). */
export interface DeepseekDemoArgs {
  out: string; seed: number; digits?: number; demos: number; sftSteps: number; sftBatch: number; sftLr: number;
  steps: number; batchSize: number; groupSize: number; lr: number; beta: number; temperature: number; evalSize: number;
  quiet?: boolean;
}

/**
 * The tiny V3 configuration of the demo: 2 layers (dense, then MoE 8 routed top-2 + 1 shared), MLA with 4
 * heads and a 32-wide latent, one MTP module. (2 heads, d_c 16 and half the FFN widths reached only 12 %
 * after the same cold start; this width 28 %.)
 */
export function demoDeepseekConfig(vocabSize: number, contextLength: number): DeepseekV3Config {
  return {
    vocab_size: vocabSize, hidden_size: 32, intermediate_size: 128, moe_intermediate_size: 32, num_hidden_layers: 2,
    num_attention_heads: 4, n_shared_experts: 1, n_routed_experts: 8, num_experts_per_tok: 2, n_group: 2, topk_group: 2,
    norm_topk_prob: true, routed_scaling_factor: 1, first_k_dense_replace: 1, kv_lora_rank: 32, q_lora_rank: 24,
    qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 8, max_position_embeddings: contextLength, rms_norm_eps: 1e-6,
    rope_interleave: true, rope_theta: 10000, rope_scaling: null, num_nextn_predict_layers: 1, tie_word_embeddings: false,
  };
}

interface LoadRow { variant: string; step: number; maxOverMean: number; cv: number }

/**
 * Budget of the DeepSeek demo where the command line left a flag at its default: two cold starts
 * (with and without the bias update) and a model ~2x slower per token than the transformer's.
 */
export const DEEPSEEK_DEMO_DEFAULTS: Partial<DeepseekDemoArgs> = {sftSteps: 150, sftBatch: 16, steps: 15, batchSize: 32, temperature: 0.5, evalSize: 100};

/** Cold-start steps of the run without the bias update (the load comparison covers these steps of both runs). */
const COMPARE_STEPS = 40;

/** Runs the DeepSeek-V3 demo and writes its report; `isDefault(flag)` says which values to replace by {@link DEEPSEEK_DEMO_DEFAULTS}. */
export async function runDeepseekDemo(given: DeepseekDemoArgs, isDefault: (name: string) => boolean = () => false): Promise<Record<string, unknown>> {
  const args = {...given};
  for (const [k, v] of Object.entries(DEEPSEEK_DEMO_DEFAULTS)) if (isDefault(k)) (args as Record<string, unknown>)[k] = v;
  const t0 = performance.now();
  const out = join(args.out, 'deepseek');
  await mkdir(out, {recursive: true});
  const log = (line: string): void => { if (!args.quiet) console.log(line); };
  const tokenizer = additionTokenizer();
  const digits = args.digits ?? 5;
  const generate = (count: number, seed: number, exclude?: ReadonlySet<string>): AdditionProblem[] =>
    sortingProblems(count, {length: digits, seed, exclude});
  const heldOut = generate(args.evalSize, args.seed * 1000 + 999);
  const exclude = new Set(heldOut.map((p) => p.prompt));
  const demos = generate(args.demos, args.seed * 1000 + 1, exclude);
  const maxNewTokens = tokenizer.encode(demos[0]!.demonstration).length + 4;
  const contextLength = tokenizer.encode(heldOut[0]!.prompt).length + maxNewTokens + 1; // + 1: mtpSpeculativeGreedy verifies one token ahead
  // Completions end at '</answer>': the demonstrations carry no end-of-sequence token, so a stop on
  // `eosId` (never trained) would run every completion on to maxNewTokens and fail the format check.
  const stopToken = tokenizer.id('</answer>');
  const config = demoDeepseekConfig(tokenizer.vocabSize, contextLength);
  const accuracy = named('accuracy', gate(formatReward(), accuracyReward()));
  const evaluate = async (p: DeepseekV3Policy): Promise<number> =>
    (await evaluatePolicy(p, tokenizer, heldOut, accuracy, {maxNewTokens, stopToken})).score;

  // --- cold start, with and without the auxiliary-loss-free bias update (same seed, same batches) ---
  const compareSteps = Math.min(args.sftSteps, COMPARE_STEPS);
  const loadRows: LoadRow[] = [];
  // mean over the second half of the compared steps, where both runs exist
  const window = (variant: string, key: 'maxOverMean' | 'cv'): number => mean(loadRows
    .filter((r) => r.variant === variant && r.step > Math.floor(compareSteps / 2) && r.step <= compareSteps).map((r) => r[key]));
  const sftLoss: Array<{variant: string; step: number; loss: number}> = [];
  const variants = [['bias update (γ=0.01)', 0.01], ['no bias update', 0]] as const;
  let policy: DeepseekV3Policy | null = null;
  const cold: Record<string, number> = {};
  for (const [variant, gamma] of variants) {
    const steps = gamma > 0 ? args.sftSteps : compareSteps;
    const p = DeepseekV3Policy.create(config, {seed: args.seed, routerBiasGamma: gamma, mtpLossWeight: 0.3});
    const optimizer = tf.train.adam(args.sftLr);
    const start = performance.now();
    for (let s = 0; s < steps; s++) {
      const pairs = Array.from({length: args.sftBatch}, (_, i) => demos[(s * args.sftBatch + i) % demos.length]!)
        .map((d) => ({prompt: d.prompt, completion: d.demonstration}));
      const batch = encodeSftBatch(tokenizer, pairs, {contextLength});
      const r = await sftStep(p, optimizer, batch);
      tf.dispose(Object.values(batch));
      sftLoss.push({variant, step: s + 1, loss: r.loss});
      loadRows.push({variant, step: s + 1, maxOverMean: r['moe/maxOverMean']!, cv: r['moe/cv']!});
    }
    optimizer.dispose();
    cold[variant] = await evaluate(p);
    log(`deepseek sft [${variant}]: ${steps} steps, loss ${sftLoss[sftLoss.length - 1]!.loss.toFixed(3)}, ` +
      `expert load max/mean ${window(variant, 'maxOverMean').toFixed(2)} (steps ${Math.floor(compareSteps / 2) + 1}-${compareSteps}), held-out accuracy ` +
      `${pct(cold[variant]!)} (${((performance.now() - start) / 1000).toFixed(0)} s)`);
    if (gamma > 0) policy = p; else p.dispose();
  }

  // --- GRPO from the balanced cold start ---
  const trained = policy!;
  const reference = trained.copy({trainable: false});
  const optimizer = tf.train.adam(args.lr);
  const promptsPerStep = args.batchSize / args.groupSize;
  const stream = generate(args.steps * promptsPerStep, args.seed * 1000 + 2, exclude);
  const grpoRows: Array<Record<string, number>> = [];
  const grpoStart = performance.now();
  for (let i = 1; i <= args.steps; i++) {
    const m = await grpoStep({policy: trained, reference, optimizer, tokenizer, reward: accuracy},
        stream.slice((i - 1) * promptsPerStep, i * promptsPerStep),
        {groupSize: args.groupSize, maxNewTokens, stopToken, temperature: args.temperature, seed: args.seed * 100_000 + i, beta: args.beta});
    grpoRows.push({step: i, reward: m.reward, kl: m.kl, loss: m.loss, auxLoss: m.auxLoss ?? 0,
      maxOverMean: m['moe/maxOverMean'] as number, cv: m['moe/cv'] as number});
    loadRows.push({variant: 'GRPO (bias update)', step: args.sftSteps + i, maxOverMean: m['moe/maxOverMean'] as number, cv: m['moe/cv'] as number});
  }
  const grpoSeconds = (performance.now() - grpoStart) / 1000;
  const grpoAccuracy = await evaluate(trained);
  log(`deepseek grpo: ${args.steps} steps, reward ${(grpoRows[0]?.reward ?? 0).toFixed(2)} -> ${(grpoRows[grpoRows.length - 1]?.reward ?? 0).toFixed(2)}, ` +
    `held-out accuracy ${pct(grpoAccuracy)} (${grpoSeconds.toFixed(0)} s)`);
  optimizer.dispose();
  reference.dispose();

  // --- MTP self-speculative greedy decoding on held-out prompts ---
  let drafted = 0, accepted = 0, passes = 0, emitted = 0;
  for (const problem of heldOut.slice(0, 20)) {
    const r = mtpSpeculativeGreedy(trained, tokenizer.encode(problem.prompt), {maxNewTokens, stopToken});
    drafted += r.drafted; accepted += r.accepted; passes += r.mainPasses; emitted += r.tokens.length;
  }
  const acceptanceRate = drafted === 0 ? 0 : accepted / drafted;
  log(`deepseek MTP draft: acceptance ${pct(acceptanceRate)} (${accepted}/${drafted}), ${(emitted / passes).toFixed(2)} tokens per main pass`);

  const lastQuarter = (variant: string, key: 'maxOverMean' | 'cv'): number => {
    const rows = loadRows.filter((r) => r.variant === variant);
    return mean(rows.slice(-Math.max(1, Math.floor(rows.length / 4))).map((r) => r[key]));
  };
  const summary = {
    config, params: trained.numParams(), activeParams: trained.activeParams(),
    coldStart: Object.fromEntries(variants.map(([v, g]) => [v, {steps: g > 0 ? args.sftSteps : compareSteps, accuracy: cold[v],
      maxOverMean: window(v, 'maxOverMean'), cv: window(v, 'cv')}])),
    comparedSteps: [Math.floor(compareSteps / 2) + 1, compareSteps],
    grpo: {accuracy: grpoAccuracy, steps: args.steps, seconds: grpoSeconds, maxOverMean: lastQuarter('GRPO (bias update)', 'maxOverMean')},
    mtp: {acceptanceRate, drafted, accepted, tokensPerMainPass: emitted / passes},
    totalSeconds: (performance.now() - t0) / 1000,
  };
  trained.dispose();
  await writeFile(join(out, 'metrics.json'), JSON.stringify({sftLoss, loadRows, grpoRows}, null, 1));
  await writeFile(join(out, 'summary.json'), JSON.stringify(summary, null, 2));
  await writeFile(join(out, 'expert-load.svg'), await loadChart(loadRows));
  await writeFile(join(out, 'report.md'), report(summary));
  log(`deepseek demo: ${summary.totalSeconds.toFixed(0)} s; report in ${out}/`);
  return summary;
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

async function loadChart(rows: LoadRow[]): Promise<string> {
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'MoE expert load (max / mean tokens per expert, MoE layer 1) per training step',
    width: 520, height: 280,
    data: {values: rows},
    mark: {type: 'line'},
    encoding: {
      x: {field: 'step', type: 'quantitative', title: 'step (SFT, then GRPO)'},
      y: {field: 'maxOverMean', type: 'quantitative', title: 'max load / mean load (1 = balanced)'},
      color: {field: 'variant', type: 'nominal', title: 'run'},
    },
  };
  return vegaLiteSvg(spec);
}

function report(s: {coldStart: Record<string, {steps: number; accuracy?: number; maxOverMean: number; cv: number}>; comparedSteps: number[]; grpo: {accuracy: number; steps: number; maxOverMean: number};
  mtp: {acceptanceRate: number; drafted: number; accepted: number; tokensPerMainPass: number}; params: number; activeParams: number; totalSeconds: number}): string {
  return [
    '# tfjs-grpo demo: DeepSeek-V3 architecture', '',
    `A ${s.params}-parameter (${Math.round(s.activeParams)} active per token) DeepSeek-V3-architecture policy: MLA, ` +
      'DeepSeekMoE (8 routed experts, top-2, 1 shared; sigmoid gates; auxiliary-loss-free bias balancing), one MTP module ' +
      '(λ = 0.3). Task: sort digits with a scratchpad, format-gated accuracy reward.', '',
    `| run | held-out accuracy | expert load max/mean, SFT steps ${s.comparedSteps.join('-')} | CV |`, '| --- | --- | --- | --- |',
    ...Object.entries(s.coldStart).map(([v, r]) => `| cold start (${r.steps} SFT steps), ${v} | ${pct(r.accuracy ?? 0)} | ${r.maxOverMean.toFixed(2)} | ${r.cv.toFixed(2)} |`),
    `| GRPO (${s.grpo.steps} steps) from the balanced cold start | ${pct(s.grpo.accuracy)} | ${s.grpo.maxOverMean.toFixed(2)} (last quarter of GRPO) | |`, '',
    `MTP as the draft of greedy speculative decoding (20 held-out prompts): acceptance ${pct(s.mtp.acceptanceRate)} ` +
      `(${s.mtp.accepted}/${s.mtp.drafted}), ${s.mtp.tokensPerMainPass.toFixed(2)} tokens per main-model pass (output equal to plain greedy).`, '',
    '![expert load](expert-load.svg)', '', `Total ${s.totalSeconds.toFixed(0)} s on the \`${tf.getBackend()}\` backend.`, '',
  ].join('\n');
}

/**
 * `npm run demo -- --recipe r1-zero --out DIR`: DeepSeek-R1-Zero in miniature. A base model pretrained
 * only by next-token prediction on task-like text (digit strings, sorted digit strings, and the R1 tags
 * as isolated markup, never the prompt -> <think> -> <answer> template nor a worked demonstration),
 * then GRPO with the template and rule-based rewards (format-gated accuracy + tag-count format). Reports per
 * step the format rate, greedy accuracy, pass@1 (k samples at temperature 0.6) and mean length.
 */
import * as tf from '@tensorflow/tfjs-core';
import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Command, Option} from 'commander';
import type * as vl from 'vega-lite';
import {vegaLiteSvg} from '../vega_svg.js';
import {mulberry32} from '../../src/models/mulberry32.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import type {RewardFn, Sample} from '../../src/rewards/types.js';
import {gate} from '../../src/rewards/gate.js';
import {named} from '../../src/rewards/named.js';
import {weighted} from '../../src/rewards/weighted.js';
import {evaluatePolicy} from '../../src/train/evaluate_policy.js';
import {grpoStep} from '../../src/train/grpo_step.js';
import {encodeSftBatch, sftStep} from '../../src/train/sft_step.js';
import {additionTokenizer} from '../tasks/addition_task.js';
import {sortingProblems} from '../tasks/sorting_task.js';

interface Args { out: string; backend: string; seed: number; steps: number; pretrainSteps: number; digits: number; k: number; quiet?: boolean }

export async function runR1Zero(argv: string[]): Promise<void> {
  const args = new Command().name('demo --recipe r1-zero')
    .requiredOption('--out <dir>', 'report folder')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['cpu', 'wasm']).default('wasm'))
    .option('--seed <n>', 'seed', (v) => Number(v), 0)
    .option('--steps <n>', 'GRPO steps', (v) => Number(v), 30)
    .option('--pretrain-steps <n>', 'next-token pretraining steps', (v) => Number(v), 300)
    .option('--digits <n>', 'digits per prompt', (v) => Number(v), 4)
    .option('--k <n>', 'samples per prompt for pass@1', (v) => Number(v), 4)
    .option('--quiet', 'no progress lines')
    .parse(argv, {from: 'user'}).opts<Args>();
  if (args.backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(args.backend))) throw new Error(`demo: backend '${args.backend}' could not be initialised`);
  await tf.ready();
  const t0 = performance.now();
  await mkdir(args.out, {recursive: true});
  const log = (s: string) => { if (!args.quiet) console.log(s); };

  const tokenizer = additionTokenizer();
  const template = (ps: ReturnType<typeof sortingProblems>) => ps.map((p) => ({...p, prompt: `${p.prompt}<think>`}));
  const heldOut = template(sortingProblems(48, {length: args.digits, seed: args.seed * 1000 + 999}));
  const exclude = new Set(heldOut.map((p) => p.prompt.slice(0, args.digits)));
  const train = template(sortingProblems(args.steps * 8, {length: args.digits, seed: args.seed * 1000 + 2, exclude}));
  const maxNewTokens = tokenizer.encode(train[0]!.demonstration).length + 2;
  const contextLength = args.digits + 1 + maxNewTokens;
  const stopToken = tokenizer.id('</answer>');

  // --- base model: next-token prediction on task-like text, no template, no worked demonstration ---
  const random = mulberry32(args.seed + 7);
  const digitsOf = () => Array.from({length: args.digits}, () => Math.floor(random() * 10));
  // Raw task text: a digit string, '=', its sorted digits listed, '=', the sorted string. The sorting
  // (the tags' content) is in the corpus, as solutions are in a real base's; the template is not:
  // the tags appear only as markup standing alone (with sorted digits of no prompt), never after one.
  const document = (): string => {
    const d = digitsOf();
    const sorted = [...d].sort((a, b) => a - b);
    const kind = Math.floor(random() * 4);
    if (kind === 0) return d.join('');
    if (kind === 1) return `${d.join('')}=${sorted.join(',')}=${sorted.join('')}`;
    if (kind === 2) return `<think>${sorted.join(',')}</think>`;
    return `<think>${sorted.join(',')}</think><answer>${sorted.join('')}</answer>`;
  };
  const base = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength, layers: 2, width: 32, heads: 4, seed: args.seed});
  const pretrainOptimizer = tf.train.adam(3e-3);
  for (let s = 0; s < args.pretrainSteps; s++) {
    const docs = Array.from({length: 16}, document).map((text) => ({prompt: text.startsWith('<') ? text.slice(0, text.indexOf('>') + 1) : text[0]!,
      completion: text.startsWith('<') ? text.slice(text.indexOf('>') + 1) : text.slice(1)}));
    const batch = encodeSftBatch(tokenizer, docs, {contextLength});
    await sftStep(base, pretrainOptimizer, batch);
    tf.dispose(Object.values(batch));
  }
  pretrainOptimizer.dispose();

  // --- GRPO with the template: reason in <think>, answer in <answer>; accuracy + format rewards ---
  // R1-Zero's rule-based rewards: accuracy (gated by the strict format) + format. The format term gives
  // partial credit for the template's parts written *in order from the start* (<think>, content,
  // </think>, <answer>, content, </answer>): unlike a tag count it pays nothing for stopping early on a
  // lone closing tag, which is how an earlier version of this recipe collapsed to 1-token responses.
  // The template ends the prompt with '<think>' (as R1-Zero's ends with 'Assistant:' after describing
  // the tags, and open reproductions end it with '<think>'); rewards see the completion with it.
  const format = named('format', thinking(formatReward()));
  const accuracy = named('accuracy', thinking(gate(formatReward(), accuracyReward())));
  const reward = weighted([[accuracy, 1], [named('template', thinking(templatePrefixReward)), 0.5], [format, 0]]);
  const evalOpts = {maxNewTokens, stopToken};
  const lengthOf = (texts: string[]) => texts.reduce((a, c) => a + tokenizer.encode(c).length, 0) / texts.length;
  const examples = new Map<number, string[]>();
  const measure = async (step: number, trainFormat: number | null) => {
    const greedy = await evaluatePolicy(base, tokenizer, heldOut, accuracy, evalOpts);
    let pass = 0;
    for (let j = 0; j < args.k; j++) {
      pass += (await evaluatePolicy(base, tokenizer, heldOut, accuracy, {...evalOpts, temperature: 0.6, seed: 100 * step + j})).score;
    }
    const formatRate = trainFormat ?? (await evaluatePolicy(base, tokenizer, heldOut, format, {...evalOpts, temperature: 0.6, seed: 7})).score;
    examples.set(step, greedy.completions.slice(0, 3).map((c, i) => `${heldOut[i]!.prompt}${c}`));
    return {step, formatRate, accuracy: greedy.score, pass1: pass / args.k, meanLength: lengthOf(greedy.completions)};
  };
  const steps = [await measure(0, null)];
  log(`step 0 (base): ${JSON.stringify(steps[0])}`);
  const reference = base.copy({trainable: false});
  const optimizer = tf.train.adam(1e-3);
  const metrics: Record<string, unknown>[] = [];
  for (let s = 1; s <= args.steps; s++) {
    const m = await grpoStep({policy: base, reference, optimizer, tokenizer, reward}, train.slice((s - 1) * 8, s * 8),
        {groupSize: 8, maxNewTokens, stopToken, temperature: 1, seed: args.seed * 100_000 + s, beta: 0.04});
    metrics.push({step: s, ...m});
    const row = await measure(s, m.rewardComponents.format ?? null);
    steps.push({...row, meanLength: m.completionLength});
    log(`step ${s}: ${JSON.stringify(steps[steps.length - 1])}`);
  }
  optimizer.dispose();
  reference.dispose();
  base.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const summary = {recipe: 'r1-zero', steps, config: {...args, backend: tf.getBackend(), seconds}};
  await writeFile(join(args.out, 'summary.json'), JSON.stringify(summary, null, 2));
  await writeFile(join(args.out, 'metrics.json'), JSON.stringify(metrics, null, 1));
  await writeFile(join(args.out, 'curves.svg'), await curves(steps));
  const last = steps[steps.length - 1]!;
  await writeFile(join(args.out, 'report.md'), [
    '# R1-Zero in miniature', '',
    `Base: 2x32 transformer pretrained ${args.pretrainSteps} steps on task-like text (no template). ` +
      `Then ${args.steps} GRPO steps x 64 completions with format-gated accuracy + 0.5 x in-order template credit. ${seconds.toFixed(0)} s on ${tf.getBackend()}.`, '',
    '| step | format rate | greedy accuracy | pass@1 | mean length |', '| --- | --- | --- | --- | --- |',
    ...steps.map((r) => `| ${r.step} | ${r.formatRate.toFixed(2)} | ${r.accuracy.toFixed(2)} | ${r.pass1.toFixed(2)} | ${r.meanLength.toFixed(1)} |`),
    '', 'Greedy completions of three held-out prompts (prompt + template, then the completion):', '',
    ...[0, args.steps].map((k) => `- step ${k}: ${(examples.get(k) ?? []).map((e) => `\`${e}\``).join(', ')}`),
    '', '![curves](curves.svg)', '',
  ].join('\n'));
  console.log(`r1-zero: format ${steps[0]!.formatRate.toFixed(2)} -> ${last.formatRate.toFixed(2)}, accuracy ` +
    `${steps[0]!.accuracy.toFixed(2)} -> ${last.accuracy.toFixed(2)}; ${seconds.toFixed(0)} s; report in ${args.out}/`);
}

/** The template's '<think>' (the end of the prompt) put back in front of the completion, for a reward. */
const thinking = (fn: RewardFn): RewardFn => (samples) => fn(samples.map((x) => ({...x, completion: `<think>${x.completion}`})));

/** Share of the template written in order from the start: 1/4 per part (`<think>x`, `</think>`, `<answer>x`, `</answer>`). */
function templatePrefixReward(samples: readonly Sample[]): number[] {
  return samples.map(({completion}) => {
    const parts = [/^<think>[^<]+/, /^<\/think>/, /^<answer>[^<]+/, /^<\/answer>/];
    let rest = completion;
    let k = 0;
    for (const re of parts) {
      const m = re.exec(rest);
      if (m === null) break;
      rest = rest.slice(m[0].length);
      k++;
    }
    return k / parts.length;
  });
}

async function curves(steps: Array<Record<string, number>>): Promise<string> {
  const values = steps.flatMap((r) => ['formatRate', 'accuracy', 'pass1'].map((series) => ({step: r.step, series, value: r[series]})));
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title: 'R1-Zero in miniature', width: 480, height: 260,
    data: {values}, mark: {type: 'line', point: true},
    encoding: {x: {field: 'step', type: 'quantitative'}, y: {field: 'value', type: 'quantitative', scale: {domain: [0, 1]}},
      color: {field: 'series', type: 'nominal'}},
  };
  return vegaLiteSvg(spec);
}

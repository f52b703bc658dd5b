// Benchmark: scoring 1,000 completions of 2,000 characters with the rule-based rewards.
//
//   npx tsx bench/rewards.ts [--quick]
//
// Prints a table and a JSON document to stdout and writes bench/results/rewards-latest.json.
// Every repetition scores a freshly generated batch (new random answers and references, new reward
// instances), so the per-reward result caches start cold and the numbers are not cache hits. The
// first R1 run is reported separately: it includes importing the Compute Engine.
// Single-threaded (one CPU core): rewards are synchronous JavaScript apart from the engine import.
import {mkdirSync, writeFileSync} from 'node:fs';
import {cpus} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {
  accuracyReward, cosineLengthReward, formatReward, gate, languageConsistencyReward, lengthReward, named,
  overlongPenalty, reasoningStepsReward, repetitionPenalty, scoreRewards, tagCountReward, weighted,
  type RewardFn, type Sample,
} from '../src/index.js';
import {mulberry32} from '../src/models/mulberry32.js';

const QUICK = process.argv.includes('--quick');
const N = 1000;
const CHARS = 2000;
const GROUP = 8;
const REPS = QUICK ? 3 : 10;

/** Deterministic pseudo-random numbers (mulberry32, the sampler's generator). */
const rng = mulberry32;

const WORDS = ('let me think about this problem step by step first we add the two numbers then we check the ' +
  'result again carefully so the total is clear wait maybe I made a mistake no it is fine next multiply both sides ' +
  'finally the answer follows').split(' ');

/** One batch of N completions of exactly CHARS characters, groups of GROUP sharing a reference. */
function makeBatch(seed: number): Sample[] {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const samples: Sample[] = [];
  for (let g = 0; g < N / GROUP; g++) {
    const kind = r();
    const a = int(2, 999);
    const b = int(2, 99);
    // 60% integer answers, 25% fractions/decimals, 15% symbolic radicals.
    const [reference, right, wrong] = kind < 0.6 ? [String(a), String(a), String(a + int(1, 9))] :
      kind < 0.85 ? [`\\frac{${a}}{${b}}`, `\\dfrac{${2 * a}}{${2 * b}}`, `\\frac{${b}}{${a}}`] :
      [`\\sqrt{${4 * b}}`, `2\\sqrt{${b}}`, `4\\sqrt{${b}}`];
    for (let k = 0; k < GROUP; k++) {
      const u = r();
      const answer = u < 0.5 ? right : u < 0.85 ? wrong : null; // 15%: no final answer
      const tail = answer === null ? '</think>\nI am not sure.' : `</think>\n<answer>\n\\boxed{${answer}}\n</answer>`;
      let reasoning = '<think>\n';
      let step = 1;
      while (reasoning.length < CHARS - tail.length) {
        reasoning += r() < 0.05 ? `\nStep ${step++}: ` : r() < 0.02 ? '然后 ' : `${WORDS[int(0, WORDS.length - 1)]} `;
      }
      const completion = (reasoning.slice(0, CHARS - tail.length) + tail);
      samples.push({prompt: `problem ${g}`, completion, reference, groupId: g});
    }
  }
  return samples;
}

function r1Reward(): RewardFn {
  return weighted([
    [named('accuracy', gate(formatReward(), accuracyReward())), 1],
    [named('language', languageConsistencyReward({language: 'en'})), 0.1],
  ]);
}

function allRewards(): RewardFn {
  const accuracy = named('accuracy', accuracyReward());
  return weighted([
    [gate(named('format', formatReward()), accuracy), 1],
    [named('tags', tagCountReward()), 0.1],
    [named('language', languageConsistencyReward({language: 'en'})), 0.1],
    [named('overlong', overlongPenalty({maxLength: 4096})), 1],
    [named('length', lengthReward({isCorrect: accuracy, groupSize: GROUP})), 0.1],
    [named('cosine', cosineLengthReward({isCorrect: accuracy, maxLength: 4096})), 0.1],
    [named('repetition', repetitionPenalty()), 0.1],
    [named('steps', reasoningStepsReward()), 0.1],
  ]);
}

const CASES: [string, () => RewardFn][] = [
  ['R1: gate(format, accuracy) + 0.1 language', r1Reward],
  ['all 9 rewards, weighted', allRewards],
  ['accuracyReward', () => accuracyReward()],
  ['formatReward', () => formatReward()],
  ['tagCountReward', () => tagCountReward()],
  ['languageConsistencyReward', () => languageConsistencyReward({language: 'en'})],
  ['overlongPenalty', () => overlongPenalty({maxLength: 4096})],
  ['lengthReward (format as correctness)', () => lengthReward({isCorrect: formatReward(), groupSize: GROUP})],
  ['cosineLengthReward (format as correctness)', () => cosineLengthReward({isCorrect: formatReward()})],
  ['repetitionPenalty', () => repetitionPenalty()],
  ['reasoningStepsReward', () => reasoningStepsReward()],
];

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  let seed = 1;
  // Cold: the very first R1 scoring, including the Compute Engine import.
  const coldBatch = makeBatch(seed++);
  const t0 = performance.now();
  const cold = await scoreRewards(r1Reward(), coldBatch);
  const coldMs = performance.now() - t0;

  const rows: {name: string; medianMs: number; minMs: number; maxMs: number; usPerCompletion: number}[] = [];
  for (const [name, make] of CASES) {
    await scoreRewards(make(), makeBatch(seed++)); // warm-up (JIT)
    const times: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const batch = makeBatch(seed++);
      const fn = make();
      const start = performance.now();
      await scoreRewards(fn, batch);
      times.push(performance.now() - start);
    }
    const med = median(times);
    rows.push({name, medianMs: med, minMs: Math.min(...times), maxMs: Math.max(...times), usPerCompletion: (med * 1000) / N});
  }

  const result = {
    benchmark: 'rewards',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    quick: QUICK,
    completions: N,
    charsPerCompletion: CHARS,
    groupSize: GROUP,
    repetitions: REPS,
    coldR1Ms: coldMs,
    coldR1Metrics: cold.metrics,
    cases: rows,
  };

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`rewards benchmark: ${N} completions x ${CHARS} chars, groups of ${GROUP}, median of ${REPS} (node ${process.version}, ${result.cpu})`);
  console.log(`cold R1 scoring (includes importing the Compute Engine): ${coldMs.toFixed(1)} ms`);
  console.log(`${pad('reward', 46)}${pad('median ms', 12)}${pad('min ms', 10)}${pad('max ms', 10)}us/completion`);
  for (const row of rows) {
    console.log(`${pad(row.name, 46)}${pad(row.medianMs.toFixed(1), 12)}${pad(row.minMs.toFixed(1), 10)}${pad(row.maxMs.toFixed(1), 10)}${row.usPerCompletion.toFixed(1)}`);
  }
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'rewards-latest.json');
  mkdirSync(dirname(out), {recursive: true});
  writeFileSync(out, `${json}\n`);
}

await main();

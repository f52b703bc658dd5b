// npx tsx bench/fp8.ts [--backend cpu|wasm] [--max-k 16384] [--steps 40] [--model tiny|small] [--out bench/results]
//
// Measures the simulated FP8 training numerics against DeepSeek-V3's own numbers (docs/fp8.md):
// (1) GEMM relative error vs float32 for K = 512 ... max-k, with and without promotion to float32
//     every N_C = 128 (paper, §3.3.2: ~2% max relative error at K = 4096 without promotion);
// (2) training-loss relative difference of FP8 vs float32 over the same SFT steps of the demo model
//     (same init, same batches; paper, §3.3 / Appendix B.1: below 0.25%);
// (3) the cost of the simulation (tensor-op fakeQuantFp8 vs a typed-array round trip, fp8Matmul vs
//     tf.matMul, an SFT step with and without --fp8).
// Writes bench/results/fp8-latest.json and prints markdown tables. PyTorch has no counterpart to time
// here (torch's float8 matmul needs an H100; the fixtures in test/fixtures/fp8 check the numerics).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fakeQuantFp8} from '../src/math/fake_quant_fp8.js';
import {decodeFp8, encodeFp8} from '../src/math/fp8_format.js';
import {fp8Matmul} from '../src/math/fp8_matmul.js';
import {TransformerPolicy} from '../src/models/transformer_policy.js';
import {encodeSftBatch, sftStep} from '../src/train/sft_step.js';
import {additionTokenizer} from '../examples/tasks/addition_task.js';
import {sortingProblems} from '../examples/tasks/sorting_task.js';

const argv = process.argv.slice(2);
const get = (flag: string, fallback: string): string => {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const backend = get('--backend', 'cpu');
const maxK = Number(get('--max-k', '16384'));
const steps = Number(get('--steps', '40'));
const modelSize = get('--model', 'small');
const outDir = get('--out', 'bench/results');
const MODELS = {tiny: {layers: 2, width: 32, heads: 4}, small: {layers: 2, width: 64, heads: 4}} as const;

const read = (t: tf.Tensor): number => { const v = t.dataSync()[0]!; t.dispose(); return v; };
/** max |y - ref| / max |ref| (the paper's "maximum relative error" of a GEMM). */
const maxRel = (y: tf.Tensor, ref: tf.Tensor): number =>
  read(tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(y, ref))), tf.max(tf.abs(ref)))));
function timeMs(f: () => void, repeats = 5): number {
  f();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) { const t = performance.now(); f(); times.push(performance.now() - t); }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function gemmError(): Promise<Array<Record<string, number | string>>> {
  const rows: Array<Record<string, number | string>> = [];
  const M = 16, N = 16;
  for (const dist of ['uniform(0,1)', 'normal(0,1)'] as const) {
    for (let K = 512; K <= maxK; K *= 2) {
      const [a, b, ref, deq] = tf.tidy(() => {
        const a = dist === 'normal(0,1)' ? tf.randomNormal([M, K], 0, 1, 'float32', K) : tf.randomUniform([M, K], 0, 1, 'float32', K);
        const b = dist === 'normal(0,1)' ? tf.randomNormal([K, N], 0, 1, 'float32', K + 1) : tf.randomUniform([K, N], 0, 1, 'float32', K + 1);
        return [a, b, tf.matMul(a, b), tf.matMul(fakeQuantFp8(a, {tile: [1, 128]}), fakeQuantFp8(b, {tile: [128, 128]}))];
      });
      const promoted = fp8Matmul(a, b);
      const none = fp8Matmul(a, b, {promotionInterval: Infinity});
      const row = {
        inputs: dist, K,
        quantizationOnly: maxRel(deq, ref),
        withPromotion: maxRel(promoted, ref), withoutPromotion: maxRel(none, ref),
        accumulationWithPromotion: maxRel(promoted, deq), accumulationWithoutPromotion: maxRel(none, deq),
      };
      rows.push(row);
      console.error(`gemm ${dist} K=${K}: without ${(row.withoutPromotion * 100).toFixed(3)}%, with ${(row.withPromotion * 100).toFixed(3)}%`);
      tf.dispose([a, b, ref, deq, promoted, none]);
    }
  }
  return rows;
}

/** The accumulator model's sensitivity: no promotion, K = 4096, truncation after every mmaK products. */
function mmaSensitivity(): Array<{mmaK: number; accumulationWithoutPromotion: number; accumulationWithPromotion: number}> {
  const K = 4096;
  const [a, b, deq] = tf.tidy(() => {
    const a = tf.randomUniform([16, K], 0, 1, 'float32', 11), b = tf.randomUniform([K, 16], 0, 1, 'float32', 12);
    return [a, b, tf.matMul(fakeQuantFp8(a, {tile: [1, 128]}), fakeQuantFp8(b, {tile: [128, 128]}))];
  });
  const rows = [4, 8, 16, 32].map((mmaK) => {
    const none = fp8Matmul(a, b, {mmaK, promotionInterval: Infinity});
    const promoted = fp8Matmul(a, b, {mmaK});
    const row = {mmaK, accumulationWithoutPromotion: maxRel(none, deq), accumulationWithPromotion: maxRel(promoted, deq)};
    tf.dispose([none, promoted]);
    console.error(`mmaK=${mmaK}: ${(row.accumulationWithoutPromotion * 100).toFixed(3)}%`);
    return row;
  });
  tf.dispose([a, b, deq]);
  return rows;
}

async function trainingLoss(): Promise<{losses32: number[]; losses8: number[]; relDiff: number[]; stepMs32: number; stepMs8: number}> {
  const tokenizer = additionTokenizer();
  const demos = sortingProblems(256, {length: 5, seed: 1});
  const contextLength = tokenizer.encode(demos[0]!.prompt).length + tokenizer.encode(demos[0]!.demonstration).length + 4;
  const run = async (fp8: boolean): Promise<{losses: number[]; ms: number}> => {
    const policy = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength, ...MODELS[modelSize as 'small'], seed: 0, fp8});
    const optimizer = tf.train.adam(3e-3);
    const losses: number[] = [];
    const t = performance.now();
    for (let s = 0; s < steps; s++) {
      const pairs = Array.from({length: 20}, (_, i) => demos[(s * 20 + i) % demos.length]!)
        .map((d) => ({prompt: d.prompt, completion: d.demonstration}));
      const batch = encodeSftBatch(tokenizer, pairs, {contextLength});
      losses.push((await sftStep(policy, optimizer, batch)).loss);
      tf.dispose(Object.values(batch));
    }
    const ms = (performance.now() - t) / steps;
    optimizer.dispose();
    policy.dispose();
    return {losses, ms};
  };
  const r32 = await run(false);
  const r8 = await run(true);
  const relDiff = r32.losses.map((l, i) => Math.abs(r8.losses[i]! - l) / Math.abs(l));
  return {losses32: r32.losses, losses8: r8.losses, relDiff, stepMs32: r32.ms, stepMs8: r8.ms};
}

function cost() {
  const x = tf.randomNormal([256, 1024], 0, 1, 'float32', 5);
  const w = tf.randomNormal([1024, 256], 0, 1, 'float32', 6);
  const data = x.dataSync() as Float32Array;
  const out = {
    fakeQuantTensorMs: timeMs(() => { const y = fakeQuantFp8(x); y.dataSync(); y.dispose(); }),
    roundTripTypedArrayMs: timeMs(() => { decodeFp8(encodeFp8(data, 'e4m3'), 'e4m3'); }),
    fp8MatmulMs: timeMs(() => { const y = fp8Matmul(x, w); y.dataSync(); y.dispose(); }, 3),
    float32MatmulMs: timeMs(() => { const y = tf.matMul(x, w); y.dataSync(); y.dispose(); }),
  };
  tf.dispose([x, w]);
  return out;
}

async function main(): Promise<void> {
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backend);
  await tf.ready();
  const gemm = await gemmError();
  const sensitivity = mmaSensitivity();
  const train = await trainingLoss();
  const costs = cost();
  const last = train.relDiff.length - 1;
  const meanRel = train.relDiff.reduce((a, b) => a + b, 0) / train.relDiff.length;
  const result = {
    backend, date: new Date().toISOString(), model: {size: modelSize, ...MODELS[modelSize as 'small']}, steps,
    gemm, mmaSensitivity: sensitivity, training: {...train, meanRelDiff: meanRel, maxRelDiff: Math.max(...train.relDiff), finalRelDiff: train.relDiff[last]},
    cost: {...costs, sftStepMsFloat32: train.stepMs32, sftStepMsFp8: train.stepMs8},
  };
  mkdirSync(outDir, {recursive: true});
  writeFileSync(path.join(outDir, 'fp8-latest.json'), JSON.stringify(result, null, 1));
  const pct = (v: number | string): string => `${(Number(v) * 100).toFixed(3)}%`;
  console.log(`## FP8 GEMM, max relative error vs float32 (M = N = 16, backend ${backend})\n`);
  console.log('| inputs | K | quantization only | FP8 GEMM, promotion every 128 | FP8 GEMM, no promotion | accumulation only, promoted | accumulation only, not promoted |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of gemm) {
    console.log(`| ${r.inputs} | ${r.K} | ${pct(r.quantizationOnly!)} | ${pct(r.withPromotion!)} | ${pct(r.withoutPromotion!)} | ${pct(r.accumulationWithPromotion!)} | ${pct(r.accumulationWithoutPromotion!)} |`);
  }
  console.log('\n## Accumulator model sensitivity (uniform inputs, K = 4096): truncation after every mmaK products\n');
  console.log('| mmaK | accumulation error, no promotion | with promotion every 128 |');
  console.log('| --- | --- | --- |');
  for (const r of sensitivity) console.log(`| ${r.mmaK} | ${pct(r.accumulationWithoutPromotion)} | ${pct(r.accumulationWithPromotion)} |`);
  console.log(`\n## Training loss, FP8 vs float32 (SFT, ${steps} steps, model ${modelSize})\n`);
  console.log('| mean rel. diff | max rel. diff | final rel. diff | final loss float32 | final loss FP8 |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${pct(meanRel)} | ${pct(Math.max(...train.relDiff))} | ${pct(train.relDiff[last]!)} | ${train.losses32[last]!.toFixed(4)} | ${train.losses8[last]!.toFixed(4)} |`);
  console.log('\n## Cost (median ms; shared machine, indicative)\n');
  console.log('| fakeQuantFp8 [256,1024] tensor ops | typed-array encode+decode | fp8Matmul 256x1024x256 | tf.matMul same | SFT step float32 | SFT step FP8 |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const c = {...costs, sftStepMsFloat32: train.stepMs32, sftStepMsFp8: train.stepMs8};
  console.log(`| ${c.fakeQuantTensorMs.toFixed(1)} | ${c.roundTripTypedArrayMs.toFixed(1)} | ${c.fp8MatmulMs.toFixed(1)} | ${c.float32MatmulMs.toFixed(1)} | ${c.sftStepMsFloat32.toFixed(0)} | ${c.sftStepMsFp8.toFixed(0)} |`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });

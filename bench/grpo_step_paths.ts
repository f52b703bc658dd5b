// grpoStep on the demo's experiment with the loss's composed ops (before issue 12: grpoLossWithStats
// always ran them) against the default (`implementation: 'auto'`: the fused kernel and its statistics).
//   npx tsx bench/grpo_step_paths.ts [--backend cpu|wasm|webgpu] [--steps N] [--model tiny|small|base]
//       [--sft-steps N] [--out FILE.json]
// Two copies of one cold-started policy, each with its own Adam, take the same steps (same prompts,
// same sampling seeds) alternating which goes first; the first step of each is warm-up. Prints the
// median step time of both, their ratio and the median of the per-step ratios, and checks that the
// losses of the first step with a non-zero loss agree (the two paths compute the same objective). On webgpu the composed path runs with value checks off (they
// read back through dataSync, which Node.js's WebGPU lacks); the default path keeps them on.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {writeFileSync} from 'node:fs';
import os from 'node:os';
import {coldStart, type ExperimentConfig, makeTask, MODELS, type ModelSize, useBackend} from '../examples/grpo_vs_ppo.js';
import {configureValidation} from '../src/index.js';
import {grpoStep} from '../src/train/grpo_step.js';

const argv = process.argv.slice(2);
const get = (flag: string, fallback: string): string => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1]! : fallback; };
const backend = get('--backend', 'wasm');
const steps = Number(get('--steps', '8'));
const model = get('--model', 'tiny') as ModelSize;
if (!(model in MODELS)) throw new Error(`grpo_step_paths: unknown --model '${model}'`);
if (!Number.isInteger(steps) || steps < 2) throw new Error(`grpo_step_paths: --steps expects an integer >= 2, got ${steps}`);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  if (backend === 'webgpu') {
    const {activateWebGPU} = await import('./activate_webgpu.js');
    await activateWebGPU();
  } else {
    await useBackend(backend);
  }
  // The demo's defaults (examples/demo.ts): its cold start, then RL steps of 64 completions.
  const config: ExperimentConfig = {
    seed: 0, model, task: 'sort', demos: 256, sftSteps: Number(get('--sft-steps', '150')), sftBatch: 32, sftLr: 3e-3,
    steps, batchSize: 64, groupSize: 8, mu: 1, lr: 3e-4, beta: 0.04, temperature: 0.7, formatWeight: 0,
    critic: 'separate', evalSize: 8, evalEvery: steps,
  };
  const task = makeTask(config);
  const base = await coldStart(task, config);
  const reference = base.copy({trainable: false});
  const runs = (['composed', 'auto'] as const).map((implementation) => ({
    implementation, policy: base.copy({trainable: true}), optimizer: tf.train.adam(config.lr), ms: [] as number[], losses: [] as number[],
  }));
  base.dispose();
  for (let i = 1; i <= steps; i++) {
    for (const r of i % 2 === 0 ? [...runs].reverse() : runs) {
      const composed = r.implementation === 'composed';
      if (composed && backend === 'webgpu') configureValidation({valueChecks: false});
      const t0 = performance.now();
      const m = await grpoStep({policy: r.policy, reference, optimizer: r.optimizer, tokenizer: task.tokenizer, reward: task.reward},
          task.problemsAt(i), {groupSize: config.groupSize, maxNewTokens: task.maxNewTokens, temperature: config.temperature,
            stopToken: task.stopToken, seed: i, beta: config.beta, loss: {implementation: r.implementation}});
      r.ms.push(performance.now() - t0);
      r.losses.push(m.loss);
      configureValidation({valueChecks: true});
    }
  }
  const [c, a] = runs.map((r) => ({implementation: r.implementation, medianStepMs: median(r.ms.slice(1)), stepMs: r.ms, losses: r.losses}));
  // Both copies see the same prompts and seeds, so step i of one pairs with step i of the other.
  const pairedRatio = median(a!.stepMs.slice(1).map((ms, i) => ms / c!.stepMs[i + 1]!));
  // The first step with a non-zero loss (a group with different rewards): both paths, same objective.
  const k = c!.losses.findIndex((l) => l !== 0);
  const lossDiff = k < 0 ? null : Math.abs(c!.losses[k]! - a!.losses[k]!);
  const result = {
    backend, machine: `${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}`, model, steps, batchSize: config.batchSize,
    sftSteps: config.sftSteps, composed: c, fused: a, ratioFusedOverComposed: a!.medianStepMs / c!.medianStepMs,
    pairedRatioMedian: pairedRatio, lossCheckedAtStep: k < 0 ? null : k + 1, lossDiff, numTensorsAfter: 0,
  };
  for (const r of runs) { r.policy.dispose(); r.optimizer.dispose(); }
  reference.dispose();
  result.numTensorsAfter = tf.memory().numTensors;
  console.log(`grpoStep (${backend}, ${model}, ${config.batchSize} completions): composed loss ${c!.medianStepMs.toFixed(1)} ms, ` +
      `default (fused) ${a!.medianStepMs.toFixed(1)} ms, ratio ${result.ratioFusedOverComposed.toFixed(3)} ` +
      `(paired per step ${pairedRatio.toFixed(3)}); ` +
      (k < 0 ? 'every loss was 0 (no group with different rewards): losses not compared' :
        `loss at step ${k + 1}: ${c!.losses[k]!.toPrecision(6)} vs ${a!.losses[k]!.toPrecision(6)}`));
  const out = get('--out', '');
  if (out !== '') writeFileSync(out, JSON.stringify(result, null, 2));
  if (lossDiff !== null && !(lossDiff <= 1e-4 * Math.max(1e-2, Math.abs(c!.losses[k]!)))) {
    console.error(`FAIL: the two paths disagree on the loss of step ${k + 1}`);
    process.exit(1);
  }
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });

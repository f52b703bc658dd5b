// npx tsx bench/deepseek.ts [--backend cpu|wasm] [--out bench/results/deepseek-latest.json]
//
// 1. Forward + backward tokens/s of one DeepSeek-V3 decoder layer (MLA + DeepSeekMoE, 'dense' and
//    'gather' expert evaluation) vs a dense layer (the same MLA + a SwiGLU whose width gives the
//    same active parameters per token), through tf.variableGrads of the summed output, loss read back
//    (as a training loop does). Median of repeated steps after warm-up.
// 2. KV-cache bytes per token, MLA vs multi-head attention with the same heads: measured from the
//    cache tensors of a tiny model's `applyWithCache`, and by formula on the DeepSeek-V3 config.
// Writes JSON and prints a table.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {configureValidation} from '../src/index.js';
import {DeepseekV3Policy} from '../src/models/deepseek_v3.js';
import {deepseekV3Block} from '../src/models/deepseek_v3_block.js';
import type {DeepseekV3Config} from '../src/models/deepseek_v3_config.js';
import {causalAttentionBias, mlaCacheBytesPerToken} from '../src/models/mla.js';
import {ropeCosSin, ropeInverseFrequencies} from '../src/models/rope.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const backend = flag('--backend', 'cpu');
const outFile = flag('--out', 'bench/results/deepseek-latest.json');

const base: DeepseekV3Config = {
  vocab_size: 64, hidden_size: 128, intermediate_size: 256, moe_intermediate_size: 64, num_hidden_layers: 1,
  num_attention_heads: 4, n_shared_experts: 1, n_routed_experts: 16, num_experts_per_tok: 2, n_group: 4, topk_group: 2,
  routed_scaling_factor: 2.5, kv_lora_rank: 64, q_lora_rank: 96, qk_nope_head_dim: 32, qk_rope_head_dim: 16, v_head_dim: 32,
  max_position_embeddings: 256, num_nextn_predict_layers: 0,
};

interface Row { name: string; tokens: number; medianMs: number; tokensPerSecond: number; activeParams: number }

function layerActiveParams(policy: DeepseekV3Policy): number {
  const c = policy.config;
  let n = 0;
  for (const [name, w] of policy.weights) {
    if (!name.startsWith('model.layers.0.')) continue;
    n += /\.mlp\.experts\.\d+\./.test(name) ? (w.size * c.moe.numExpertsPerTok) / c.moe.nRoutedExperts : w.size;
  }
  return n;
}

function timeLayer(name: string, config: DeepseekV3Config, expertCompute: 'dense' | 'gather', B: number, T: number): Row {
  const policy = DeepseekV3Policy.create(config, {seed: 1, expertCompute});
  const x = tf.randomNormal([B, T, config.hidden_size], 0, 1, 'float32', 2) as tf.Tensor3D;
  const positions = tf.tensor2d(Array.from({length: B}, () => Array.from({length: T}, (_, t) => t)), [B, T], 'int32');
  const {cos, sin} = ropeCosSin(positions, ropeInverseFrequencies(policy.config.rope, {headDim: policy.config.mla.qkRopeHeadDim}));
  const bias = causalAttentionBias(B, T, 0, tf.ones([B, T]) as tf.Tensor2D);
  const w = (n: string): tf.Tensor => policy.weights.get(n)!;
  const layerVars = [...policy.weights].filter(([n, v]) => n.startsWith('model.layers.0.') && v.trainable).map(([, v]) => v);
  const step = (): void => {
    const {value, grads} = tf.variableGrads(() => tf.tidy(() => {
      const out = deepseekV3Block(x, w, 0, policy.config, {cos, sin, bias, cache: null, mode: 'expand'});
      return tf.sum(out.x) as tf.Scalar;
    }), layerVars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (times.length < 10 && performance.now() - start < 2000)) {
    const s = performance.now();
    step();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const medianMs = times[Math.floor(times.length / 2)]!;
  const row = {name, tokens: B * T, medianMs, tokensPerSecond: (B * T) / (medianMs / 1000), activeParams: layerActiveParams(policy)};
  tf.dispose([x, positions, cos, sin, bias]);
  policy.dispose();
  return row;
}

async function main(): Promise<void> {
  await tf.setBackend(backend);
  await tf.ready();
  configureValidation({valueChecks: false});
  const B = 4, T = 32;
  const moe = {...base, first_k_dense_replace: 0};
  // dense SwiGLU of equal active parameters: 3 D I = 3 D (N_s + K_r) I_e + N_r D (router)
  const activeInter = (moe.n_shared_experts + moe.num_experts_per_tok) * moe.moe_intermediate_size +
    Math.round(moe.n_routed_experts / 3);
  const dense = {...base, first_k_dense_replace: 1, intermediate_size: activeInter};
  const rows = [
    timeLayer(`V3 layer (MLA + MoE ${moe.n_routed_experts} experts top-${moe.num_experts_per_tok}, 'dense' experts)`, moe, 'dense', B, T),
    timeLayer(`V3 layer (MLA + MoE, 'gather' experts)`, moe, 'gather', B, T),
    timeLayer(`dense layer (MLA + SwiGLU ${activeInter}, equal active params)`, dense, 'dense', B, T),
  ];

  // KV cache: measured on a tiny model, formula on the real config
  const tiny = DeepseekV3Policy.create({...base, num_hidden_layers: 2, first_k_dense_replace: 1, intermediate_size: 128});
  const Tk = 16;
  const out = tiny.applyWithCache({tokens: tf.zeros([1, Tk], 'int32') as tf.Tensor2D,
    positions: tf.tensor2d([Array.from({length: Tk}, (_, i) => i)], [1, Tk], 'int32'), keyMask: tf.ones([1, Tk]) as tf.Tensor2D, cache: null});
  const measured = out.cache.layers.reduce((a, c) => a + (c.latent.size + c.ropeKey.size) * 4, 0) / Tk;
  const tinyFormula = mlaCacheBytesPerToken(tiny.config.mla, 2, 4);
  tiny.disposeCache(out.cache);
  tf.dispose([out.logits, out.hidden!]);
  tiny.dispose();
  const v3 = mlaCacheBytesPerToken({numHeads: 128, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128}, 61, 2);
  const cache = {tinyMeasuredFloat32: measured, tinyFormulaFloat32: tinyFormula, deepseekV3Bf16: v3};

  console.log(`\nbackend ${tf.getBackend()}, batch ${B} x ${T} tokens, hidden ${base.hidden_size}\n`);
  console.log('| layer | active params | median ms (fwd+bwd) | tokens/s |\n| --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.activeParams)} | ${r.medianMs.toFixed(1)} | ${r.tokensPerSecond.toFixed(0)} |`);
  console.log('\n| KV cache per token | MLA bytes | MHA bytes | MHA / MLA |\n| --- | --- | --- | --- |');
  console.log(`| tiny (2 layers, 4 heads, d_c 64, d_R 16), float32, measured | ${measured} | ${tinyFormula.mha} | ${(tinyFormula.mha / measured).toFixed(1)} |`);
  console.log(`| DeepSeek-V3 (61 layers, 128 heads, d_c 512, d_R 64), bf16, formula | ${v3.mla} | ${v3.mha} | ${v3.ratio.toFixed(1)} |`);
  mkdirSync(path.dirname(outFile), {recursive: true});
  writeFileSync(outFile, JSON.stringify({backend: tf.getBackend(), date: new Date().toISOString(), batch: B, time: T, rows, cache}, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

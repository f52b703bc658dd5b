// Kernels of one dense decoder layer (forward, and forward + backward), as tf.profile lists them, and
// on webgpu the GPU dispatches (tfjs programs and fused kernels) and CPU->GPU uploads they cost.
//
//   npx tsx bench/layer_kernels.ts [--backend cpu|webgpu] [--list] [--batch 2] [--time 16] [--composed]
//
// Sizes are those of test/fixtures/pretrained/qwen2_tied_f32 (hidden 64, 4 heads, 2 kv heads, head 16,
// intermediate 128, q/k/v biases). --list prints every kernel with its input shapes; --composed turns
// the fused webgpu decoder kernels off. webgpu locally: XDG_RUNTIME_DIR=/tmp (lavapipe).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {setDecoderOpsWebGPU} from '../src/math/fused/decoder_ops_webgpu_switch.js';
import {denseDecoderLayer, type DenseDecoderLayerWeights} from '../src/models/dense_decoder_layer.js';
import {ropeCosSin, ropeInverseFrequencies} from '../src/models/rope.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const backendName = arg('--backend', 'cpu');
  if (backendName === 'webgpu') {
    const {activateWebGPU} = await import('./activate_webgpu.js');
    await activateWebGPU();
  } else if (!(await tf.setBackend(backendName))) {
    throw new Error(`backend ${backendName} failed`);
  }
  await tf.ready();
  if (process.argv.includes('--composed')) setDecoderOpsWebGPU(false);
  // webgpu: count dispatches (every increment of dispatchCountInPass, tfjs's and the fused kernels')
  // and uploads of CPU-resident values.
  const gpu = {dispatches: 0, uploads: 0};
  if (backendName === 'webgpu') {
    const b = tf.backend() as unknown as Record<string, unknown> & {tensorMap: {get(id: unknown): {values?: unknown;
      resource?: unknown} | undefined}};
    let inPass = b['dispatchCountInPass'] as number;
    Object.defineProperty(b, 'dispatchCountInPass', {get: () => inPass, set: (v: number) => {
      if (v > inPass) gpu.dispatches += v - inPass;
      inPass = v;
    }});
    const upload = (b['uploadToGPU'] as (id: unknown) => void).bind(b);
    b['uploadToGPU'] = (id: unknown) => {
      const data = b.tensorMap.get(id);
      if (data?.resource == null && data?.values != null) gpu.uploads++;
      upload(id);
    };
  }
  const B = Number(arg('--batch', '2')), T = Number(arg('--time', '16'));
  const D = 64, H = 4, G = 2, d = 16, I = 128;
  let seed = 1;
  const r = (shape: number[]): tf.Variable => tf.variable(tf.randomNormal(shape, 0, 0.1, 'float32', seed++));
  const weights: DenseDecoderLayerWeights = {
    inputNorm: r([D]) as tf.Variable<tf.Rank.R1>, postAttentionNorm: r([D]) as tf.Variable<tf.Rank.R1>,
    attention: {q: r([H * d, D]) as tf.Variable<tf.Rank.R2>, k: r([G * d, D]) as tf.Variable<tf.Rank.R2>,
      v: r([G * d, D]) as tf.Variable<tf.Rank.R2>, o: r([D, H * d]) as tf.Variable<tf.Rank.R2>,
      qBias: r([H * d]) as tf.Variable<tf.Rank.R1>, kBias: r([G * d]) as tf.Variable<tf.Rank.R1>,
      vBias: r([G * d]) as tf.Variable<tf.Rank.R1>},
    mlp: {gate: r([I, D]) as tf.Variable<tf.Rank.R2>, up: r([I, D]) as tf.Variable<tf.Rank.R2>,
      down: r([D, I]) as tf.Variable<tf.Rank.R2>},
  };
  const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 99) as tf.Tensor3D;
  const positions = tf.tensor2d(Array.from({length: B * T}, (_, i) => i % T), [B, T], 'int32');
  const f = ropeInverseFrequencies({type: 'default', theta: 1e6, maxPositionEmbeddings: 256, partialRotaryFactor: 1},
      {headDim: d});
  const {cos, sin} = ropeCosSin(positions, f);
  const maskBias = tf.zeros([B, 1, T, T]) as tf.Tensor4D;
  const weighting = tf.randomNormal([B, T, D], 0, 1, 'float32', 98); // the loss sum(weighting * out)
  const sizes = {numHeads: H, numKvHeads: G, headDim: d, rmsNormEps: 1e-6};
  const layer = (): tf.Tensor3D => denseDecoderLayer({x, weights, cos, sin, maskBias, pastKeys: null, pastValues: null},
      sizes).out;
  const vars = Object.values(weights).flatMap((w) => w instanceof tf.Variable ? [w] : Object.values(w)) as tf.Variable[];
  const phases: Record<string, () => tf.TensorContainer> = {
    forward: () => { const {out, keys, values} = denseDecoderLayer({x, weights, cos, sin, maskBias, pastKeys: null,
      pastValues: null}, sizes); tf.dispose([keys, values]); return out; },
    'fwd+bwd': () => { const {value, grads} = tf.variableGrads(() => tf.sum(tf.mul(layer(), weighting)), vars);
      return [value, ...Object.values(grads)]; },
  };
  for (const [name, phase] of Object.entries(phases)) {
    phase(); // warm caches
    const before = tf.memory().numTensors;
    gpu.dispatches = 0;
    gpu.uploads = 0;
    const info = await tf.profile(() => { tf.dispose(phase()); });
    const onGpu = backendName === 'webgpu' ? `, ${gpu.dispatches} GPU dispatches, ${gpu.uploads} uploads` : '';
    const counts = new Map<string, number>();
    for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
    const real = info.kernels.filter((k) => !['Identity', 'Reshape'].includes(k.name)).length;
    console.log(`${name}: ${info.kernels.length} kernels (${real} not Identity/Reshape)${onGpu}, leaked ` +
        `${tf.memory().numTensors - before}: ${[...counts].sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n} ${c}`).join(', ')}`);
    if (process.argv.includes('--list')) {
      for (const k of info.kernels) console.log(`  ${k.name} ${JSON.stringify(k.inputShapes)}`);
    }
  }
}

await main();

// GPU self-check of the fused webgpu distillationLoss kernels (run by bench/webgpu_check.ts): fused
// (kernels on) against composed (the chunked tfjs ops, kernels off) on the same backend, for each
// divergence, betas, temperatures, mask dtypes, vocabularies below, at and above a workgroup's 256
// and not a multiple of 4; the loss and d (2.5 loss) / d studentLogits (a real upstream gradient);
// identical distributions give 0; masked rows with NaN logits add nothing; a NaN on an unmasked token
// gives the named error; the fused path must run (fewer tfjs kernels); no tensor left behind.
// Alone: XDG_RUNTIME_DIR=/tmp npx tsx bench/webgpu_check_distill.ts [--quick] (webgpu, lavapipe locally).
import * as tf from '@tensorflow/tfjs-core';
import {distillationLoss, type DistillationLossOptions} from '../src/index.js';
import {setDistillationWebGPU} from '../src/math/fused/distillation_webgpu.js';
import {settleWebGPUValueChecks} from '../src/math/fused/webgpu_value_checks.js';
import {type CheckTally, isEntryPoint, runCheckAlone} from './check_alone.js';
import {maxRel} from './max_rel.js';

type Tally = CheckTally;

function record(t: Tally, what: string, err: number, extra = '', tol = 2e-5): void {
  const bad = !(err < tol) || extra !== '';
  t.count++;
  if (bad) t.failures++;
  t.worst = Math.max(t.worst, Number.isFinite(err) ? err : t.worst);
  console.log(`${bad ? 'FAIL' : 'ok  '} distillationLoss ${what}: ${err.toExponential(2)}${extra}`);
}

async function lossAndGrad(s: tf.Tensor3D, teacher: tf.Tensor3D, mask: tf.Tensor2D, o: DistillationLossOptions, on: boolean):
    Promise<[Float32Array, Float32Array, number]> {
  setDistillationWebGPU(on);
  const kernels = (await tf.profile(() => { tf.dispose(distillationLoss({studentLogits: s, teacherLogits: teacher, mask}, o)); })).kernels.length;
  const {value, grad} = tf.valueAndGrad((x: tf.Tensor) =>
    tf.mul(distillationLoss({studentLogits: x as tf.Tensor3D, teacherLogits: teacher, mask}, o), 2.5))(s);
  const out: [Float32Array, Float32Array, number] = [await value.data() as Float32Array, await grad.data() as Float32Array, kernels];
  tf.dispose([value, grad]);
  setDistillationWebGPU(true);
  return out;
}

export async function distillChecks(quick = false): Promise<Tally> {
  const t: Tally = {failures: 0, worst: 0, count: 0};
  const shapes: Array<[number, number, number]> = quick ? [[2, 3, 5], [1, 4, 301]] : [[2, 3, 5], [1, 4, 301], [3, 7, 256], [2, 5, 1030], [1, 3, 32000]];
  const options: DistillationLossOptions[] = [
    {}, {divergence: 'forward-kl'}, {divergence: 'reverse-kl'}, {beta: 0.1}, {beta: 0.9, temperature: 2}, {divergence: 'forward-kl', temperature: 0.5},
  ];
  for (const [B, T, V] of shapes) {
    const s = tf.randomNormal([B, T, V], 0, 3, 'float32', 11) as tf.Tensor3D;
    const teacher = tf.randomNormal([B, T, V], 0, 3, 'float32', 12) as tf.Tensor3D;
    const maskF = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, T], 0, 1, 'float32', 13), 0.3), 'float32')) as tf.Tensor2D;
    const masks: Array<[string, tf.Tensor2D]> = [['float', maskF], ['bool', tf.cast(maskF, 'bool')], ['int', tf.cast(maskF, 'int32')]];
    for (const o of quick ? options.slice(0, 3) : options) {
      for (const [mk, mask] of o === options[0] ? masks : masks.slice(0, 1)) {
        const before = tf.memory().numTensors;
        const fused = await lossAndGrad(s, teacher, mask, o, true);
        const composed = await lossAndGrad(s, teacher, mask, o, false);
        const leaked = tf.memory().numTensors - before;
        const err = Math.max(maxRel(fused[0], composed[0]), maxRel(fused[1], composed[1]));
        record(t, `[${B},${T},${V}] ${JSON.stringify(o)} mask ${mk}`, err,
            (leaked !== 0 ? ` (${leaked} tensors leaked)` : '') + (fused[2] < composed[2] ? '' : ` (fused did not run: ${fused[2]} vs ${composed[2]} kernels)`));
      }
    }
    // Identical distributions: exactly 0, and a zero gradient.
    const same = await lossAndGrad(s, s, maskF, {}, true);
    record(t, `[${B},${T},${V}] identical distributions`, Math.max(Math.abs(same[0][0]!), ...Array.from(same[1]).map(Math.abs)), '', 1e-30);
    tf.dispose([s, teacher, ...masks.map(([, m]) => m)]);
  }
  // Masked rows add nothing, even with NaN logits; a NaN on an unmasked token gives the named error.
  const s = tf.tensor3d([[[1, 2, 3], [NaN, 0, 1]]]);
  const teacher = tf.tensor3d([[[0, 1, 0], [1, NaN, 1]]]);
  const mask = tf.tensor2d([[1, 0]]);
  const fused = await lossAndGrad(s, teacher, mask, {}, true);
  const composed = await lossAndGrad(s, teacher, mask, {}, false);
  record(t, 'masked NaN row', Math.max(maxRel(fused[0], composed[0]), maxRel(fused[1], composed[1])));
  let message = '';
  const all = tf.tensor2d([[1, 1]]);
  const y = distillationLoss({studentLogits: s, teacherLogits: teacher, mask: all});
  try {
    await settleWebGPUValueChecks();
  } catch (e) {
    message = (e as Error).message;
  }
  const named = /distillationLoss: 'studentLogits' and 'teacherLogits' expected finite values/.test(message);
  record(t, 'NaN on an unmasked token: named error', named ? 0 : 1, named ? '' : ` (got '${message}')`);
  tf.dispose([s, teacher, mask, all, y]);
  return t;
}

if (isEntryPoint('webgpu_check_distill')) void runCheckAlone('distillationLoss ', distillChecks);

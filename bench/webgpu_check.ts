// Self-check of the fused grpoLoss kernels against the composed tfjs ops on one backend (run on the GPU
// machine before the benchmark, so one call gives correctness and timings):
//   node dist-bench/webgpu_check.mjs [--backend webgpu|cpu|wasm]
// Prints the max abs / relative error of the loss and of d loss / d logProbs per option combination,
// and exits 1 when one is off by more than float32 tolerance. Each comparison checks the loss with and
// without a gradient tape, d loss / d logProbs under tf.valueAndGrad (upstream gradient 1, the
// forward pass's gradient is handed over as is) and under tf.grad of 2.5 * loss (upstream gradient
// computed on the GPU: the backward pass multiplies). On webgpu the direct-device path runs by
// default; `--legacy` forces the runWebGPUProgram path. Shapes include a batch > 2048 (the
// three-dispatch variant of the direct path) and rows longer than 1024 tokens (split rows). Then the
// extra checks (webgpu_check_extra.ts), the small ops (webgpu_check_ops.ts), the decoder-layer kernels
// (webgpu_check_rmsnorm.ts), distillationLoss (webgpu_check_distill.ts), grpoLossWithStats fused vs
// composed (webgpu_check_stats.ts), the pooled
// uploads (webgpu_check_upload.ts) and applyClippedGradients' fused optimizer step (webgpu_check_adam.ts).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {configureValidation, fusedGrpoLossAvailable, grpoLoss, type GrpoLossOptions} from '../src/index.js';
import {setGrpoLossWebGPUDirect} from '../src/math/fused/grpo_loss_webgpu.js';
import {settleWebGPUValueChecks} from '../src/math/fused/grpo_loss_webgpu_direct.js';
import {grpoLossFused, runFusedGrpoLoss} from '../src/math/fused/grpo_loss_fused.js';
import {resolveGrpoLossOptions} from '../src/math/grpo_loss.js';
import {activateWebGPU} from './activate_webgpu.js';
import {adamChecks} from './webgpu_check_adam.js';
import {extraChecks} from './webgpu_check_extra.js';
import {opsChecks} from './webgpu_check_ops.js';
import {decoderOpsChecks} from './webgpu_check_rmsnorm.js';
import {distillChecks} from './webgpu_check_distill.js';
import {grpoCombos, statsChecks} from './webgpu_check_stats.js';
import {uploadChecks} from './webgpu_check_upload.js';
import {tuneWebGPUBackend} from '../src/math/fused/webgpu_fast_paths.js';

async function activate(name: string): Promise<void> {
  if (name === 'webgpu') {
    await activateWebGPU();
  } else {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialize`);
  }
  await tf.ready();
}

/** `--tune JSON`: options of tuneWebGPUBackend over the defaults (for A/B runs). */
function tuneArg(): object {
  const i = process.argv.indexOf('--tune');
  return i >= 0 ? JSON.parse(process.argv[i + 1]!) as object : {};
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--backend');
  const backend = i >= 0 ? process.argv[i + 1]! : 'webgpu';
  await activate(backend);
  // The fast paths the training path turns on (matmul, pooled uploads); --stock: tfjs's own.
  const stock = process.argv.includes('--stock');
  if (backend === 'webgpu') {
    console.log('webgpu tuning', JSON.stringify(tuneWebGPUBackend(stock ? {matmul: false, upload: false, auto: false}
      : {matmul: true, upload: true, ...tuneArg()})));
  }
  configureValidation({valueChecks: false});
  const legacy = process.argv.includes('--legacy');
  setGrpoLossWebGPUDirect(!legacy);
  const device = (tf.backend() as unknown as {device?: {pushErrorScope(f: string): void; popErrorScope(): Promise<{message: string} | null>}}).device;
  device?.pushErrorScope('validation');
  const adapter = (tf.backend() as unknown as {adapterInfo?: unknown}).adapterInfo;
  console.log(`backend ${tf.getBackend()}, fused available: ${fusedGrpoLossAvailable()}, path: ${legacy ? 'runWebGPUProgram (legacy)' : 'direct device'}`,
      adapter !== undefined ? JSON.stringify(adapter) : '');
  let worst = 0;
  let failures = 0;
  // [4, 2600] and [520, 2100]: rows split into chunks of 1024 tokens ('token-mean'); [520, 2100] and
  // [2100, 9]: more than 1024 partials (separate finalize and scale dispatches).
  const quick = process.argv.includes('--quick'); // a few shapes, for a software (lavapipe) device
  const shapes: Array<[number, number]> = quick ? [[5, 37], [4, 2600], [1100, 3]] :
    [[5, 37], [3, 700], [64, 1000], [4, 2600], [520, 2100], [2100, 9]];
  const combos: GrpoLossOptions[] = grpoCombos();
  let seed = 1;
  const statsOnly = process.argv.includes('--stats-only'); // only grpoLossWithStats (webgpu_check_stats.ts)
  for (const [B, T] of process.argv.includes('--extra-only') || statsOnly ? [] : shapes) {
    for (const o of combos) {
      for (const variant of ['plain', 'perTokenAdv+int32Mask', 'noOld']) {
        seed++;
        const {lp, old, ref, adv, maskF, mask} = tf.tidy(() => {
          // Every 101st token far off the old policy (|log r| up to 30): exercises the ±20 clamp.
          const far = tf.mul(tf.cast(tf.equal(tf.mod(tf.range(0, B * T, 1, 'int32'), 101), 0), 'float32'),
              tf.randomUniform([B * T], -30, 30, 'float32', seed + 5000)).reshape([B, T]);
          const lp = tf.randomUniform([B, T], -3, 0, 'float32', seed);
          const maskF = tf.cast(tf.greater(tf.randomUniform([B, T], 0, 1, 'float32', seed + 4000), 0.3), 'float32');
          return {
            lp, maskF,
            old: tf.add(tf.add(lp, tf.randomUniform([B, T], -0.6, 0.6, 'float32', seed + 1000)), far),
            ref: tf.add(lp, tf.randomUniform([B, T], -1, 1, 'float32', seed + 2000)),
            adv: variant === 'perTokenAdv+int32Mask' ? tf.randomNormal([B, T], 0, 1, 'float32', seed + 3000) :
              tf.randomNormal([B], 0, 1, 'float32', seed + 3000),
            mask: variant === 'perTokenAdv+int32Mask' ? tf.cast(maskF, 'int32') : maskF,
          };
        });
        const inputs = {logProbs: lp, oldLogProbs: variant === 'noOld' ? undefined : old, refLogProbs: ref, advantages: adv, mask};
        const run = async (implementation: 'fused' | 'composed') => {
          const {value, grad} = tf.valueAndGrad((x: tf.Tensor) => grpoLoss({...inputs, logProbs: x}, {...o, implementation}))(lp);
          const scaled = tf.grad((x: tf.Tensor) => tf.mul(grpoLoss({...inputs, logProbs: x}, {...o, implementation}), 2.5))(lp);
          const out = {loss: (await value.data())[0]!, grad: await grad.data(), scaled: await scaled.data()};
          tf.dispose([value, grad, scaled]);
          return out;
        };
        const f = await run('fused');
        const c = await run('composed');
        const plain = tf.tidy(() => grpoLoss(inputs, {...o, implementation: 'fused'}));
        const plainLoss = (await plain.data())[0]!;
        plain.dispose();
        const lossErr = Math.max(Math.abs(f.loss - c.loss), Math.abs(plainLoss - c.loss)) / Math.max(1e-3, Math.abs(c.loss));
        let gradScale = 0;
        for (const v of c.grad) gradScale = Math.max(gradScale, Math.abs(v));
        let gradErr = 0;
        for (let k = 0; k < c.grad.length; k++) {
          gradErr = Math.max(gradErr, Math.abs(f.grad[k]! - c.grad[k]!), Math.abs(f.scaled[k]! - c.scaled[k]!) / 2.5);
        }
        gradErr /= Math.max(gradScale, 1e-12);
        const bad = !(lossErr < 1e-4 && gradErr < 1e-4);
        if (bad) failures++;
        worst = Math.max(worst, lossErr, gradErr);
        if (bad || (B === 64 && variant === 'plain')) {
          console.log(`${bad ? 'FAIL' : 'ok  '} [${B},${T}] ${variant} ${JSON.stringify(o)}: loss ${f.loss} vs ${c.loss} ` +
              `(rel ${lossErr.toExponential(2)}), grad max err / max |grad| ${gradErr.toExponential(2)}`);
        }
        tf.dispose([lp, old, ref, adv, maskF, mask]);
      }
    }
  }
  const extra = statsOnly ? {failures: 0, worst: 0, count: 0} : await extraChecks({grpoLoss, grpoLossFused, runFusedGrpoLoss, resolveGrpoLossOptions, configureValidation,
    settleWebGPUValueChecks, quick, legacy});
  failures += extra.failures;
  worst = Math.max(worst, extra.worst);
  const ops = statsOnly ? {failures: 0, worst: 0, count: 0} : await opsChecks();
  failures += ops.failures;
  worst = Math.max(worst, ops.worst);
  // The decoder-layer kernels (rmsNorm, RoPE, attention softmax, SwiGLU, whole layers).
  const decoder = statsOnly ? {failures: 0, worst: 0, count: 0} : await decoderOpsChecks(quick);
  failures += decoder.failures;
  worst = Math.max(worst, decoder.worst);
  // distillationLoss (fused row kernels against the chunked tfjs ops).
  const distill = statsOnly ? {failures: 0, worst: 0, count: 0} : await distillChecks(quick);
  failures += distill.failures;
  worst = Math.max(worst, distill.worst);
  // grpoLossWithStats: the statistics are fused on the direct path only (--legacy: composed).
  const stats = legacy ? {failures: 0, worst: 0, count: 0} : await statsChecks(quick);
  failures += stats.failures;
  worst = Math.max(worst, stats.worst);
  const uploads = statsOnly || backend !== 'webgpu' ? {failures: 0, worst: 0, count: 0} : await uploadChecks();
  failures += uploads.failures;
  worst = Math.max(worst, uploads.worst);
  // applyClippedGradients' fused gradient norms and Adam update (direct path only).
  const adam = legacy || statsOnly ? {failures: 0, worst: 0, count: 0} : await adamChecks(quick);
  failures += adam.failures;
  worst = Math.max(worst, adam.worst);
  const gpuError = await device?.popErrorScope();
  if (gpuError) {
    failures++;
    console.log(`FAIL: WebGPU validation error: ${gpuError.message}`);
  }
  console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${shapes.length * combos.length * 3 + extra.count + ops.count + decoder.count + distill.count + stats.count + uploads.count + adam.count} comparisons, ` +
      `worst relative error ${worst.toExponential(2)}, tensors left ${tf.memory().numTensors}`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

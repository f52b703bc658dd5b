// GPU self-check of the fused webgpu log-prob kernels (tokenLogProbs, entropyFromLogits) against the
// chunked tfjs ops (the same functions with the kernels switched off): values and d / d logits under
// an upstream gradient w (tf.grad of sum(w * f(logits))), at a vocab that is not a multiple of 4
// (scalar loads), multiples of 4 (vec4), odd row counts, a temperature, logits of ±1000, for every
// variant of bench/webgpu_logprob_variants.ts, an out-of-range token id under value checks (named
// error), and NaN / +-Infinity logits (named error; NaN in that row with the checks off). (tokenLogProbs has no ignore index: padding is masked downstream, so nothing to check there.)
import * as tf from '@tensorflow/tfjs-core';
import {configureValidation, entropyFromLogits, tokenLogProbs} from '../src/index.js';
import {setLogProbsWebGPU} from '../src/math/fused/log_probs_webgpu.js';
import {settleWebGPUValueChecks} from '../src/math/fused/webgpu_value_checks.js';
import {isEntryPoint, runCheckAlone} from './check_alone.js';
import {LOG_PROB_CHECK_ONLY, LOG_PROB_VARIANTS} from './webgpu_logprob_variants.js';

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    if (Number.isNaN(a[i]!) !== Number.isNaN(b[i]!)) err = Infinity;
  }
  return err / Math.max(scale, 1e-12);
}

export async function logProbChecks(quick: boolean): Promise<{failures: number; worst: number; count: number}> {
  let failures = 0;
  let worst = 0;
  let count = 0;
  const shapes: Array<[number, number, number, number, number]> = [
    [2, 3, 37, 1, 2], [3, 5, 1000, 0.7, 3], [1, 4, 32000, 1, 2], [1, 3, 4099, 1, 1000], [1, 7, 8200, 1, 3]];
  if (!quick) shapes.push([4, 256, 32000, 1, 2], [2, 40, 152000, 1.3, 2]);
  for (const [B, T, V, temperature, scale] of shapes) {
    const x = tf.tidy(() => ({
      logits: tf.mul(tf.randomNormal([B, T, V], 0, 1, 'float32', V), scale) as tf.Tensor3D,
      tokens: tf.randomUniform([B, T], 0, V, 'int32', V + 1) as tf.Tensor2D,
      w: tf.randomNormal([B, T], 0, 1, 'float32', V + 2),
    }));
    for (const which of ['tokenLogProbs', 'entropyFromLogits'] as const) {
      const f = (l: tf.Tensor) => which === 'tokenLogProbs' ? tokenLogProbs(l as tf.Tensor3D, x.tokens, {temperature}) :
        entropyFromLogits(l as tf.Tensor3D, {temperature});
      const run = async (fused: boolean) => {
        if (!fused) setLogProbsWebGPU(false);
        const value = f(x.logits);
        const grad = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(f(l), x.w)))(x.logits);
        const out = {value: await value.data(), grad: await grad.data()};
        tf.dispose([value, grad]);
        return out;
      };
      const b = await run(false);
      for (const {name, v} of [...LOG_PROB_VARIANTS, ...LOG_PROB_CHECK_ONLY]) {
        setLogProbsWebGPU(true, v);
        const a = await run(true);
        const valueErr = maxRel(a.value, b.value);
        const gradErr = maxRel(a.grad, b.grad);
        const bad = !(valueErr < 2e-5 && gradErr < 2e-5);
        count++;
        if (bad) failures++;
        worst = Math.max(worst, valueErr, gradErr);
        console.log(`${bad ? 'FAIL' : 'ok  '} ${which} fused (${name}) vs chunked ` +
            `[${B},${T},${V}] T=${temperature} scale ${scale}: value ${valueErr.toExponential(2)}, grad ${gradErr.toExponential(2)}`);
      }
    }
    tf.dispose(Object.values(x));
  }
  for (const splitForward of [true, false]) {
    setLogProbsWebGPU(true, {splitForward, splitSpan: 1024});
    for (const bad of [8200, -1]) {
      const previous = configureValidation({valueChecks: true});
      let message = 'no error';
      const logits = tf.zeros([1, 2, 8200]) as tf.Tensor3D;
      const tokens = tf.tensor2d([[3, bad]], [1, 2], 'int32');
      try {
        const lp = tokenLogProbs(logits, tokens);
        const v = await lp.data();
        lp.dispose();
        await settleWebGPUValueChecks();
        message = `values ${Array.from(v).join(', ')}`;
      } catch (e) {
        message = (e as Error).message;
      }
      configureValidation(previous);
      tf.dispose([logits, tokens]);
      const ok = message.includes("'tokens' expected values in [0, 8200)");
      count++;
      if (!ok) failures++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} tokenLogProbs value check (${splitForward ? 'split' : 'one-pass'}), token id ${bad} ` +
          `of vocab 8200: ${message}`);
    }
  }
  // Non-finite logits (one in row 1, at a position of either span): under value checks a named error;
  // without, a NaN value in that row only.
  for (const splitForward of [true, false]) {
    setLogProbsWebGPU(true, {splitForward, splitSpan: 1024});
    for (const V of [8200, 8201]) {
      for (const [bad, at] of [[NaN, 5000], [Infinity, 17], [-Infinity, V - 1]] as const) {
        for (const which of ['tokenLogProbs', 'entropyFromLogits'] as const) {
          const data = new Float32Array(2 * V);
          data[V + at] = bad;
          const logits = tf.tensor3d(data, [1, 2, V]);
          const tokens = tf.tensor2d([[3, 4]], [1, 2], 'int32');
          const f = () => (which === 'tokenLogProbs' ? tokenLogProbs(logits, tokens) : entropyFromLogits(logits));
          const attempt = async (checks: boolean): Promise<string> => {
            const previous = configureValidation({valueChecks: checks});
            try {
              const out = f();
              const v = await out.data();
              out.dispose();
              await settleWebGPUValueChecks();
              return `values ${Array.from(v).join(', ')}`;
            } catch (e) {
              return (e as Error).message;
            } finally {
              configureValidation(previous);
            }
          };
          const checked = await attempt(true);
          const unchecked = await attempt(false);
          tf.dispose([logits, tokens]);
          const ok = checked.includes(`${which}: 'logits' expected finite values`) && /^values -?[0-9.e+-]+, NaN$/.test(unchecked);
          count++;
          if (!ok) failures++;
          console.log(`${ok ? 'ok  ' : 'FAIL'} ${which} finite-logits check (${splitForward ? 'split' : 'one-pass'}, vocab ${V}), ` +
              `${bad} at ${at} of row 1: ${checked}; checks off: ${unchecked}`);
        }
      }
    }
  }
  setLogProbsWebGPU(true);
  return {failures, worst, count};
}

if (isEntryPoint('webgpu_check_logprobs')) void runCheckAlone('log-probs ', logProbChecks);

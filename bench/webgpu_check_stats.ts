// GPU self-check of grpoLossWithStats (run by bench/webgpu_check.ts): fused (on webgpu, the statistics
// computed by the WGSL kernels) against composed, for every option combination of the main grid and
// the variants plain / per-token advantages + int32 mask / no old log-probs / TIS (rollout log-probs) /
// no reference (beta 0, no KL statistic), with and without a gradient tape, at shapes with rows
// longer than 1024 tokens (split rows) and more than 2048 rows. Compares the loss, d loss / d logProbs
// (under the tape) and every statistic: clip fractions to 2 tokens' worth (a ratio on a clip bound may
// round differently), the ratio mean / min / max and the KL mean to 1e-4 relative.
import * as tf from '@tensorflow/tfjs-core';
import {grpoLossWithStats, type GrpoLossOptions, type GrpoLossStats} from '../src/index.js';

/** The option combinations of the fused-vs-composed grid (shared with bench/webgpu_check.ts). */
export function grpoCombos(): GrpoLossOptions[] {
  const combos: GrpoLossOptions[] = [];
  for (const aggregation of ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'] as const) {
    for (const ratioLevel of ['token', 'sequence'] as const) {
      combos.push({aggregation, ratioLevel, beta: 0.04, klEstimator: 'k3', clipLow: 0.2, clipHigh: 0.28});
    }
  }
  for (const klEstimator of ['k1', 'k2', 'abs'] as const) combos.push({beta: 0.3, klEstimator, dualClip: 3});
  combos.push({normalizer: 1000}, {aggregation: 'seq-mean-token-sum-norm', maxLength: 2048, normalizer: 7});
  return combos;
}

/** Inputs of the grid: every 101st token far off the old policy (|log r| up to 30, the ±20 clamp). */
export function gridInputs(B: number, T: number, seed: number, perTokenAdvantages: boolean) {
  return tf.tidy(() => {
    const far = tf.mul(tf.cast(tf.equal(tf.mod(tf.range(0, B * T, 1, 'int32'), 101), 0), 'float32'),
        tf.randomUniform([B * T], -30, 30, 'float32', seed + 5000)).reshape([B, T]);
    const lp = tf.randomUniform([B, T], -3, 0, 'float32', seed);
    const maskF = tf.cast(tf.greater(tf.randomUniform([B, T], 0, 1, 'float32', seed + 4000), 0.3), 'float32');
    const old = tf.add(tf.add(lp, tf.randomUniform([B, T], -0.6, 0.6, 'float32', seed + 1000)), far);
    return {
      lp, maskF, old,
      ref: tf.add(lp, tf.randomUniform([B, T], -1, 1, 'float32', seed + 2000)),
      rollout: tf.minimum(tf.add(old, tf.randomUniform([B, T], -1.5, 1.5, 'float32', seed + 6000)), 0),
      adv: perTokenAdvantages ? tf.randomNormal([B, T], 0, 1, 'float32', seed + 3000) :
        tf.randomNormal([B], 0, 1, 'float32', seed + 3000),
      mask: perTokenAdvantages ? tf.cast(maskF, 'int32') : maskF,
    };
  });
}

const STAT_NAMES = ['clipFracLow', 'clipFracHigh', 'clipFracDual', 'ratioMean', 'ratioMin', 'ratioMax', 'kl'] as const;

interface Result {
  loss: number;
  grad: Float32Array | null;
  stats: Record<string, number | undefined>;
}

async function read(loss: tf.Scalar, stats: GrpoLossStats, grad: tf.Tensor | null): Promise<Result> {
  const out: Result = {loss: (await loss.data())[0]!, grad: grad === null ? null : await grad.data() as Float32Array, stats: {}};
  for (const n of STAT_NAMES) out.stats[n] = stats[n] === undefined ? undefined : (await stats[n]!.data())[0]!;
  tf.dispose([loss, ...Object.values(stats), ...(grad === null ? [] : [grad])]);
  return out;
}

/** Compares fused and composed; returns the problems (empty when equal to tolerance) and the worst relative error. */
function compare(f: Result, c: Result, tokens: number): {problems: string[]; worst: number} {
  const problems: string[] = [];
  let worst = Math.abs(f.loss - c.loss) / Math.max(1e-3, Math.abs(c.loss));
  if (!(worst < 1e-4)) problems.push(`loss ${f.loss} vs ${c.loss}`);
  if (c.grad !== null) {
    let scale = 0;
    let err = 0;
    for (let k = 0; k < c.grad.length; k++) {
      scale = Math.max(scale, Math.abs(c.grad[k]!));
      err = Math.max(err, Math.abs(f.grad![k]! - c.grad[k]!));
    }
    const rel = err / Math.max(scale, 1e-12);
    worst = Math.max(worst, rel);
    if (!(rel < 1e-4)) problems.push(`grad rel ${rel.toExponential(2)}`);
  }
  for (const n of STAT_NAMES) {
    const a = f.stats[n];
    const b = c.stats[n];
    if (a === undefined || b === undefined) {
      if (a !== b) problems.push(`${n} ${a} vs ${b}`);
      continue;
    }
    const fraction = n.startsWith('clipFrac');
    const err = fraction ? Math.abs(a - b) : Math.abs(a - b) / Math.max(1e-3, Math.abs(b));
    const ok = fraction ? err <= 2 / Math.max(tokens, 1) + 1e-6 : err < 1e-4;
    if (!fraction) worst = Math.max(worst, err);
    if (!ok) problems.push(`${n} ${a} vs ${b}`);
  }
  return {problems, worst};
}

/** Runs the statistics comparisons; returns failures, worst relative error and the number of comparisons. */
export async function statsChecks(quick: boolean): Promise<{failures: number; worst: number; count: number}> {
  const shapes: Array<[number, number]> = quick ? [[5, 37], [4, 2600], [2100, 9]] :
    [[5, 37], [64, 1000], [4, 2600], [520, 2100], [2100, 9]];
  let failures = 0;
  let worst = 0;
  let count = 0;
  let seed = 9000;
  for (const [B, T] of shapes) {
    for (const o of grpoCombos()) {
      for (const variant of ['plain', 'perTokenAdv+int32Mask', 'noOld', 'tis', 'noRef']) {
        seed++;
        const x = gridInputs(B, T, seed, variant === 'perTokenAdv+int32Mask');
        const inputs = {logProbs: x.lp, oldLogProbs: variant === 'noOld' ? undefined : x.old,
          refLogProbs: variant === 'noRef' ? undefined : x.ref, advantages: x.adv, mask: x.mask,
          rolloutLogProbs: variant === 'tis' ? x.rollout : undefined};
        const opts: GrpoLossOptions = variant === 'noRef' ? {...o, beta: 0} : o;
        const total = tf.sum(x.maskF);
        const tokens = (await total.data())[0]!;
        total.dispose();
        const run = async (implementation: 'fused' | 'composed', tape: boolean): Promise<Result> => {
          if (!tape) {
            const r = grpoLossWithStats(inputs, {...opts, implementation});
            return read(r.loss, r.stats, null);
          }
          let stats: GrpoLossStats | null = null;
          const {value, grad} = tf.valueAndGrad((lp: tf.Tensor) => {
            const r = grpoLossWithStats({...inputs, logProbs: lp}, {...opts, implementation});
            stats = r.stats;
            for (const t of Object.values(r.stats)) tf.keep(t as tf.Tensor);
            return r.loss;
          })(x.lp);
          return read(value, stats!, grad);
        };
        for (const tape of [false, true]) {
          const cmp = compare(await run('fused', tape), await run('composed', tape), tokens);
          count++;
          worst = Math.max(worst, cmp.worst);
          const bad = cmp.problems.length > 0;
          if (bad) failures++;
          if (bad || (B === 5 && variant === 'tis' && tape)) {
            console.log(`${bad ? 'FAIL' : 'ok  '} stats [${B},${T}] ${variant}${tape ? ' (tape)' : ''} ${JSON.stringify(opts)}` +
                `${bad ? `: ${cmp.problems.join('; ')}` : ''}`);
          }
        }
        tf.dispose(Object.values(x));
      }
    }
  }
  console.log(`${failures === 0 ? 'ok  ' : 'FAIL'} grpoLossWithStats fused vs composed: ${count} comparisons, ${failures} failed`);
  return {failures, worst, count};
}

// GPU self-check of the fused optimizer step of applyClippedGradients (run by bench/webgpu_check.ts):
// the fused gradient norms + fused Adam update against tfjs's own path (tf.sum(tf.square(g)) norms,
// tf.mul by the clip factor, AdamOptimizer.applyGradients), and the fused norms with tfjs's Adam, on
// identical copies of the variables. Two groups, one variable the loss does not reach, odd sizes and a
// large [V, 896] one (V = 151936 in full, 18757 with --quick: still more than 65535 workgroups of 256
// in the update, the two-dimensional grid); steps with a clip that binds, one that does not and none,
// then a plain optimizer.applyGradients (tfjs's path on the state the fused steps left). Compares the
// gradNorms after each step, then the parameters and optimizer.getWeights() (iterations, names,
// moments) to 1e-5 relative, and checks that no tensor leaks. Then counts the tfjs kernels
// (tf.profile) and GPU dispatches of applyClippedGradients for a model of 121 variables.
// Alone: XDG_RUNTIME_DIR=/tmp npx tsx bench/webgpu_check_adam.ts [--quick] (webgpu, lavapipe locally).
import * as tf from '@tensorflow/tfjs-core';
import {applyClippedGradients, configureValidation} from '../src/index.js';
import {settleWebGPUValueChecks} from '../src/math/fused/webgpu_value_checks.js';
import {setSumSquaresWebGPU} from '../src/math/fused/sum_squares_webgpu.js';
import {setFusedAdam} from '../src/train/fused_adam_update.js';

interface Tally {failures: number; worst: number; count: number}
type Mode = 'fused' | 'fused norms + tfjs Adam' | 'tfjs';

function setMode(mode: Mode): void {
  setSumSquaresWebGPU(mode !== 'tfjs');
  setFusedAdam(mode === 'fused');
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Number.isNaN(a[i]!) || Number.isNaN(b[i]!) ? Infinity : Math.abs(a[i]! - b[i]!));
  }
  return a.length !== b.length ? Infinity : err / Math.max(scale, 1e-30);
}

interface Run {
  norms: number[][];
  params: Float32Array[];
  weights: Array<{name: string; values: Float32Array}>;
  leaked: number;
}

/** Several steps of applyClippedGradients in `mode` on fresh copies of `init`, with a fresh optimizer. */
async function run(mode: Mode, init: tf.Tensor[], targets: tf.Tensor[], makeOptimizer: () => tf.Optimizer,
    maxNorms: number[]): Promise<Run> {
  setMode(mode);
  const tag = mode.replace(/[^a-z]/g, '');
  const vars = init.map((t, i) => tf.variable(t, true, `${tag}/w${i}`));
  const unused = tf.tidy(() => tf.variable(tf.ones([3, 5]), true, `${tag}/unused`));
  const optimizer = makeOptimizer();
  // Gradient of w_i: targets_i + w_i (the loss is sum_i sum(targets_i w_i + w_i^2 / 2)).
  const lossFn = () => tf.sum(tf.concat(vars.map((v, i) =>
    tf.reshape(tf.sum(tf.add(tf.mul(targets[i]!, v), tf.mul(0.5, tf.square(v)))), [1])))) as tf.Scalar;
  const groups = [[vars[0]!, vars[1]!, vars[vars.length - 1]!, unused], vars.slice(2, -1)];
  const norms: number[][] = [];
  let before = 0;
  for (let s = 0; s < maxNorms.length; s++) {
    if (s === 1) before = tf.memory().numTensors; // step 0 creates the moments
    const {loss, gradNorms} = applyClippedGradients(optimizer, lossFn, groups, maxNorms[s]!);
    norms.push(await Promise.all(gradNorms.map(async (n) => (await n.data())[0]!)));
    tf.dispose([loss, ...gradNorms]);
  }
  const leaked = tf.memory().numTensors - before;
  // tfjs's own update on the state the steps left (fused or not), its gradients in the steps' order
  // (tfjs pairs Adam's moments with variables by position).
  const {value, grads} = tf.variableGrads(lossFn, vars);
  const ordered: tf.NamedTensorMap = {};
  for (const v of groups.flat()) if (grads[v.name] !== undefined) ordered[v.name] = grads[v.name]!;
  optimizer.applyGradients(ordered);
  tf.dispose([value, ...Object.values(grads)]);
  const params = await Promise.all(vars.map(async (v) => await v.data() as Float32Array));
  const saved = await optimizer.getWeights(); // 'iter' (a new scalar), then the moments (the optimizer's own)
  const weights = await Promise.all(saved.map(async (w) =>
    ({name: w.name.replace(`${tag}/`, ''), values: await w.tensor.data() as Float32Array})));
  saved[0]!.tensor.dispose();
  optimizer.dispose();
  tf.dispose([...vars, unused]);
  return {norms, params, weights, leaked};
}

function compare(t: Tally, what: string, f: Run, r: Run): void {
  const problems: string[] = [];
  let worst = 0;
  const note = (name: string, err: number) => {
    worst = Math.max(worst, err);
    if (!(err < 1e-5)) problems.push(`${name} ${err.toExponential(2)}`);
  };
  f.norms.forEach((n, s) => note(`gradNorms step ${s}`, maxRel(n, r.norms[s]!)));
  f.params.forEach((p, i) => note(`w${i}`, maxRel(p, r.params[i]!)));
  if (f.weights.length !== r.weights.length) problems.push(`${f.weights.length} vs ${r.weights.length} optimizer weights`);
  f.weights.forEach((w, i) => {
    if (w.name !== r.weights[i]?.name) problems.push(`weight ${i} named ${w.name} vs ${r.weights[i]?.name}`);
    else note(w.name, maxRel(w.values, r.weights[i]!.values));
  });
  for (const [name, x] of [['fused', f], ['reference', r]] as const) {
    if (x.leaked !== 0) problems.push(`${name} run leaked ${x.leaked} tensors`);
  }
  t.count++;
  t.worst = Math.max(t.worst, worst);
  if (problems.length > 0) t.failures++;
  console.log(`${problems.length > 0 ? 'FAIL' : 'ok  '} ${what}: worst ${worst.toExponential(2)}` +
      `${problems.length > 0 ? ` (${problems.slice(0, 6).join('; ')})` : ''}; norms ${JSON.stringify(f.norms[0])}`);
}

async function correctness(t: Tally, quick: boolean): Promise<void> {
  const big = quick ? 18757 : 151936;
  const shapes = [[37], [5, 7], [3, 257], [1000, 33], [8193], [big, 896]];
  const init = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 11 + i));
  const targets = shapes.map((s, i) => tf.tidy(() => tf.mul(tf.randomNormal(s, 0, 1, 'float32', 101 + i), 10 ** (i % 3 - 1))));
  const optimizers: Array<[string, () => tf.Optimizer]> = [
    ['adam(1e-3)', () => tf.train.adam(1e-3)], ['adam(0.05, 0.8, 0.95, 1e-6)', () => tf.train.adam(0.05, 0.8, 0.95, 1e-6)]];
  for (const [name, make] of optimizers) {
    // Binding clip (the norms are in the hundreds), a clip that does not bind, none, binding again.
    const maxNorms = [1, 1e9, Infinity, 0.5];
    const reference = await run('tfjs', init, targets, make, maxNorms);
    compare(t, `${name} fused vs tfjs`, await run('fused', init, targets, make, maxNorms), reference);
    compare(t, `${name} fused norms + tfjs Adam vs tfjs`, await run('fused norms + tfjs Adam', init, targets, make, maxNorms), reference);
  }
  tf.dispose([...init, ...targets]);
  setMode('fused');
}

/** Counts GPU dispatches (tfjs programs and direct ones) by wrapping the compute pass's dispatchWorkgroups. */
function dispatchCounter(): {count: () => number} {
  const b = tf.backend() as unknown as {ensureCommandEncoderReady(): void; endComputePassEncoder(): void;
    computePassEncoder: object | null; commandEncoder: {beginComputePass(d: object): object}};
  b.ensureCommandEncoderReady();
  if (b.computePassEncoder != null) b.endComputePassEncoder();
  const pass = b.commandEncoder.beginComputePass({}) as {end(): void};
  pass.end();
  const proto = Object.getPrototypeOf(pass) as {dispatchWorkgroups: (...a: number[]) => void};
  const original = proto.dispatchWorkgroups;
  let n = 0;
  proto.dispatchWorkgroups = function (this: unknown, ...a: number[]) { n++; original.apply(this, a); };
  return {count: () => n};
}

async function kernelCounts(): Promise<void> {
  const counter = dispatchCounter();
  // 40 "layers" of [96, 64] + [96] + [64, 96], and one [2000, 64] embedding: 121 variables.
  const shapes: number[][] = [[2000, 64]];
  for (let l = 0; l < 40; l++) shapes.push([96, 64], [96], [64, 96]);
  for (const mode of ['tfjs', 'fused norms + tfjs Adam', 'fused'] as Mode[]) {
    setMode(mode);
    const vars = shapes.map((s, i) => tf.tidy(() => tf.variable(tf.randomNormal(s, 0, 1, 'float32', i), true, `count${mode.length}/w${i}`)));
    const optimizer = tf.train.adam(1e-3);
    // Not tf.addN: tfjs-webgpu's AddN binds one storage buffer per input (8 at most).
    const lossFn = () => tf.sum(tf.concat(vars.map((v) => tf.reshape(tf.sum(tf.square(v)), [1])))) as tf.Scalar;
    const step = () => { const {loss, gradNorms} = applyClippedGradients(optimizer, lossFn, [vars], 1); tf.dispose([loss, ...gradNorms]); };
    step(); // creates the moments
    // tf.profile hands back the same record each time: read it before the next profile.
    let d0 = counter.count();
    const lossKernels = (await tf.profile(() => {
      const {value, grads} = tf.variableGrads(lossFn, vars);
      tf.dispose([value, ...Object.values(grads)]);
    })).kernels.length;
    const lossDispatches = counter.count() - d0;
    d0 = counter.count();
    const info = await tf.profile(step);
    const dispatches = counter.count() - d0;
    const names = new Map<string, number>();
    for (const k of info.kernels) names.set(k.name, (names.get(k.name) ?? 0) + 1);
    const all = [...names.entries()].sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n} ${c}`).join(', ');
    console.log(`counts ${mode}: applyClippedGradients ${info.kernels.length} tfjs kernels, ${dispatches} GPU dispatches; ` +
        `its loss + gradients alone ${lossKernels} kernels, ${lossDispatches} dispatches; so the clip + update ` +
        `${info.kernels.length - lossKernels} kernels, ${dispatches - lossDispatches} dispatches (${shapes.length} variables). All: ${all}`);
    optimizer.dispose();
    tf.dispose(vars);
  }
  setMode('fused');
}

/**
 * A NaN (or infinite) gradient under the fused update: with value checks on, the variables, moments
 * and beta powers keep their values and the named error comes at the next fused call; with them off,
 * NaN reaches the variable, as tfjs's own Adam does.
 */
async function nonFiniteGuard(t: Tally): Promise<void> {
  setMode('fused');
  for (const [bad, checks] of [[NaN, true], [Infinity, true], [NaN, false]] as const) {
    const w = tf.tidy(() => tf.variable(tf.tensor1d([3, 4, 5]), true, `guard${t.count}`));
    const optimizer = tf.train.adam(0.1);
    const good = () => tf.sum(tf.square(w)) as tf.Scalar;
    const poisoned = () => tf.mul(tf.sum(tf.square(w)), bad) as tf.Scalar;
    const step = (f: () => tf.Scalar) => { const r = applyClippedGradients(optimizer, f, [[w]], 1); tf.dispose([r.loss, ...r.gradNorms]); };
    step(good); // creates the moments
    const snapshot = async () => {
      const weights = await optimizer.getWeights(); // [iterations (a new scalar), ...moments]
      const values = [Array.from(await w.data()), ...(await Promise.all(weights.map(async (n) => Array.from(await n.tensor.data()))))];
      weights[0]!.tensor.dispose();
      return values;
    };
    const expected = await snapshot();
    const previous = configureValidation({valueChecks: checks});
    let message = 'no error';
    try {
      step(poisoned);
      await settleWebGPUValueChecks();
    } catch (e) {
      message = (e as Error).message;
    } finally {
      configureValidation(previous);
    }
    const after = await snapshot();
    const unchanged = JSON.stringify(after.slice(0, 1).concat(after.slice(2))) === JSON.stringify(expected.slice(0, 1).concat(expected.slice(2)));
    const ok = checks ? unchanged && message.includes('applyClippedGradients: the gradients are not finite')
      : message === 'no error' && after[0]!.some(Number.isNaN);
    t.count++;
    if (!ok) t.failures++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} fused Adam guard, loss x ${bad}, value checks ${checks ? 'on' : 'off'}: ` +
        `${unchanged ? 'variables and moments unchanged' : `w ${JSON.stringify(after[0])}`}; ${message}`);
    optimizer.dispose();
    w.dispose();
  }
}

/** The fused-optimizer checks; prints one line per comparison and the kernel counts. */
export async function adamChecks(quick: boolean): Promise<Tally> {
  const t: Tally = {failures: 0, worst: 0, count: 0};
  if (!process.argv.includes('--counts-only')) await correctness(t, quick);
  if (!process.argv.includes('--counts-only')) await nonFiniteGuard(t);
  await kernelCounts();
  return t;
}

if (process.argv[1]?.endsWith('webgpu_check_adam.ts')) {
  void (async () => {
    await import('@tensorflow/tfjs');
    const {activateWebGPU} = await import('./activate_webgpu.js');
    await activateWebGPU();
    await tf.ready();
    const before = tf.memory().numTensors;
    const t = await adamChecks(process.argv.includes('--quick'));
    const left = tf.memory().numTensors - before;
    if (left !== 0) t.failures++;
    console.log(`${t.failures === 0 ? 'PASS' : 'FAIL'}: ${t.count} comparisons, worst ${t.worst.toExponential(2)}, ` +
        `tensors left ${left}`);
    process.exit(t.failures === 0 ? 0 : 1);
  })();
}

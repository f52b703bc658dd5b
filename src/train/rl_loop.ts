/**
 * A training loop that times each step, measures its peak tensor memory, evaluates now and then,
 * and reports through a callback.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';

/** One step's record: the step's own metrics plus what the loop measured. */
export type StepRecord<M extends object> = M & {
  /** 1-based step index. */
  step: number;
  /** Wall-clock seconds of the step (evaluation excluded). */
  seconds: number;
  /** Peak bytes of live tensors during the step (`tf.profile`'s `peakBytes`). */
  peakBytes: number;
  /** Live tensors after the step (flat over a run when nothing leaks). */
  numTensors: number;
  /** Held-out score when evaluated after this step. */
  accuracy?: number;
};

/** Options of {@link rlLoop}. */
export interface RlLoopOptions<M extends object> {
  /** Number of steps (>= 0). */
  steps: number;
  /** Runs step `i` (1-based) and returns its metrics. */
  step: (i: number) => Promise<M>;
  /** Held-out evaluation, run after every `evalEvery` steps and after the last. Default none. */
  evaluate?: (i: number) => Promise<number>;
  /** Evaluation period in steps; default `10`. */
  evalEvery?: number;
  /** Called with each step's record (drive a progress bar or a logger here). Default none. */
  onStep?: (record: StepRecord<M>) => void;
}

/**
 * Runs `steps` training steps. Each step runs inside `tf.profile`, which reports the peak bytes of
 * live tensors (the memory figure the demo compares between GRPO and PPO). The loop itself prints
 * nothing: pass `onStep`.
 *
 * @param options see {@link RlLoopOptions}.
 * @returns every step's record.
 * @throws when `options` is not an object or has an unknown key, `steps` or `evalEvery` is not a valid
 *   integer, `step` / `evaluate` / `onStep` is not a function, `step` resolves to something other than an
 *   object, or `evaluate` to something other than a finite number.
 * @example
 * const records = await rlLoop({steps: 2, step: async () => ({reward: 1})});
 * records[1]!.step; // 2
 */
export async function rlLoop<M extends object>(options: RlLoopOptions<M>): Promise<Array<StepRecord<M>>> {
  const fn = 'rlLoop';
  check(options !== null && typeof options === 'object' && !Array.isArray(options), fn, () =>
    `'options' expected {steps, step, ...}, got ${options === null || options === undefined ? String(options) : typeof options}`);
  assertKnownOptions(options, ['steps', 'step', 'evaluate', 'evalEvery', 'onStep'], fn);
  const {steps, step, evaluate, evalEvery = 10, onStep} = options;
  assertNumber(steps, fn, 'steps', {integer: true, min: 0});
  assertNumber(evalEvery, fn, 'evalEvery', {integer: true, min: 1});
  check(typeof step === 'function', fn, () => `'step' expected a function`);
  check(evaluate === undefined || typeof evaluate === 'function', fn, () =>
    `'evaluate' expected a function (step) => Promise<number>, got ${typeof evaluate}`);
  check(onStep === undefined || typeof onStep === 'function', fn, () =>
    `'onStep' expected a function (record) => void, got ${typeof onStep}`);
  const records: Array<StepRecord<M>> = [];
  for (let i = 1; i <= steps; i++) {
    const t0 = performance.now();
    let metrics: M | undefined;
    const info = await tf.profile(async () => { metrics = await step(i); return []; });
    const seconds = (performance.now() - t0) / 1000;
    check(metrics !== null && typeof metrics === 'object', fn, () =>
      `'step' expected to return (a promise of) a metrics object, got ${metrics === null ? 'null' : typeof metrics} at step ${i}`);
    const record = {...metrics, step: i, seconds, peakBytes: info.peakBytes, numTensors: tf.memory().numTensors} as StepRecord<M>;
    if (evaluate && (i % evalEvery === 0 || i === steps)) {
      const accuracy = await evaluate(i);
      check(typeof accuracy === 'number' && Number.isFinite(accuracy), fn, () =>
        `'evaluate' expected to return a finite number, got ${String(accuracy)} at step ${i}`);
      record.accuracy = accuracy;
    }
    records.push(record);
    onStep?.(record);
  }
  return records;
}

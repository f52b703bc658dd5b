/**
 * Boundary validation shared by every public tensor function.
 *
 * Messages follow one format, `fn: 'arg' expected <what>, got <given>`, so a caller can see which
 * argument of which function is wrong and how. Internal helpers trust their inputs; only public
 * functions call these, once, on entry.
 *
 * Value checks (a mask that is 0/1, finite rewards) read data back from the backend, which costs a
 * synchronisation on GPU backends. They are on by default; {@link configureValidation} turns them off
 * for production loops whose inputs are known to be well formed. Shape, rank and dtype checks are
 * always on: they cost nothing.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

let valueChecks = true;

/** Options of {@link configureValidation}. */
export interface ValidationConfig {
  /**
   * Whether public functions read values back to check them (mask is 0/1, rewards are finite).
   * Default `true`. Shape, rank and dtype checks cannot be turned off.
   */
  valueChecks?: boolean;
}

/**
 * Turns the value checks of public functions on or off (process-wide) and returns the previous setting.
 *
 * Value checks read a scalar back from the backend per checked argument; in a tight training loop on
 * `webgpu` that is a pipeline stall, so production code that builds its masks itself may turn them off.
 *
 * @param config.valueChecks check mask values and finiteness; default `true`.
 * @returns the configuration in force before the call.
 * @example
 * const previous = configureValidation({valueChecks: false});
 * // ... hot loop ...
 * configureValidation(previous);
 */
export function configureValidation(config: ValidationConfig): Required<ValidationConfig> {
  const previous = {valueChecks};
  if (config.valueChecks !== undefined) valueChecks = config.valueChecks;
  return previous;
}

/** @internal whether value checks are on. */
export function valueChecksEnabled(): boolean {
  return valueChecks;
}

/**
 * @internal Whether the active backend can read a tensor synchronously (`dataSync`). tfjs's webgpu
 * backend reads synchronously through `OffscreenCanvas`, which Node.js lacks, so there it cannot.
 */
export function canReadSync(): boolean {
  return tf.getBackend() !== 'webgpu' || typeof (globalThis as {OffscreenCanvas?: unknown}).OffscreenCanvas !== 'undefined';
}

/**
 * @internal Whether value checks that read a flag back synchronously run: value checks are on and
 * the backend can read synchronously. On webgpu in Node.js the fused kernels check values in their
 * own pass (errors are raised asynchronously, see `settleWebGPUValueChecks`); the composed ops'
 * checks are skipped there, since a synchronous read would throw.
 */
export function syncValueChecksEnabled(): boolean {
  return valueChecks && canReadSync();
}

/** @internal Formats a shape as `[8,1]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** @internal Throws `fn: message` when `cond` is false; the message is built lazily. */
export function check(cond: boolean, fn: string, message: () => string): asserts cond {
  if (!cond) throw new Error(`${fn}: ${message()}`);
}

const TENSOR_MAKERS = ['tf.scalar', 'tf.tensor1d', 'tf.tensor2d', 'tf.tensor3d', 'tf.tensor4d', 'tf.tensor5d', 'tf.tensor6d'];

/** The tfjs function that builds a tensor of `rank` (`tf.tensor` for an unknown rank). */
function tensorMaker(rank: number | undefined): string {
  return rank === undefined ? 'tf.tensor' : TENSOR_MAKERS[rank] ?? 'tf.tensor';
}

/** Nesting depth and shape of a (possibly nested) JS array, read along the first elements. */
function arrayShape(x: readonly unknown[]): number[] {
  const shape: number[] = [];
  let cur: unknown = x;
  while (Array.isArray(cur) || (ArrayBuffer.isView(cur) && !(cur instanceof DataView))) {
    const a = cur as ArrayLike<unknown>;
    shape.push(a.length);
    if (a.length === 0) break;
    cur = a[0];
  }
  return shape;
}

/**
 * @internal What a non-tensor value is and how to turn it into the tensor a function expects, for
 * error messages: `Float32Array of length 6; wrap it with tf.tensor1d`. `rank` is the expected rank
 * when known (it picks the suggested `tf.tensor<rank>d`).
 */
export function describeNonTensor(x: unknown, rank?: number): string {
  const maker = tensorMaker(rank);
  if (x === undefined || x === null) {
    return `${String(x)}; pass a tf.Tensor (is the argument missing, or its name misspelled?)`;
  }
  if (typeof x === 'number') {
    return rank === undefined || rank === 0
      ? `the number ${x}; wrap it with tf.scalar(${x})`
      : `the number ${x}; a rank-${rank} tensor is expected (tf.fill(shape, ${x}) makes a constant one)`;
  }
  if (typeof x === 'function') return 'a function; call it and pass the tensor it returns';
  if (typeof x !== 'object') return `a ${typeof x} (${JSON.stringify(String(x)).slice(0, 40)}); pass a tf.Tensor`;
  if (Array.isArray(x)) {
    const shape = arrayShape(x);
    if (x.length === 0) return `an empty array; pass a tf.Tensor (${maker}([]) for an empty one)`;
    const depth = shape.length;
    const kind = typeof (depth > 0 ? flatFirst(x) : undefined);
    const typed = kind === 'number' || kind === 'boolean' ? `${kind}${'[]'.repeat(depth)}` : 'array';
    const suggest = rank !== undefined && rank !== depth
      ? `${maker}(values, shape) (a rank-${rank} tensor is expected)`
      : tensorMaker(depth);
    return `an array (${typed} of shape ${fmtShape(shape)}); wrap it with ${suggest}`;
  }
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const name = x.constructor.name;
    const length = (x as unknown as ArrayLike<number>).length;
    const suggest = rank === undefined || rank === 1 ? tensorMaker(1)
      : rank === 0 ? 'tf.scalar(values[0])' : `${maker}(values, shape)`;
    return `${name} of length ${length}; wrap it with ${suggest}`;
  }
  const o = x as Record<string, unknown>;
  if ('dataId' in o && 'shape' in o && 'dtype' in o) {
    return 'a tensor from another copy of @tensorflow/tfjs-core (two versions are loaded); install a single ' +
        'version (`npm ls @tensorflow/tfjs-core`, then `npm dedupe`) so that tfjs-grpo and your code share it';
  }
  const proto = Object.getPrototypeOf(o) as object | null;
  if (proto !== null && proto !== Object.prototype) {
    return `an instance of ${(o.constructor as {name?: string} | undefined)?.name ?? 'an unknown class'}; pass a tf.Tensor`;
  }
  const keys = Object.keys(o);
  const tensorKeys = keys.filter((k) => o[k] instanceof tf.Tensor);
  const listed = `an object {${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}}`;
  return tensorKeys.length > 0
    ? `${listed}; pass one of its tensors (e.g. .${tensorKeys[0]}), not the object`
    : `${listed}; pass a tf.Tensor`;
}

function flatFirst(x: unknown): unknown {
  let cur = x;
  while (Array.isArray(cur) && cur.length > 0) cur = cur[0];
  return cur;
}

/**
 * @internal Asserts that `x` is a live tfjs Tensor. Anything else (an array, a typed array, a number,
 * undefined, an object, a tensor of another tfjs copy) gets a message naming what it is and the fix;
 * `rank`, when known, picks the suggested `tf.tensor<rank>d`.
 */
export function assertTensor(x: unknown, fn: string, name: string, rank?: number): asserts x is tf.Tensor {
  check(x instanceof tf.Tensor, fn, () => `'${name}' expected a tf.Tensor, got ${describeNonTensor(x, rank)}`);
  check(!(x as tf.Tensor).isDisposed, fn, () => `'${name}' expected a live tensor, got a disposed one`);
}

/**
 * @internal Asserts rank, and optionally dtype. `axes` names the expected axes for the message,
 * e.g. `['batch', 'time']`.
 */
export function assertRank(
    x: unknown, rank: number, fn: string, name: string, axes?: readonly string[],
    dtype?: tf.DataType | readonly tf.DataType[]): asserts x is tf.Tensor {
  assertTensor(x, fn, name, rank);
  const want = axes ? `[${axes.join(', ')}]` : `rank ${rank}`;
  check(x.rank === rank, fn, () => `'${name}' expected shape ${want} (rank ${rank}), got ${fmtShape(x.shape)}`);
  if (dtype !== undefined) assertDtype(x, dtype, fn, name);
}

/** @internal Asserts the dtype of `x` is one of `dtype`. */
export function assertDtype(
    x: tf.Tensor, dtype: tf.DataType | readonly tf.DataType[], fn: string, name: string): void {
  const allowed = typeof dtype === 'string' ? [dtype] : dtype;
  check(allowed.includes(x.dtype), fn, () => `'${name}' expected dtype ${allowed.join(' or ')}, got ${x.dtype}`);
}

/**
 * @internal Asserts the exact shape of `x`. `axes` names each axis for the message:
 * `'advantages' expected shape [batch]=[8], got [8,1]`.
 */
export function assertShape(
    x: unknown, shape: readonly number[], fn: string, name: string, axes?: readonly string[]): asserts x is tf.Tensor {
  assertTensor(x, fn, name, shape.length);
  const same = x.rank === shape.length && x.shape.every((d, i) => d === shape[i]);
  check(same, fn, () => {
    const named = axes ? `[${axes.join(', ')}]=` : '';
    return `'${name}' expected shape ${named}${fmtShape(shape)}, got ${fmtShape(x.shape)}`;
  });
}

/** @internal Asserts `x` has the same shape as `ref` (named `refName`). */
export function assertSameShape(
    x: unknown, ref: tf.Tensor, fn: string, name: string, refName: string): asserts x is tf.Tensor {
  assertTensor(x, fn, name, ref.rank);
  const same = x.rank === ref.rank && x.shape.every((d, i) => d === ref.shape[i]);
  check(same, fn, () =>
    `'${name}' expected the shape of '${refName}' ${fmtShape(ref.shape)}, got ${fmtShape(x.shape)}`);
}

/** @internal Asserts a float tensor (float32). */
export function assertFloat(x: tf.Tensor, fn: string, name: string): void {
  assertDtype(x, 'float32', fn, name);
}

/**
 * @internal Asserts every element of `mask` is exactly 0 or 1 (a value check: skipped when value
 * checks are off). Reads one scalar back.
 */
export function assertBinaryMask(mask: tf.Tensor, fn: string, name = 'mask'): void {
  // An empty tensor has no bad value (and `tf.any` of an empty tensor is true on wasm).
  if (!syncValueChecksEnabled() || mask.size === 0) return;
  const bad = tf.tidy(() => {
    const m = tf.cast(mask, 'float32');
    return tf.any(tf.logicalAnd(tf.notEqual(m, 0), tf.notEqual(m, 1)));
  });
  const isBad = bad.dataSync()[0] !== 0;
  bad.dispose();
  if (isBad) {
    const data = mask.dataSync() as ArrayLike<number>; // not a reshape: under a tape it would leak a copy
    let example = NaN;
    for (let i = 0; i < data.length; i++) if (data[i] !== 0 && data[i] !== 1) { example = data[i]!; break; }
    throw new Error(`${fn}: '${name}' expected values in {0, 1}, got ${example} (shape ${fmtShape(mask.shape)})`);
  }
}

/**
 * @internal Asserts every element of `x` is finite (a value check: skipped when value checks are off).
 */
export function assertFinite(x: tf.Tensor, fn: string, name: string): void {
  if (!syncValueChecksEnabled() || x.size === 0) return;
  const bad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(tf.cast(x, 'float32')))));
  const isBad = bad.dataSync()[0] !== 0;
  bad.dispose();
  // dataSync, not a reshape: under a gradient tape a reshape saves a copy of x, which the error leaks.
  if (isBad) assertFiniteValues(x.dataSync() as ArrayLike<number>, fn, name, x.shape);
}

/**
 * @internal Asserts every element of `x` where `mask` (same shape) is not 0 is finite, with
 * {@link assertFinite}'s message and switch. One scalar read back; only ops that save no tensor for a
 * gradient tape (comparisons, logical ops, `any`), so a failed check inside `tf.grad` leaks nothing.
 */
export function assertFiniteOnMask(x: tf.Tensor, mask: tf.Tensor, fn: string, name: string): void {
  if (!syncValueChecksEnabled() || x.size === 0) return;
  const bad = tf.tidy(() => tf.any(tf.logicalAnd(
      tf.notEqual(tf.cast(mask, 'float32'), 0), tf.logicalNot(tf.isFinite(tf.cast(x, 'float32'))))));
  const isBad = bad.dataSync()[0] !== 0;
  bad.dispose();
  if (isBad) assertFiniteValues(x.dataSync() as ArrayLike<number>, fn, name, x.shape, mask.dataSync() as ArrayLike<number>);
}

/**
 * @internal Asserts the tensors of `named` have one shape. When all but one of three or more agree,
 * the odd one is named: `'rewards' expected the shape of 'values' and 'mask' [2,2], got [2,3]`;
 * otherwise every shape is listed: `'kl' [2,3] and 'mask' [2,2] expected the same shape`.
 */
export function assertSameShapes(fn: string, named: ReadonlyArray<readonly [string, tf.Tensor]>): void {
  const shapes = named.map(([, t]) => fmtShape(t.shape));
  if (shapes.every((s) => s === shapes[0])) return;
  const odd = shapes.map((s, i) => i).filter((i) => shapes.filter((s) => s === shapes[i]).length === 1);
  if (named.length >= 3 && odd.length === 1 && new Set(shapes).size === 2) {
    const i = odd[0]!;
    const others = named.filter((_, j) => j !== i).map(([n]) => `'${n}'`);
    const list = `${others.slice(0, -1).join(', ')} and ${others[others.length - 1]}`;
    const agreed = shapes[i === 0 ? 1 : 0]!;
    throw new Error(`${fn}: '${named[i]![0]}' expected the shape of ${list} ${agreed}, got ${shapes[i]}`);
  }
  const listed = named.map(([n], i) => `'${n}' ${shapes[i]}`);
  throw new Error(`${fn}: ${listed.slice(0, -1).join(', ')} and ${listed[listed.length - 1]} expected the same shape`);
}

/**
 * @internal Asserts every element of `values` (a tensor's data, `shape`) is finite, or only those
 * where `mask` (same length) is not 0, with the message of {@link assertFinite}. One pass; the caller
 * decides whether value checks are on.
 */
export function assertFiniteValues(values: ArrayLike<number>, fn: string, name: string, shape: readonly number[],
    mask?: ArrayLike<number>): void {
  const counted = (i: number) => mask === undefined || Number(mask[i]) !== 0;
  let bad = 0;
  if (mask === undefined) for (let i = 0; i < values.length; i++) bad += values[i]! - values[i]!; // NaN for NaN, +-Infinity
  else for (let i = 0; i < values.length; i++) if (counted(i)) bad += values[i]! - values[i]!;
  if (bad === 0) return;
  let index = 0;
  while (!counted(index) || Number.isFinite(values[index]!)) index++;
  throw new Error(`${fn}: '${name}' expected finite values, got ${values[index]} at flat index ${index} ` +
      `(shape ${fmtShape(shape)})`);
}

/**
 * @internal Asserts that tfjs has gradient functions registered. `@tensorflow/tfjs-core` alone
 * registers none; `@tensorflow/tfjs` (or, in a bundler, `@tensorflow/tfjs-core/dist/register_all_gradients`)
 * does. Training code calls this before `tf.grad`/`optimizer.minimize` so that the user gets a fix,
 * not tfjs's "gradient function not found for Sum".
 */
export function assertGradientsRegistered(fn: string): void {
  check(tf.getGradient('Sum') !== undefined && tf.getGradient('Exp') !== undefined, fn, () =>
    "tfjs gradients are not registered: import '@tensorflow/tfjs' (which registers them) before " +
    "training, or '@tensorflow/tfjs-core/dist/register_all_gradients' in a bundler build");
}

/** @internal Asserts a number option lies in a range; `lo`/`hi` inclusive unless stated. */
export function assertNumber(
    value: unknown, fn: string, name: string,
    {min, max, minExclusive = false, integer = false}: {min?: number; max?: number; minExclusive?: boolean; integer?: boolean} = {}): asserts value is number {
  check(typeof value === 'number' && Number.isFinite(value), fn, () =>
    `'${name}' expected a finite number, got ${String(value)}`);
  if (integer) check(Number.isInteger(value), fn, () => `'${name}' expected an integer, got ${value}`);
  if (min !== undefined) {
    const ok = minExclusive ? value > min : value >= min;
    check(ok, fn, () => `'${name}' expected ${minExclusive ? '>' : '>='} ${min}, got ${value}`);
  }
  if (max !== undefined) check(value <= max, fn, () => `'${name}' expected <= ${max}, got ${value}`);
}

/** @internal Asserts a string option is one of `allowed`. */
export function assertOneOf<T extends string>(
    value: unknown, allowed: readonly T[], fn: string, name: string): asserts value is T {
  check(typeof value === 'string' && (allowed as readonly string[]).includes(value), fn, () =>
    `'${name}' expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
}

/**
 * @internal The entry of `known` closest to `key` when it is a likely misspelling of it (same name up
 * to case, `_`/`-`, or a small edit distance), else `undefined`.
 */
export function closestName(key: string, known: readonly string[]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  const k = norm(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(k, norm(candidate));
    if (d < bestDistance) { best = candidate; bestDistance = d; }
  }
  return bestDistance <= Math.max(1, Math.floor(k.length / 3)) ? best : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownKeyMessage(what: string, key: string, known: readonly string[]): string {
  const guess = closestName(key, known);
  return `unknown ${what} '${key}'; expected one of ${known.map((k) => `'${k}'`).join(', ')}` +
      (guess === undefined ? '' : `; did you mean '${guess}'?`);
}

/**
 * @internal Rejects option names that are not in `known` (typos such as `clip_low` or `betta` would
 * otherwise be ignored silently). The message lists the known names and suggests the closest one.
 */
export function assertKnownOptions(
    options: object | undefined, known: readonly string[], fn: string): void {
  if (options === undefined) return;
  check(typeof options === 'object' && options !== null, fn, () => `'options' expected an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    check(known.includes(key), fn, () => unknownKeyMessage('option', key, known));
  }
}

/**
 * @internal Asserts that a named-inputs object is an object whose keys are all in `known`. A
 * misspelled input (`oldLogprobs` for `oldLogProbs`) would otherwise be ignored and its default used
 * silently (for `oldLogProbs`: a ratio of 1, no clipping). The message lists the expected keys and
 * suggests the closest one. `name` is the argument's name (`'inputs'`, `'ctx'`, `'batch'`).
 */
export function assertKnownInputs(inputs: unknown, known: readonly string[], fn: string, name = 'inputs'): void {
  check(typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs) && !(inputs instanceof tf.Tensor), fn, () =>
    `'${name}' expected an object {${known.join(', ')}}, got ${inputs instanceof tf.Tensor ? 'a tf.Tensor' : describeNonTensor(inputs).split(';')[0]}`);
  for (const key of Object.keys(inputs)) {
    check(known.includes(key), fn, () =>
      unknownKeyMessage(name === 'inputs' ? 'input' : `key of '${name}'`, key, known));
  }
}

/**
 * Group bookkeeping shared by the group-relative advantage estimators (`groupAdvantages`,
 * `rlooAdvantages`): resolves `groupSize` (contiguous groups) or `groupIds` (any order, any
 * group size) into dense segment ids, validates them, and provides the few tensor reductions over
 * groups that the estimators need. Internal: not exported from the package.
 *
 * Everything is written with ops every backend has (`matMul`, `gather`);
 * `unsortedSegmentSum` is avoided because the wasm backend has no kernel for it.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, assertTensor, check, fmtShape} from './assert.js';

/**
 * How the rows of a batch are grouped by prompt: exactly one of `groupSize` (contiguous groups) or
 * `groupIds` (any order, any sizes).
 */
export interface GroupOptions {
  /**
   * Completions per prompt; groups are contiguous (rows `i*G .. i*G+G-1` belong to prompt `i`).
   * An integer >= 2 that divides the batch size. Give this or `groupIds`, not both.
   */
  groupSize?: number;
  /**
   * Group id of each row, length `batch` (an int32 `tf.Tensor1D` or an array of integers). Ids can
   * be any integers in any order, and groups can have different sizes (including 1). Give this or
   * `groupSize`, not both. A tensor is read back once (a backend synchronisation) to count the groups.
   */
  groupIds?: tf.Tensor1D | readonly number[];
}

/** @internal Groups resolved to dense ids `0 .. numGroups-1` (plain JS data, no tensors). */
export interface ResolvedGroups {
  /** Dense group index of each row, `[batch]`. */
  segmentIds: Int32Array;
  /** Number of groups. */
  numGroups: number;
  /** Size of each group, `[numGroups]`. */
  sizes: Int32Array;
  /** Index of the first row of each group, `[numGroups]`. */
  firstRow: Int32Array;
  /**
   * G when the groups are contiguous runs of G rows (rows i*G .. i*G+G-1 form group i), else 0 or
   * absent: the reductions then reshape to `[numGroups, G]` instead of building a `[batch, numGroups]`
   * membership matrix on the CPU and uploading it (4 MiB per call at batch 4096, G 16).
   */
  contiguousSize?: number;
}

/** G when `groups` are contiguous runs of G >= 1 rows, else 0. */
function contiguousSizeOf(segmentIds: Int32Array, sizes: Int32Array): number {
  const g = sizes[0] ?? 0;
  if (g < 1 || !sizes.every((s) => s === g)) return 0;
  for (let i = 0; i < segmentIds.length; i++) if (segmentIds[i] !== Math.floor(i / g)) return 0;
  return g;
}

/**
 * @internal Validates `groupSize` / `groupIds` against a batch of `batch` rows (`batchShape` is
 * the shape of the argument named `batchName`, for messages) and resolves them to dense ids.
 * Reads `groupIds` back when it is a tensor (one synchronisation).
 */
export function resolveGroups(
    options: GroupOptions, batch: number, fn: string, batchName: string,
    batchShape: readonly number[]): ResolvedGroups {
  const {groupSize, groupIds} = options;
  const hasSize = groupSize !== undefined;
  const hasIds = groupIds !== undefined;
  check(hasSize !== hasIds, fn, () =>
    `expected exactly one of 'groupSize' or 'groupIds', got ${hasSize ? 'both' : 'neither'}`);

  if (hasSize) {
    assertNumber(groupSize, fn, 'groupSize', {min: 2, integer: true});
    check(batch % groupSize === 0, fn, () =>
      `'groupSize' expected a divisor of the batch size ${batch} ('${batchName}' has shape ` +
      `${fmtShape(batchShape)}), got ${groupSize}`);
    const numGroups = batch / groupSize;
    const segmentIds = new Int32Array(batch);
    for (let i = 0; i < batch; i++) segmentIds[i] = Math.floor(i / groupSize);
    const sizes = new Int32Array(numGroups).fill(groupSize);
    const firstRow = new Int32Array(numGroups);
    for (let g = 0; g < numGroups; g++) firstRow[g] = g * groupSize;
    return {segmentIds, numGroups, sizes, firstRow, contiguousSize: groupSize};
  }

  let ids: ArrayLike<number>;
  if (Array.isArray(groupIds)) {
    check(groupIds.length === batch, fn, () =>
      `'groupIds' expected length [batch]=[${batch}] (the shape of '${batchName}' ` +
      `${fmtShape(batchShape)}), got length ${groupIds.length}`);
    for (let i = 0; i < groupIds.length; i++) {
      const v: unknown = groupIds[i];
      check(typeof v === 'number' && Number.isInteger(v), fn, () =>
        `'groupIds' expected integers, got ${String(v)} at index ${i}`);
    }
    ids = groupIds;
  } else {
    assertTensor(groupIds, fn, 'groupIds');
    check(groupIds.dtype === 'int32', fn, () => `'groupIds' expected dtype int32, got ${groupIds.dtype}`);
    check(groupIds.rank === 1 && groupIds.shape[0] === batch, fn, () =>
      `'groupIds' expected shape [batch]=[${batch}] (the shape of '${batchName}' ` +
      `${fmtShape(batchShape)}), got ${fmtShape(groupIds.shape)}`);
    ids = groupIds.dataSync();
  }

  const dense = new Map<number, number>();
  const segmentIds = new Int32Array(batch);
  const sizesList: number[] = [];
  const firstList: number[] = [];
  for (let i = 0; i < batch; i++) {
    const id = ids[i]!;
    let g = dense.get(id);
    if (g === undefined) {
      g = dense.size;
      dense.set(id, g);
      sizesList.push(0);
      firstList.push(i);
    }
    segmentIds[i] = g;
    sizesList[g] = sizesList[g]! + 1;
  }
  const sizes = Int32Array.from(sizesList);
  return {
    segmentIds, numGroups: dense.size, sizes, firstRow: Int32Array.from(firstList),
    contiguousSize: contiguousSizeOf(segmentIds, sizes),
  };
}

/** @internal 0/1 membership matrix `[batch, numGroups]`: row i has a 1 in column segmentIds[i]. */
function membership(groups: ResolvedGroups): tf.Tensor2D {
  const {segmentIds, numGroups} = groups;
  const ones = new Float32Array(segmentIds.length * numGroups);
  segmentIds.forEach((g, i) => { ones[i * numGroups + g] = 1; });
  return tf.tensor2d(ones, [segmentIds.length, numGroups]);
}

/**
 * @internal Per-group sums of `x` `[batch]` -> `[numGroups]`, as a 0/1 membership matrix product
 * (exact: each sum only adds the group's own values and zeros). matMul rather than
 * `unsortedSegmentSum` or `gather` so that values and gradients work on every backend.
 */
export function groupSums(x: tf.Tensor, groups: ResolvedGroups): tf.Tensor1D {
  const g = groups.contiguousSize ?? 0;
  if (g > 0) return tf.tidy(() => tf.sum(tf.reshape(x, [groups.numGroups, g]), 1) as tf.Tensor1D);
  return tf.tidy(() => tf.reshape(
      tf.matMul(membership(groups), tf.reshape(x, [-1, 1]), true, false), [groups.numGroups]) as tf.Tensor1D);
}

/** @internal Broadcasts per-group values `[numGroups]` back to rows `[batch]` (exact copies). */
export function toRows(perGroup: tf.Tensor, groups: ResolvedGroups): tf.Tensor1D {
  const g = groups.contiguousSize ?? 0;
  if (g > 0) {
    return tf.tidy(() => tf.reshape(tf.broadcastTo(tf.reshape(perGroup, [groups.numGroups, 1]), [groups.numGroups, g]),
        [groups.segmentIds.length]) as tf.Tensor1D);
  }
  return tf.tidy(() => tf.reshape(
      tf.matMul(membership(groups), tf.reshape(perGroup, [-1, 1])), [groups.segmentIds.length]) as tf.Tensor1D);
}

/**
 * @internal Per-row boolean `[batch]`: true where the row's group has a single member or all its
 * members' values are exactly equal. Uses sum |x_i - x_first| == 0, which is exact (a difference of
 * two floats is 0 only when they are equal). Built from ops that have (zero) gradients, so it can
 * sit inside a differentiated function.
 */
export function degenerateRows(x: tf.Tensor1D, groups: ResolvedGroups): tf.Tensor1D {
  return tf.tidy(() => {
    const {numGroups, firstRow, sizes} = groups;
    const batch = groups.segmentIds.length;
    const g = groups.contiguousSize ?? 0;
    let firstValues: tf.Tensor;
    if (g > 0) {
      firstValues = tf.slice(tf.reshape(x, [numGroups, g]), [0, 0], [numGroups, 1]);
    } else {
      const pick = new Float32Array(numGroups * batch);
      firstRow.forEach((row, i) => { pick[i * batch + row] = 1; });
      firstValues = tf.matMul(tf.tensor2d(pick, [numGroups, batch]), tf.reshape(x, [-1, 1]));
    }
    const spread = groupSums(tf.abs(tf.sub(x, toRows(firstValues, groups))), groups);
    const single = tf.tensor1d(Array.from(sizes, (s) => (s < 2 ? 1 : 0)), 'float32');
    // spread >= 0, so (0 >= spread) is (spread == 0); greaterEqual and cast have gradients, equal does not.
    const flag = tf.add(tf.cast(tf.greaterEqual(0, spread), 'float32'), single);
    return tf.greaterEqual(toRows(flag, groups), 1) as tf.Tensor1D;
  });
}

/** @internal Group sizes `[numGroups]` as float32. */
export function groupSizes(groups: ResolvedGroups): tf.Tensor1D {
  return tf.tensor1d(groups.sizes, 'float32');
}

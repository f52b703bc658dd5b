import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {degenerateRows, groupSums, resolveGroups, toRows} from '../../src/math/group_index.js';

describe('resolveGroups (internal)', () => {
  it('maps contiguous groupSize to segment ids', () => {
    const g = resolveGroups({groupSize: 3}, 6, 'f', 'rewards', [6]);
    expect(Array.from(g.segmentIds)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(g.numGroups).toBe(2);
    expect(Array.from(g.sizes)).toEqual([3, 3]);
    expect(Array.from(g.firstRow)).toEqual([0, 3]);
  });

  it('densifies arbitrary groupIds in order of first appearance (array or int32 tensor)', () => {
    const ids = [42, -7, 42, 5, -7, 42];
    const ids2 = tf.tensor1d(ids, 'int32');
    for (const groupIds of [ids, ids2]) {
      const g = resolveGroups({groupIds}, 6, 'f', 'rewards', [6]);
      expect(Array.from(g.segmentIds)).toEqual([0, 1, 0, 2, 1, 0]);
      expect(g.numGroups).toBe(3);
      expect(Array.from(g.sizes)).toEqual([3, 2, 1]);
      expect(Array.from(g.firstRow)).toEqual([0, 1, 3]);
    }
    ids2.dispose();
  });

  it('rejects neither/both, bad sizes and wrong lengths', () => {
    expect(() => resolveGroups({}, 4, 'f', 'rewards', [4])).toThrow("f: expected exactly one of 'groupSize' or 'groupIds', got neither");
    expect(() => resolveGroups({groupSize: 2, groupIds: [0, 0, 1, 1]}, 4, 'f', 'rewards', [4])).toThrow('got both');
    expect(() => resolveGroups({groupSize: 3}, 4, 'f', 'rewards', [4])).toThrow("f: 'groupSize' expected a divisor of the batch size 4");
    expect(() => resolveGroups({groupSize: 1}, 4, 'f', 'rewards', [4])).toThrow("f: 'groupSize' expected >= 2, got 1");
    expect(() => resolveGroups({groupIds: [0, 1]}, 4, 'f', 'rewards', [4])).toThrow("f: 'groupIds' expected length [batch]=[4]");
    expect(() => resolveGroups({groupIds: [0, 1, NaN, 1]}, 4, 'f', 'rewards', [4])).toThrow("'groupIds' expected integers, got NaN at index 2");
  });

  it('group sums, broadcast back and degenerate rows are exact', () => {
    const g = resolveGroups({groupIds: [0, 1, 0, 2, 1, 1]}, 6, 'f', 'x', [6]);
    const x = tf.tensor1d([0.1, 0.3, 0.1, 9, 0.3, 0.7]);
    const before = tf.memory().numTensors;
    const sums = groupSums(x, g);
    const rows = toRows(sums, g);
    const degenerate = degenerateRows(x, g);
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(Array.from(sums.dataSync())).toEqual([Math.fround(0.1) * 2, Math.fround(Math.fround(0.3 + 0.3) + Math.fround(0.7)), 9].map(Math.fround));
    expect(Array.from(rows.dataSync())).toEqual([0, 1, 0, 2, 1, 1].map((i) => sums.dataSync()[i]));
    // group 0 = {0.1, 0.1} equal; group 2 = {9} singleton; group 1 differs.
    expect(Array.from(degenerate.dataSync())).toEqual([1, 0, 1, 1, 0, 0]);
    tf.dispose([x, sums, rows, degenerate]);
  });
});

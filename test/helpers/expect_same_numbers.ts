import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'vitest';

/**
 * Exact on cpu; on wasm, whose SIMD reductions may round the last bit differently from run to run,
 * within float32 rounding.
 */
export function expectSameNumbers(actual: number | number[][], expected: number | number[][]): void {
  if (tf.getBackend() !== 'wasm') {
    expect(actual).toEqual(expected);
    return;
  }
  const [a, e] = [[actual].flat(2), [expected].flat(2)];
  expect(a.length).toBe(e.length);
  a.forEach((x, i) => expect(Math.abs(x - e[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(e[i]!))));
}

import {describe, expect, it} from 'vitest';
import {product} from '../../src/rewards/product.js';
import {batch, fixed, fixedAsync} from './reward_fixtures.js';

describe('product', () => {
  it('multiplies rewards; with 0/1 rewards it is a logical AND (hand-computed)', async () => {
    expect(await product(fixed([1, 1, 0, 0]), fixedAsync([1, 0, 1, 0]))(batch(4))).toEqual([1, 0, 0, 0]);
    expect(product(fixed([2, -1]), fixed([0.5, 3]))(batch(2))).toEqual([1, -3]);
  });
  it('needs at least one reward', () => {
    expect(() => product()).toThrow('product: expected at least one reward, got 0');
  });
});

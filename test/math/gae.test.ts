import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {gae} from '../../src/math/gae.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

/** Plain-JS reference over one row: skip masked steps, bootstrap 0 after the last unmasked step. */
function referenceGae(r: number[], v: number[], m: number[], gamma: number, lambda: number): number[] {
  const adv = r.map(() => 0);
  let nextV = 0;
  let nextA = 0;
  for (let t = r.length - 1; t >= 0; t--) {
    if (m[t] === 0) continue;
    const delta = r[t]! + gamma * nextV - v[t]!;
    adv[t] = delta + gamma * lambda * nextA;
    nextV = v[t]!;
    nextA = adv[t]!;
  }
  return adv;
}

/** Random [batch, time] rewards, values and a 0/1 mask (holes and right padding included). */
const rolloutArb = fc.integer({min: 1, max: 4}).chain((batch) => fc.integer({min: 1, max: 7}).chain((time) => {
  const grid = (arb: fc.Arbitrary<number>) => fc.array(fc.array(arb, {minLength: time, maxLength: time}),
      {minLength: batch, maxLength: batch});
  const num = fc.double({min: -3, max: 3, noNaN: true});
  return fc.record({
    rewards: grid(num), values: grid(num), mask: grid(fc.constantFrom(0, 1)),
    gamma: fc.double({min: 0, max: 1, noNaN: true}), lambda: fc.double({min: 0, max: 1, noNaN: true}),
  });
}));

function run(rewards: number[][], values: number[][], mask: number[][], gamma: number, lambda: number) {
  const [r, v, m] = [tf.tensor2d(rewards), tf.tensor2d(values), tf.tensor2d(mask)];
  const out = gae({rewards: r, values: v, mask: m}, {gamma, lambda});
  const result = {advantages: out.advantages.arraySync(), returns: out.returns.arraySync()};
  tf.dispose([r, v, m, out.advantages, out.returns]);
  return result;
}

function expectClose(actual: number[][], expected: number[][], digits = 4) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, b) => row.forEach((x, t) => expect(x).toBeCloseTo(expected[b]![t]!, digits)));
}

describe('gae', () => {
  it('hand-computed values with right padding', () => {
    // gamma 0.9, lambda 0.5 (gamma*lambda = 0.45), mask [1,1,1,0]; the value 9 at t=3 is padding.
    // t=2: delta = 1 + 0.9*0 - 0.3 = 0.7                      A2 = 0.7
    // t=1: delta = 0 + 0.9*0.3 - 0.2 = 0.07;  A1 = 0.07 + 0.45*0.7   = 0.385
    // t=0: delta = 0 + 0.9*0.2 - 0.1 = 0.08;  A0 = 0.08 + 0.45*0.385 = 0.25325
    // returns = A + V = [0.35325, 0.585, 1.0, 9 (A3 = 0)]
    const out = run([[0, 0, 1, 0]], [[0.1, 0.2, 0.3, 9]], [[1, 1, 1, 0]], 0.9, 0.5);
    expectClose(out.advantages, [[0.25325, 0.385, 0.7, 0]], 5);
    expectClose(out.returns, [[0.35325, 0.585, 1.0, 9]], 5);
  });

  it('hand-computed values across a hole (masked step skipped, no discount for it)', () => {
    // mask [1,0,1], gamma 0.9, lambda 1; reward 5 and value 7 at the hole are ignored.
    // t=2: A2 = 1 - 0.25 = 0.75;  t=1: hole, A1 = 0
    // t=0: delta = 0 + 0.9*0.25 - 0.5 = -0.275;  A0 = -0.275 + 0.9*0.75 = 0.4  (= MC 0.9*1 - 0.5)
    const out = run([[0, 5, 1]], [[0.5, 7, 0.25]], [[1, 0, 1]], 0.9, 1);
    expectClose(out.advantages, [[0.4, 0, 0.75]], 5);
    expectClose(out.returns, [[0.9, 7, 1]], 5);
  });

  it('uses defaults gamma = lambda = 1 and handles rows of different lengths', () => {
    // row 0: MC return 1 at every step; row 1 has one token: A = 2 - 1 = 1.
    const [r, v, m] = [tf.tensor2d([[0, 0, 1], [2, 0, 0]]), tf.tensor2d([[0.5, 0.5, 0.5], [1, 1, 1]]),
      tf.tensor2d([[1, 1, 1], [1, 0, 0]], undefined, 'int32')];
    const {advantages, returns} = gae({rewards: r, values: v, mask: m});
    expectClose(advantages.arraySync(), [[0.5, 0.5, 0.5], [1, 0, 0]]);
    expectClose(returns.arraySync(), [[1, 1, 1], [2, 1, 1]]);
    tf.dispose([r, v, m, advantages, returns]);
  });

  it('property: matches the plain-JS reverse scan', () => {
    fc.assert(fc.property(rolloutArb, ({rewards, values, mask, gamma, lambda}) => {
      const out = run(rewards, values, mask, gamma, lambda);
      expectClose(out.advantages, rewards.map((r, b) => referenceGae(r, values[b]!, mask[b]!, gamma, lambda)), 3);
    }), {numRuns: 40});
  });

  it('property: lambda = 1 gives discounted Monte-Carlo returns minus values', () => {
    fc.assert(fc.property(rolloutArb, ({rewards, values, mask, gamma}) => {
      const out = run(rewards, values, mask, gamma, 1);
      rewards.forEach((r, b) => {
        const idx = mask[b]!.flatMap((x, t) => (x === 1 ? [t] : []));
        idx.forEach((t, k) => {
          let g = 0;
          for (let j = idx.length - 1; j >= k; j--) g = r[idx[j]!]! + gamma * g;
          expect(out.advantages[b]![t]!).toBeCloseTo(g - values[b]![t]!, 3);
          expect(out.returns[b]![t]!).toBeCloseTo(g, 3);
        });
      });
    }), {numRuns: 40});
  });

  it('property: lambda = 0 gives the one-step TD residual', () => {
    fc.assert(fc.property(rolloutArb, ({rewards, values, mask, gamma}) => {
      const out = run(rewards, values, mask, gamma, 0);
      rewards.forEach((r, b) => {
        const idx = mask[b]!.flatMap((x, t) => (x === 1 ? [t] : []));
        idx.forEach((t, k) => {
          const next = k + 1 < idx.length ? values[b]![idx[k + 1]!]! : 0;
          expect(out.advantages[b]![t]!).toBeCloseTo(r[t]! + gamma * next - values[b]![t]!, 3);
        });
      });
    }), {numRuns: 40});
  });

  it('property: masked steps never influence unmasked ones; advantages are 0 and returns = values there', () => {
    const noise = fc.array(fc.double({min: -100, max: 100, noNaN: true}), {minLength: 28, maxLength: 28});
    fc.assert(fc.property(rolloutArb, noise, ({rewards, values, mask, gamma, lambda}, z) => {
      const base = run(rewards, values, mask, gamma, lambda);
      let i = 0;
      const perturb = (g: number[][]) => g.map((row, b) => row.map((x, t) => (mask[b]![t] === 0 ? z[i++ % z.length]! : x)));
      const pr = perturb(rewards);
      const pv = perturb(values);
      const other = run(pr, pv, mask, gamma, lambda);
      mask.forEach((row, b) => row.forEach((on, t) => {
        if (on === 1) {
          expect(other.advantages[b]![t]!).toBeCloseTo(base.advantages[b]![t]!, 4);
        } else {
          expect(other.advantages[b]![t]).toBe(0);
          expect(other.returns[b]![t]!).toBeCloseTo(pv[b]![t]!, 4);
        }
      }));
    }), {numRuns: 30});
  });

  // Two definitions derived independently of the implementation's recursion (and of each other):
  // the lambda-return for `returns`, and the explicit discounted sum of TD residuals for `advantages`.
  it('property: returns are the lambda-returns G_t = r_t + gamma ((1 - lambda) V_next + lambda G_next), G = 0 after the end', () => {
    fc.assert(fc.property(rolloutArb, ({rewards, values, mask, gamma, lambda}) => {
      const out = run(rewards, values, mask, gamma, lambda);
      rewards.forEach((r, b) => {
        const idx = mask[b]!.flatMap((x, t) => (x === 1 ? [t] : []));
        let g = 0;
        let nextV = 0;
        for (let k = idx.length - 1; k >= 0; k--) {
          const t = idx[k]!;
          g = r[t]! + gamma * ((1 - lambda) * nextV + lambda * g);
          nextV = values[b]![t]!;
          expect(out.returns[b]![t]!).toBeCloseTo(g, 3);
        }
      });
    }), {numRuns: 30});
  });

  it('property: advantages are the explicit sum A_t = sum_l (gamma lambda)^l delta_(t+l) over the unmasked steps (GAE eq. 16)', () => {
    fc.assert(fc.property(rolloutArb, ({rewards, values, mask, gamma, lambda}) => {
      const out = run(rewards, values, mask, gamma, lambda);
      rewards.forEach((r, b) => {
        const idx = mask[b]!.flatMap((x, t) => (x === 1 ? [t] : []));
        const v = (k: number) => (k < idx.length ? values[b]![idx[k]!]! : 0);
        const delta = idx.map((t, k) => r[t]! + gamma * v(k + 1) - v(k));
        idx.forEach((t, k) => {
          let sum = 0;
          for (let l = 0; k + l < idx.length; l++) sum += (gamma * lambda) ** l * delta[k + l]!;
          expect(out.advantages[b]![t]!).toBeCloseTo(sum, 3);
        });
      });
    }), {numRuns: 30});
  });

  it('gradients with respect to rewards and values match central finite differences', () => {
    // Use a float64-free check: f = sum(w * A) is linear in r and v, so h = 1e-3 differences are exact up to
    // float32 rounding. Masked entries must get exactly zero gradient.
    const rewards = [[0.3, -0.2, 1.0, 0.7], [0.5, 0.1, -0.4, 0.2]];
    const values = [[0.1, 0.4, -0.3, 2.0], [0.2, 0.6, 0.9, -0.5]];
    const mask = tf.tensor2d([[1, 1, 1, 0], [1, 0, 1, 1]]);
    const w = tf.tensor2d([[1, -2, 0.5, 3], [0.7, 1.5, -1, 2]]);
    const f = (r: tf.Tensor, v: tf.Tensor) => tf.tidy(() => {
      const out = gae({rewards: r as tf.Tensor2D, values: v as tf.Tensor2D, mask: mask as tf.Tensor2D},
          {gamma: 0.9, lambda: 0.8});
      return tf.sum(tf.add(tf.mul(w, out.advantages), tf.mul(0.3, out.returns)));
    });
    const r = tf.tensor2d(rewards);
    const v = tf.tensor2d(values);
    const [gr, gv] = tf.grads(f)([r, v]).map((g) => g.arraySync() as number[][]);
    const h = 1e-3;
    const at = (x: number[][], which: 0 | 1) => tf.tidy(() => (which === 0 ? f(tf.tensor2d(x), v) : f(r, tf.tensor2d(x))).dataSync()[0]!);
    expectGradientClose(gr!, gridCentralDifferences((x) => at(x, 0), rewards, h), {digits: 2}, 'rewards');
    expectGradientClose(gv!, gridCentralDifferences((x) => at(x, 1), values, h), {digits: 2}, 'values');
    const maskData = mask.arraySync();
    maskData.forEach((row, b) => row.forEach((m, t) => {
      if (m === 0) expect(gr![b]![t]).toBe(0);
    }));
    // A non-trivial check: the first reward of row 0 reaches 1*A0 (coefficient 1) and 0.3*R0.
    expect(gr![0]![0]!).toBeCloseTo(1.3, 3);
    tf.dispose([mask, w, r, v]);
  });

  it('does not leak tensors', () => {
    const [r, v, m] = [tf.randomNormal([3, 50]), tf.randomNormal([3, 50]), tf.ones([3, 50])];
    const before = tf.memory().numTensors;
    const out = gae({rewards: r as tf.Tensor2D, values: v as tf.Tensor2D, mask: m as tf.Tensor2D}, {gamma: 0.99, lambda: 0.95});
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([out.advantages, out.returns]);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.isDisposed || v.isDisposed || m.isDisposed).toBe(false);
    tf.dispose([r, v, m]);
  });

  it('NaN and Inf on padded positions reach neither the advantages nor the gradient', () => {
    const r = tf.tensor2d([[0, 1, NaN, Infinity]]);
    const v = tf.tensor2d([[0.5, 0.25, -Infinity, NaN]]);
    const m = tf.tensor2d([[1, 1, 0, 0]]);
    const out = gae({rewards: r, values: v, mask: m}, {gamma: 0.9, lambda: 0.5});
    // t=1: A = 1 - 0.25 = 0.75;  t=0: delta = 0.9*0.25 - 0.5 = -0.275, A = -0.275 + 0.45*0.75 = 0.0625
    const a = out.advantages.arraySync()[0]!;
    expect(a[0]).toBeCloseTo(0.0625, 5);
    expect(a[1]).toBeCloseTo(0.75, 5);
    expect(a.slice(2)).toEqual([0, 0]);
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(gae({rewards: x as tf.Tensor2D, values: y as tf.Tensor2D, mask: m}).advantages))([r, v]);
    for (const gi of g) {
      const d = Array.from(gi.dataSync());
      expect(d.slice(0, 2).every(Number.isFinite)).toBe(true);
      expect(d.slice(2)).toEqual([0, 0]);
    }
    tf.dispose([r, v, m, out.advantages, out.returns, ...g]);
  });

  it('handles an all-zero mask and T = 0', () => {
    const out = run([[1, 2]], [[3, 4]], [[0, 0]], 0.9, 0.9);
    expect(out.advantages).toEqual([[0, 0]]);
    expect(out.returns).toEqual([[3, 4]]);
    const z = tf.zeros([2, 0]) as tf.Tensor2D;
    const empty = gae({rewards: z, values: z, mask: z});
    expect(empty.advantages.shape).toEqual([2, 0]);
    tf.dispose([z, empty.advantages, empty.returns]);
  });

  it('throws named errors on bad input', () => {
    const r = tf.zeros([2, 3]) as tf.Tensor2D;
    const bad = tf.zeros([2, 4]) as tf.Tensor2D;
    const r1 = tf.zeros([2]) as unknown as tf.Tensor2D;
    const half = tf.fill([2, 3], 0.5) as tf.Tensor2D;
    const nan = tf.tensor2d([[0, NaN, 0], [0, 0, 0]]);
    expect(() => gae({rewards: r1, values: r, mask: r})).toThrow("gae: 'rewards' expected shape [batch, time] (rank 2), got [2]");
    expect(() => gae({rewards: r, values: bad, mask: r})).toThrow("gae: 'values' expected the shape of 'rewards' and 'mask' [2,3], got [2,4]");
    expect(() => gae({rewards: r, values: r, mask: bad})).toThrow("gae: 'mask' expected the shape of 'rewards' and 'values' [2,3], got [2,4]");
    // The wrong one is named even when it is the first argument.
    expect(() => gae({rewards: bad, values: r, mask: r})).toThrow("gae: 'rewards' expected the shape of 'values' and 'mask' [2,3], got [2,4]");
    const other = tf.zeros([3, 3]) as tf.Tensor2D;
    expect(() => gae({rewards: bad, values: other, mask: r}))
        .toThrow("gae: 'rewards' [2,4], 'values' [3,3] and 'mask' [2,3] expected the same shape");
    other.dispose();
    expect(() => gae({rewards: r, values: r1, mask: r})).toThrow("gae: 'values' expected shape [batch, time] (rank 2), got [2]");
    expect(() => gae({rewards: r, values: r, mask: half})).toThrow("gae: 'mask' expected values in {0, 1}, got 0.5");
    const one = tf.ones([2, 3]) as tf.Tensor2D;
    expect(() => gae({rewards: nan, values: r, mask: one})).toThrow("gae: 'rewards' expected finite values, got NaN at flat index 1");
    expect(() => gae({rewards: r, values: nan, mask: one})).toThrow("gae: 'values' expected finite values");
    expect(() => gae({rewards: nan, values: nan, mask: r})).not.toThrow(); // NaN only on padding
    one.dispose();
    expect(() => gae({rewards: r, values: r, mask: r}, {gamma: 1.5})).toThrow("gae: 'gamma' expected <= 1, got 1.5");
    expect(() => gae({rewards: r, values: r, mask: r}, {lambda: -0.1})).toThrow("gae: 'lambda' expected >= 0, got -0.1");
    expect(() => gae({rewards: r, values: r, mask: r}, {lam: 0.9} as never)).toThrow("gae: unknown option 'lam'");
    expect(() => gae({rewards: undefined as never, values: r, mask: r})).toThrow("gae: 'rewards' expected a tf.Tensor, got undefined");
    const ints = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
    expect(() => gae({rewards: ints, values: r, mask: r})).toThrow("gae: 'rewards' expected dtype float32, got int32");
    // Value checks off: the mask check is skipped, shape checks stay.
    const prev = configureValidation({valueChecks: false});
    expect(() => gae({rewards: r, values: bad, mask: r})).toThrow("'values' expected the shape");
    configureValidation(prev);
    tf.dispose([r, bad, r1, half, nan, ints]);
  });
});

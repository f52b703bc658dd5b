import {expect} from 'vitest';

/**
 * How close an analytic gradient entry g must be to its finite difference fd: either
 * |g - fd| < rtol * max(|fd|, floor) + atol (<= when `inclusive`; floor and atol default to 0),
 * or `digits`: expect(g).toBeCloseTo(fd, digits).
 */
export type GradientTolerance = {rtol: number; atol?: number; floor?: number; inclusive?: boolean} | {digits: number};

/** Expects each entry of grad (flat, or a grid) to match the finite difference at the same place. */
export function expectGradientClose(grad: ArrayLike<number> | number[][], fd: number[] | number[][], tol: GradientTolerance,
    label = ''): void {
  const flat = (a: ArrayLike<number> | number[][]): number[] =>
    Array.isArray(a) ? (a as (number | number[])[]).flat() : Array.from(a as ArrayLike<number>);
  const [g, d] = [flat(grad), flat(fd)];
  expect(g.length, `${label} length`).toBe(d.length);
  g.forEach((gi, i) => {
    const message = `${label} [${i}] grad ${gi} fd ${d[i]}`;
    if ('digits' in tol) {
      expect(gi, message).toBeCloseTo(d[i]!, tol.digits);
      return;
    }
    const bound = tol.rtol * Math.max(Math.abs(d[i]!), tol.floor ?? 0) + (tol.atol ?? 0);
    if (tol.inclusive) expect(Math.abs(gi - d[i]!), message).toBeLessThanOrEqual(bound);
    else expect(Math.abs(gi - d[i]!), message).toBeLessThan(bound);
  });
}

/**
 * The unbiased pass@k estimator of code/answer sampling.
 * @module
 */
import {assertNumber, check} from './assert.js';

/**
 * Unbiased estimate of pass@k from n samples of which c are correct (Chen et al. 2021, Codex,
 * arXiv:2107.03374, eq. 1): the probability that at least one of k samples drawn without replacement
 * from the n is correct,
 *
 *   pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i),
 *
 * computed as the product (no binomial coefficients, so no overflow for large n); exactly 1 when
 * n - c < k. pass@1 = c / n.
 *
 * @param n samples drawn, integer >= 1.
 * @param c correct samples, integer in [0, n].
 * @param k samples the metric allows, integer in [1, n].
 * @returns the estimate in [0, 1].
 * @throws when n, c or k is not an integer in its range.
 * @example
 * passAtK(10, 3, 1); // 0.3
 * passAtK(10, 3, 5); // 1 - C(7,5)/C(10,5) = 1 - 21/252 = 0.9167
 * passAtK(1000, 0, 10); // 0
 */
export function passAtK(n: number, c: number, k: number): number {
  const fn = 'passAtK';
  assertNumber(n, fn, 'n', {integer: true, min: 1});
  assertNumber(c, fn, 'c', {integer: true, min: 0});
  assertNumber(k, fn, 'k', {integer: true, min: 1});
  check(c <= n, fn, () => `'c' (correct samples) expected <= n = ${n}, got ${c}`);
  check(k <= n, fn, () => `'k' expected <= n = ${n} (the samples drawn), got ${k}`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/**
 * Summary statistics of the expert load of an MoE layer.
 * @module
 */
import {check} from '../math/assert.js';

/** Output of {@link expertLoadStats}. */
export interface ExpertLoadStats {
  /** max_i load_i / mean_j load_j: 1 when perfectly balanced, N_r when one expert takes everything. */
  maxOverMean: number;
  /** Coefficient of variation std(load) / mean(load) (population std): 0 when balanced. */
  cv: number;
}

/**
 * Imbalance of the tokens routed to each expert (the MaxVio of Wang et al. 2024, arXiv:2408.15664,
 * is `maxOverMean − 1`).
 *
 * @param load tokens routed to each expert (counts or fractions, >= 0, not all 0).
 * @returns `{maxOverMean, cv}`.
 * @example
 * expertLoadStats([6, 2, 2, 2]); // {maxOverMean: 2, cv: 0.577}
 */
export function expertLoadStats(load: ArrayLike<number>): ExpertLoadStats {
  const n = load.length;
  check(n >= 1, 'expertLoadStats', () => `'load' expected at least one expert, got ${n}`);
  let sum = 0, max = -Infinity;
  for (let i = 0; i < n; i++) { sum += load[i]!; max = Math.max(max, load[i]!); }
  check(sum > 0 && Number.isFinite(sum), 'expertLoadStats', () => `'load' expected a positive finite total, got ${sum}`);
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (load[i]! - mean) ** 2;
  return {maxOverMean: max / mean, cv: Math.sqrt(sq / n) / mean};
}

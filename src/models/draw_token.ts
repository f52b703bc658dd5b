/**
 * One categorical draw from a row of log-probabilities, with top-k and top-p truncation.
 * @module
 */

/** Reusable buffers of {@link drawToken} (length = vocabulary). */
export interface DrawScratch {
  /** Token ids, reordered in place. */
  order: Int32Array;
  /** Unnormalised probabilities of `order`'s entries. */
  weights: Float64Array;
}

/**
 * @internal Draws a token id from softmax(`row`) restricted to its `topK` largest entries (all when
 * `0`), then to the smallest prefix of those, by decreasing probability, whose renormalised mass
 * reaches `topP` (Holtzman et al. 2019, arXiv:1904.09751; the order of Hugging Face's warpers:
 * top-k, then top-p). Ties keep the lower id first. `u` is one uniform number in [0, 1).
 */
export function drawToken(row: Float32Array, topK: number, topP: number, u: number, scratch: DrawScratch): number {
  const V = row.length;
  const {order, weights} = scratch;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (row[i]! > max) max = row[i]!;
  let count = V;
  for (let i = 0; i < V; i++) order[i] = i;
  const truncate = (topK > 0 && topK < V) || topP < 1;
  if (truncate) {
    // Sort by decreasing log-prob (only what is needed: a full sort is simple and exact).
    const sorted = Array.from(order).sort((a, b) => row[b]! - row[a]! || a - b);
    for (let i = 0; i < V; i++) order[i] = sorted[i]!;
    if (topK > 0 && topK < V) count = topK;
  }
  let total = 0;
  for (let i = 0; i < count; i++) { weights[i] = Math.exp(row[order[i]!]! - max); total += weights[i]!; }
  if (topP < 1) {
    let cumulative = 0;
    let kept = 0;
    while (kept < count) {
      cumulative += weights[kept]!;
      kept++;
      if (cumulative >= topP * total) break;
    }
    count = kept;
    total = cumulative;
  }
  let rest = u * total;
  for (let i = 0; i < count; i++) {
    rest -= weights[i]!;
    if (rest < 0) return order[i]!;
  }
  // Rounding left a sliver: the last candidate with non-zero weight.
  for (let i = count - 1; i > 0; i--) if (weights[i]! > 0) return order[i]!;
  return order[0]!;
}

/**
 * Groups whose rewards all tie: zero variance, zero advantage, zero gradient under GRPO.
 * @module
 */

/**
 * @internal For each contiguous group of `groupSize` rewards, whether all its rewards are equal
 * (a group of one always is).
 */
export function tiedGroups(rewards: ArrayLike<number>, groupSize: number): boolean[] {
  const out: boolean[] = [];
  for (let g = 0; g * groupSize < rewards.length; g++) {
    let tied = true;
    const first = rewards[g * groupSize]!;
    for (let i = 1; i < groupSize && tied; i++) tied = rewards[g * groupSize + i] === first;
    out.push(tied);
  }
  return out;
}

/** @internal Fraction of the groups of {@link tiedGroups} that tie; 0 with no groups. */
export function tiedFraction(tied: readonly boolean[]): number {
  return tied.length === 0 ? 0 : tied.filter((t) => t).length / tied.length;
}

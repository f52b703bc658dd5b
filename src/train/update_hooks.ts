/**
 * The per-update hooks of the training steps: `auxLoss` into the objective, `afterOptimizerStep`
 * after each update, with its metrics averaged over a step's updates.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {check} from '../math/assert.js';
import type {Policy} from '../models/policy.js';

/** @internal `loss + auxLoss` when the forward pass had an auxiliary loss. Call inside a tape/tidy. */
export function withAuxLoss(loss: tf.Scalar, auxLoss: tf.Scalar | undefined): tf.Scalar {
  return auxLoss === undefined ? loss : tf.add(loss, auxLoss) as tf.Scalar;
}

/** @internal Accumulates the JS-number metrics of `afterOptimizerStep` calls. */
export class HookMetrics {
  private readonly sums = new Map<string, number>();
  private readonly counts = new Map<string, number>();

  /** Calls every policy's `afterOptimizerStep` (once per policy object), prefixing their metric names. */
  after(policies: ReadonlyArray<readonly [string, Policy | undefined]>): void {
    const seen = new Set<Policy>();
    for (const [prefix, policy] of policies) {
      if (policy === undefined || seen.has(policy)) continue;
      seen.add(policy);
      const metrics = policy.afterOptimizerStep?.();
      if (metrics === undefined || metrics === null) continue;
      for (const [name, value] of Object.entries(metrics)) {
        if (typeof value !== 'number') continue;
        const key = prefix + name;
        this.sums.set(key, (this.sums.get(key) ?? 0) + value);
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      }
    }
  }

  /** Means over the calls, merged into `core`; a name clashing with a core metric is an error. */
  mergeInto<M extends object>(core: M, fn: string): M {
    const out = {...core} as Record<string, unknown>;
    for (const [key, sum] of this.sums) {
      check(!(key in core), fn, () =>
        `the policy's afterOptimizerStep returned metric '${key}', which is a name of the step's own metrics; rename it`);
      out[key] = sum / this.counts.get(key)!;
    }
    return out as M;
  }
}

/**
 * One switch for the small fused webgpu kernels (`clippedPolicyLoss`, `klPenalty`, `aggregateLoss`,
 * `groupAdvantages`, the masked statistics), for self-checks and benchmarks that compare them with
 * the composed ops on the same backend.
 * @module
 */
import {setAggregateLossWebGPU} from './aggregate_loss_webgpu.js';
import {setClippedPolicyLossWebGPU} from './clipped_policy_loss_webgpu.js';
import {setGroupAdvantagesWebGPU} from './group_advantages_webgpu.js';
import {setKlPenaltyWebGPU} from './kl_penalty_webgpu.js';
import {setMaskedStatsWebGPU} from './masked_stats_webgpu.js';

/** @internal Turns every small fused webgpu kernel on or off (default on). */
export function setSmallOpsWebGPU(on: boolean): void {
  setClippedPolicyLossWebGPU(on);
  setKlPenaltyWebGPU(on);
  setAggregateLossWebGPU(on);
  setGroupAdvantagesWebGPU(on);
  setMaskedStatsWebGPU(on);
}

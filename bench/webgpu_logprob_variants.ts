// The variants of the fused webgpu log-prob kernels that bench/webgpu_micro.ts times and
// bench/webgpu_check_logprobs.ts checks (see setLogProbsWebGPU in src/math/fused/log_probs_webgpu.ts).
import type {LogProbsWebGPUVariant} from '../src/math/fused/log_probs_webgpu.js';

/** A variant and its short name for tables. */
export interface NamedVariant {
  name: string;
  v: LogProbsWebGPUVariant;
}

const name = (v: LogProbsWebGPUVariant): string =>
  `${v.splitForward ? `split${v.splitSpan ?? 2048}` : 'onepass'} u${v.unroll ?? 1} b${v.bwdIter ?? 4}`;

const variants: LogProbsWebGPUVariant[] = [
  {}, // the default
  {unroll: 2}, {unroll: 4}, {unroll: 8},
  {bwdIter: 1}, {bwdIter: 16}, {unroll: 4, bwdIter: 16},
  {splitForward: true}, {splitForward: true, splitSpan: 4096, unroll: 2}, {splitForward: true, splitSpan: 8192, unroll: 4},
  {splitForward: true, splitSpan: 16384, unroll: 4},
];

/** Every variant, the default first. */
export const LOG_PROB_VARIANTS: NamedVariant[] = variants.map((v) => ({name: name(v), v}));

/** Extra variants for the self-check only: split spans small enough to split the small test rows. */
export const LOG_PROB_CHECK_ONLY: NamedVariant[] = [
  {splitForward: true, splitSpan: 64, unroll: 4}, {splitForward: true, splitSpan: 1000, unroll: 2, bwdIter: 160},
].map((v) => ({name: name(v), v}));

/**
 * Per-rank programs (ordered chunk operations) of the pipeline schedules that
 * {@link simulatePipeline} runs: 1F1B, ZB1P (ZB-H1) and DualPipe. No timing here: the simulator turns
 * a program into a timeline by waiting for each operation's dependencies.
 * @module
 */

/** Pipeline schedule names. */
export type PipelineSchedule = '1f1b' | 'zb1p' | 'dualpipe';

/** The schedules {@link simulatePipeline} knows. */
export const PIPELINE_SCHEDULES: readonly PipelineSchedule[] = ['1f1b', 'zb1p', 'dualpipe'];

/**
 * One step of a rank's program. `direction` 0 feeds micro-batches in at rank 0, 1 (DualPipe only) at
 * the last rank. The micro-batch is implicit: each rank takes its forwards and its backwards of one
 * direction in micro-batch order, and its weight chunks in FIFO order of the split backwards.
 */
export type ProgramOp =
  | {op: 'F'; direction: 0 | 1}
  /** Backward; `splitW` computes only the input gradient (B - W) and queues the weight part. */
  | {op: 'B'; direction: 0 | 1; splitW: boolean}
  /** The oldest queued weight-gradient chunk. */
  | {op: 'W'}
  /** A forward of `forwardDirection` overlapped with a full backward of `backwardDirection` (F&B). */
  | {op: 'FB'; forwardDirection: 0 | 1; backwardDirection: 0 | 1};

/** A rank's program and how its queued weight chunks are placed. */
export interface RankProgram {
  ops: ProgramOp[];
  /**
   * ZB-H1: queued weight chunks are not in `ops`; the rank runs one whenever its next operation would
   * leave it idle for at least W (or cannot start yet), and the rest after its last operation.
   */
  fillWithWeightChunks: boolean;
}

/** 1F1B (PipeDream-flush, Narayanan et al. 2021, arXiv:2104.04473): warm-up, one F one B, cool-down. */
export function oneFOneBPrograms(ranks: number, microBatches: number, splitW: boolean): RankProgram[] {
  return Array.from({length: ranks}, (_, r) => {
    const warmup = Math.min(ranks - r - 1, microBatches);
    const ops: ProgramOp[] = [];
    for (let i = 0; i < warmup; i++) ops.push({op: 'F', direction: 0});
    for (let i = 0; i < microBatches - warmup; i++) ops.push({op: 'F', direction: 0}, {op: 'B', direction: 0, splitW});
    for (let i = 0; i < warmup; i++) ops.push({op: 'B', direction: 0, splitW});
    return {ops, fillWithWeightChunks: splitW};
  });
}

/**
 * DualPipe (DeepSeek-V3, arXiv:2412.19437 §3.2.1, Figure 5), the program of each rank as in the
 * reference `DualPipe.step` (deepseek-ai/DualPipe): rank r holds stage r of direction 0 and stage
 * PP - 1 - r of direction 1; half the micro-batches enter at each end. Eight phases per rank, with
 * h = min(r, PP - 1 - r) and "phase 0" the direction entering on the rank's own half:
 * nF0, nF0F1, nB1W1F1, nF0B1F1B0 (overlapped pairs), nB1F1B0, nB1B0, nWB0, nW.
 */
export function dualPipePrograms(ranks: number, microBatches: number): RankProgram[] {
  const half = ranks / 2;
  const halfChunks = microBatches / 2;
  return Array.from({length: ranks}, (_, r) => {
    const second = r >= half ? 1 : 0;
    const dir = (phase: 0 | 1): 0 | 1 => (phase ^ second) as 0 | 1;
    const h = Math.min(r, ranks - 1 - r);
    const middle = r === half - 1 || r === half;
    const ops: ProgramOp[] = [];
    const F = (p: 0 | 1): void => { ops.push({op: 'F', direction: dir(p)}); };
    const B = (p: 0 | 1, splitW = false): void => { ops.push({op: 'B', direction: dir(p), splitW}); };
    const W = (): void => { ops.push({op: 'W'}); };
    const FB = (pf: 0 | 1, pb: 0 | 1): void => {
      ops.push({op: 'FB', forwardDirection: dir(pf), backwardDirection: dir(pb)});
    };
    for (let i = 0; i < (half - h - 1) * 2; i++) F(0);                  // 1: nF0
    for (let i = 0; i < h + 1; i++) { F(0); F(1); }                     // 2: nF0F1
    for (let i = 0; i < half - h - 1; i++) { B(1, true); W(); F(1); }  // 3: nB1W1F1
    for (let i = 0; i < halfChunks - ranks + h + 1; i++) {             // 4: nF0B1F1B0
      // The reference does not overlap the first pair on the two middle ranks.
      if (i === 0 && middle) { F(0); B(1); } else FB(0, 1);
      FB(1, 0);
    }
    for (let i = 0; i < half - h - 1; i++) { B(1); FB(1, 0); }         // 5: nB1F1B0
    const step6 = h + 1;                                               // 6: nB1B0, second half split
    let split = false;
    for (let i = 0; i < step6; i++) {
      if (i === Math.floor(step6 / 2) && h % 2 === 1) split = true;
      B(1, split);
      if (i === Math.floor(step6 / 2) && h % 2 === 0) split = true;
      B(0, split);
    }
    for (let i = 0; i < half - h - 1; i++) { W(); B(0, true); }        // 7: nWB0
    for (let i = 0; i < h + 1; i++) W();                               // 8: nW
    return {ops, fillWithWeightChunks: false};
  });
}

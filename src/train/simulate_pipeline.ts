/**
 * Discrete-event simulation of pipeline-parallel schedules (1F1B, ZB1P, DualPipe), DeepSeek-V3 §3.2.
 * @module
 */
import {assertKnownOptions, assertNumber, assertOneOf, check} from '../math/assert.js';
import {
  dualPipePrograms, oneFOneBPrograms, PIPELINE_SCHEDULES, type PipelineSchedule, type ProgramOp, type RankProgram,
} from './pipeline_programs.js';

/** Time of each chunk, in any unit. */
export interface PipelineCost {
  /** Forward chunk. */
  F: number;
  /** Full backward chunk (input and weight gradients). */
  B: number;
  /** Its weight-gradient part, 0 < W < B; default `B / 2` (the ZB paper's T_B = T_W). */
  W?: number;
  /** A forward and a backward chunk overlapped (V3's F&B); default `F + B` (no overlap gain). */
  FB?: number;
}

/** Options of {@link simulatePipeline}. */
export interface SimulatePipelineOptions {
  /** `'1f1b'`, `'zb1p'` (ZB-H1) or `'dualpipe'`. */
  schedule: PipelineSchedule;
  /** Pipeline ranks PP (even, >= 2 for DualPipe). */
  ranks: number;
  /** Micro-batches per step (DualPipe: even and >= 2 PP, half from each end). */
  microBatches: number;
  /** Chunk times. */
  cost: PipelineCost;
}

/** One chunk computed inside a {@link PipelineSlot}. */
export interface PipelineChunk {
  /** `'F'` forward, `'B'` backward (full, or input-gradient only when `splitW`), `'W'` weight gradient. */
  pass: 'F' | 'B' | 'W';
  /** Micro-batch index within its direction, 0-based. */
  microBatch: number;
  /** 0: entered at rank 0; 1: entered at the last rank (DualPipe's reverse direction). */
  direction: 0 | 1;
  /** Pipeline stage of the chunk (0 = first layers of its direction). */
  stage: number;
  /** For `'B'`: the weight gradient was split off into a later `'W'` chunk. */
  splitW: boolean;
}

/** A busy interval of one rank: one chunk, or two overlapped (`F&B`). */
export interface PipelineSlot {
  /** Pipeline rank that runs the slot, 0-based. */
  rank: number;
  /** Start time, in the unit of {@link PipelineCost}. */
  start: number;
  /** End time (start + the chunk's cost), in the unit of {@link PipelineCost}. */
  end: number;
  /** One chunk, or the forward and the backward of an overlapped pair. */
  chunks: PipelineChunk[];
}

/** Result of {@link simulatePipeline}. */
export interface PipelineSimulation {
  /** The simulated schedule, as given. */
  schedule: PipelineSchedule;
  /** Pipeline ranks PP, as given. */
  ranks: number;
  /** Micro-batches per step, as given (DualPipe: both directions together). */
  microBatches: number;
  /** The costs, defaults filled in. */
  cost: Required<PipelineCost>;
  /** Every busy slot, ordered by rank then start. */
  timeline: PipelineSlot[];
  /** End of the last slot (the step time). */
  makespan: number;
  /** Per rank: makespan minus busy time. */
  bubblePerRank: number[];
  /** The largest per-rank bubble (equal on every rank for 1F1B and ZB1P). */
  bubble: number;
  /** Per rank: most micro-batch activations held at once (forward started, backward not finished). */
  peakActivations: number[];
  /** Model stages whose parameters a rank holds (1 for 1F1B and ZB1P, 2 for DualPipe). */
  parameterCopies: number;
}

const FN = 'simulatePipeline';

function resolve(options: SimulatePipelineOptions): {schedule: PipelineSchedule; P: number; m: number; cost: Required<PipelineCost>} {
  check(typeof options === 'object' && options !== null, FN, () => `'options' expected an object, got ${String(options)}`);
  assertKnownOptions(options, ['schedule', 'ranks', 'microBatches', 'cost'], FN);
  const {schedule, ranks, microBatches, cost} = options;
  assertOneOf(schedule, PIPELINE_SCHEDULES, FN, 'schedule');
  assertNumber(ranks, FN, 'ranks', {integer: true, min: 1});
  assertNumber(microBatches, FN, 'microBatches', {integer: true, min: 1});
  check(typeof cost === 'object' && cost !== null, FN, () => `'cost' expected {F, B, W?, FB?}, got ${String(cost)}`);
  assertKnownOptions(cost, ['F', 'B', 'W', 'FB'], `${FN} cost`);
  assertNumber(cost.F, FN, 'cost.F', {min: 0, minExclusive: true});
  assertNumber(cost.B, FN, 'cost.B', {min: 0, minExclusive: true});
  const W = cost.W ?? cost.B / 2;
  assertNumber(W, FN, 'cost.W', {min: 0, minExclusive: true});
  check(W < cost.B, FN, () => `'cost.W' expected < cost.B=${cost.B} (W is part of the full backward), got ${W}`);
  const FB = cost.FB ?? cost.F + cost.B;
  assertNumber(FB, FN, 'cost.FB', {min: 0, minExclusive: true});
  if (schedule === 'dualpipe') {
    check(ranks >= 2 && ranks % 2 === 0, FN, () => `'ranks' expected an even number >= 2 for 'dualpipe', got ${ranks}`);
    check(microBatches % 2 === 0 && microBatches >= 2 * ranks, FN, () =>
      `'microBatches' expected an even number >= 2 * ranks = ${2 * ranks} for 'dualpipe', got ${microBatches}`);
  }
  return {schedule, P: ranks, m: microBatches, cost: {F: cost.F, B: cost.B, W, FB}};
}

/** Stage of `rank` in `direction`: direction 0 runs ranks 0..P-1, direction 1 runs P-1..0. */
const stageOf = (rank: number, direction: 0 | 1, P: number): number => (direction === 0 ? rank : P - 1 - rank);
/** Rank holding `stage` of `direction`. */
const rankOf = (stage: number, direction: 0 | 1, P: number): number => (direction === 0 ? stage : P - 1 - stage);
const key = (pass: 'F' | 'B', direction: number, microBatch: number, stage: number): string =>
  `${pass}${direction}:${microBatch}:${stage}`;

interface RankState {
  pc: number;
  freeAt: number;
  nextF: [number, number];
  nextB: [number, number];
  queue: PipelineChunk[];
}

interface Candidate {start: number; slot: Omit<PipelineSlot, 'start' | 'end'>; duration: number; advance: boolean; popW: boolean}

/**
 * Simulates one training step of a pipeline-parallel schedule and measures its bubble, activation
 * memory and parameter copies, to compare with DeepSeek-V3 Table 2 (arXiv:2412.19437 §3.2.1):
 *
 * | schedule | bubble | parameters | activations |
 * |---|---|---|---|
 * | 1F1B | (PP - 1)(F + B) | 1x | PP |
 * | ZB1P | (PP - 1)(F + B - 2W) | 1x | PP |
 * | DualPipe | (PP/2 - 1)(F&B + B - 3W) | 2x | PP + 1 |
 *
 * Each rank runs its program (the schedule's order of chunks: 1F1B's warm-up / steady / cool-down;
 * ZB-H1 = 1F1B with split backwards whose weight chunks fill idle time, Qi et al. 2023,
 * arXiv:2401.10241; DualPipe as the reference `DualPipe.step`) in order. A chunk starts when its rank
 * is free and its inputs exist: a forward needs the previous stage's forward of the same micro-batch,
 * a backward the next stage's backward (the last stage its own forward), a weight chunk its split
 * backward. Communication is free (V3 overlaps it). The simulation is event-driven: the globally
 * earliest startable chunk runs next. Bubble per rank = makespan - busy time.
 *
 * @param options.schedule `'1f1b' | 'zb1p' | 'dualpipe'`.
 * @param options.ranks PP >= 1 (DualPipe: even).
 * @param options.microBatches >= 1 (DualPipe: even, >= 2 PP).
 * @param options.cost `{F, B, W = B / 2, FB = F + B}`, all > 0, W < B.
 * @returns timeline, makespan, bubbles, peak activations per rank, parameter copies.
 * @throws on an unknown schedule, non-positive costs, or ranks/micro-batches the schedule cannot run.
 * @example
 * const sim = simulatePipeline({schedule: '1f1b', ranks: 4, microBatches: 8, cost: {F: 1, B: 2}});
 * sim.bubble; // 9 = (4 - 1)(1 + 2)
 */
export function simulatePipeline(options: SimulatePipelineOptions): PipelineSimulation {
  const {schedule, P, m, cost} = resolve(options);
  const programs: RankProgram[] = schedule === 'dualpipe' ? dualPipePrograms(P, m)
    : oneFOneBPrograms(P, m, schedule === 'zb1p');
  const perDirection = schedule === 'dualpipe' ? m / 2 : m;
  const done = new Map<string, number>();
  const states: RankState[] = programs.map(() => ({pc: 0, freeAt: 0, nextF: [0, 0], nextB: [0, 0], queue: []}));
  const timeline: PipelineSlot[] = [];

  const chunk = (pass: 'F' | 'B', rank: number, direction: 0 | 1, s: RankState, splitW = false): PipelineChunk => ({
    pass, direction, splitW, stage: stageOf(rank, direction, P),
    microBatch: pass === 'F' ? s.nextF[direction] : s.nextB[direction],
  });
  /** Completion time of what `c` needs, or undefined when not computed yet. */
  const ready = (c: PipelineChunk): number | undefined => {
    if (c.microBatch >= perDirection) throw new Error(`${FN}: internal: schedule ran out of micro-batches`);
    if (c.pass === 'F') return c.stage === 0 ? 0 : done.get(key('F', c.direction, c.microBatch, c.stage - 1));
    const own = done.get(key('F', c.direction, c.microBatch, c.stage));
    const next = c.stage === P - 1 ? 0 : done.get(key('B', c.direction, c.microBatch, c.stage + 1));
    return own === undefined || next === undefined ? undefined : Math.max(own, next);
  };
  const duration = (op: ProgramOp): number =>
    op.op === 'F' ? cost.F : op.op === 'B' ? (op.splitW ? cost.B - cost.W : cost.B) : op.op === 'W' ? cost.W : cost.FB;

  /** The oldest queued weight chunk, now; `fromProgram` when it is the program's next op. */
  const weightCandidate = (s: RankState, r: number, fromProgram = false): Candidate =>
    ({start: s.freeAt, slot: {rank: r, chunks: [s.queue[0]!]}, duration: cost.W, advance: fromProgram, popW: true});

  const candidate = (r: number): Candidate | undefined => {
    const s = states[r]!;
    const {ops, fillWithWeightChunks} = programs[r]!;
    if (s.pc >= ops.length) return s.queue.length > 0 ? weightCandidate(s, r) : undefined;
    const op = ops[s.pc]!;
    if (op.op === 'W') {
      check(s.queue.length > 0, FN, () => `internal: rank ${r} has no weight chunk queued`);
      return weightCandidate(s, r, true);
    }
    const chunks = op.op === 'F' ? [chunk('F', r, op.direction, s)]
      : op.op === 'B' ? [chunk('B', r, op.direction, s, op.splitW)]
      : [chunk('F', r, op.forwardDirection, s), chunk('B', r, op.backwardDirection, s)];
    const times = chunks.map(ready);
    const known = times.every((t) => t !== undefined);
    const start = known ? Math.max(s.freeAt, ...(times as number[])) : Infinity;
    if (fillWithWeightChunks && s.queue.length > 0 && start - s.freeAt >= cost.W) return weightCandidate(s, r);
    return {start, slot: {rank: r, chunks}, duration: duration(op), advance: true, popW: false};
  };

  for (;;) {
    let best: Candidate | undefined;
    let remaining = false;
    for (let r = 0; r < P; r++) {
      const c = candidate(r);
      if (c === undefined) continue;
      remaining = true;
      if (c.start < Infinity && (best === undefined || c.start < best.start)) best = c;
    }
    if (!remaining) break;
    check(best !== undefined, FN, () => `internal: deadlock in schedule '${schedule}' (ranks ${P}, microBatches ${m})`);
    const s = states[best.slot.rank]!;
    const end = best.start + best.duration;
    timeline.push({...best.slot, start: best.start, end});
    s.freeAt = end;
    if (best.popW) s.queue.shift();
    if (best.advance) s.pc++;
    if (!best.popW) {
      for (const c of best.slot.chunks) {
        done.set(key(c.pass as 'F' | 'B', c.direction, c.microBatch, c.stage), end);
        if (c.pass === 'F') s.nextF[c.direction]++;
        else {
          s.nextB[c.direction]++;
          if (c.splitW) s.queue.push({...c, pass: 'W', splitW: false});
        }
      }
    }
  }
  timeline.sort((a, b) => a.rank - b.rank || a.start - b.start);
  return summarize(schedule, P, m, cost, timeline);
}

function summarize(schedule: PipelineSchedule, P: number, m: number, cost: Required<PipelineCost>,
    timeline: PipelineSlot[]): PipelineSimulation {
  const makespan = Math.max(...timeline.map((t) => t.end));
  const busy = new Array<number>(P).fill(0);
  const stages = Array.from({length: P}, () => new Set<string>());
  const events = Array.from({length: P}, () => [] as Array<[number, number]>);
  for (const slot of timeline) {
    busy[slot.rank]! += slot.end - slot.start;
    for (const c of slot.chunks) {
      stages[slot.rank]!.add(`${c.direction}:${c.stage}`);
      if (c.pass === 'F') events[slot.rank]!.push([slot.start, +1]);
      if (c.pass === 'B') events[slot.rank]!.push([slot.end, -1]);
    }
  }
  const peakActivations = events.map((ev) => {
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);                   // frees before allocations at a tie
    let live = 0, peak = 0;
    for (const [, d] of ev) { live += d; peak = Math.max(peak, live); }
    return peak;
  });
  const bubblePerRank = busy.map((b) => makespan - b);
  return {
    schedule, ranks: P, microBatches: m, cost, timeline, makespan, bubblePerRank,
    bubble: Math.max(...bubblePerRank), peakActivations,
    parameterCopies: Math.max(...stages.map((s) => s.size)),
  };
}

import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {simulatePipeline, type PipelineSimulation} from '../../src/train/simulate_pipeline.js';
import type {PipelineSchedule} from '../../src/train/pipeline_programs.js';

/** V3 Table 2, as printed. */
function table2(schedule: PipelineSchedule, P: number, c: {F: number; B: number; W: number; FB: number}) {
  if (schedule === '1f1b') return {bubble: (P - 1) * (c.F + c.B), params: 1, activations: P};
  if (schedule === 'zb1p') return {bubble: (P - 1) * (c.F + c.B - 2 * c.W), params: 1, activations: P};
  return {bubble: (P / 2 - 1) * (c.FB + c.B - 3 * c.W), params: 2, activations: P + 1};
}

/** Checks the timeline is a valid execution: no overlap per rank, every dependency met, all work done once. */
function checkValid(sim: PipelineSimulation): void {
  const {ranks: P, microBatches: m, schedule} = sim;
  const perDir = schedule === 'dualpipe' ? m / 2 : m;
  const dirs = schedule === 'dualpipe' ? [0, 1] : [0];
  const end = new Map<string, number>();
  const start = new Map<string, number>();
  let last = new Map<number, number>();
  for (const s of sim.timeline) {
    expect(s.start).toBeGreaterThanOrEqual(last.get(s.rank) ?? 0);
    last.set(s.rank, s.end);
    for (const c of s.chunks) {
      const k = `${c.pass}${c.direction}:${c.microBatch}:${c.stage}`;
      expect(end.has(k), `${k} twice`).toBe(false);
      end.set(k, s.end);
      start.set(k, s.start);
    }
  }
  last = new Map();
  const W = sim.timeline.some((s) => s.chunks.some((c) => c.pass === 'W'));
  for (const d of dirs) for (let i = 0; i < perDir; i++) for (let st = 0; st < P; st++) {
    const f = `F${d}:${i}:${st}`, b = `B${d}:${i}:${st}`;
    expect(end.has(f) && end.has(b), `${f} / ${b} missing`).toBe(true);
    if (st > 0) expect(start.get(f)!).toBeGreaterThanOrEqual(end.get(`F${d}:${i}:${st - 1}`)!);
    expect(start.get(b)!).toBeGreaterThanOrEqual(end.get(f)!);
    if (st < P - 1) expect(start.get(b)!).toBeGreaterThanOrEqual(end.get(`B${d}:${i}:${st + 1}`)!);
    const w = `W${d}:${i}:${st}`;
    if (end.has(w)) expect(start.get(w)!).toBeGreaterThanOrEqual(end.get(b)!);
  }
  if (!W) expect(schedule).toBe('1f1b');
}

describe('simulatePipeline', () => {
  it('hand-computed 1F1B, PP = 2, two micro-batches', () => {
    // rank 0: F0 [0,1] F1 [1,2] B0 [4,6] B1 [7,9]; rank 1: F0 [1,2] B0 [2,4] F1 [4,5] B1 [5,7]
    const sim = simulatePipeline({schedule: '1f1b', ranks: 2, microBatches: 2, cost: {F: 1, B: 2}});
    const spans = sim.timeline.map((s) => [s.rank, s.chunks[0]!.pass + s.chunks[0]!.microBatch, s.start, s.end]);
    expect(spans).toEqual([[0, 'F0', 0, 1], [0, 'F1', 1, 2], [0, 'B0', 4, 6], [0, 'B1', 7, 9],
      [1, 'F0', 1, 2], [1, 'B0', 2, 4], [1, 'F1', 4, 5], [1, 'B1', 5, 7]]);
    expect(sim.makespan).toBe(9);
    expect(sim.bubblePerRank).toEqual([3, 3]);
    expect(sim.peakActivations).toEqual([2, 1]);
  });

  it('equals V3 Table 2 under the paper conditions (F = W = B - W; DualPipe micro-batches even, >= 2 PP)', () => {
    for (const P of [2, 4, 8]) for (const m of [2 * P, 2 * P + 6]) {
      for (const cost of [{F: 1, B: 2, W: 1, FB: 3}, {F: 1, B: 2, W: 1, FB: 2.5}, {F: 2, B: 4, W: 2, FB: 4.5}]) {
        for (const schedule of ['1f1b', 'zb1p', 'dualpipe'] as const) {
          if (schedule === 'dualpipe' && (m % 2 !== 0 || m < 2 * P)) continue;
          const sim = simulatePipeline({schedule, ranks: P, microBatches: m, cost});
          const want = table2(schedule, P, cost);
          const label = `${schedule} PP=${P} m=${m} ${JSON.stringify(cost)}`;
          expect(sim.bubble, label).toBeCloseTo(want.bubble, 9);
          expect(sim.parameterCopies, label).toBe(want.params);
          expect(Math.max(...sim.peakActivations), label).toBe(want.activations);
          checkValid(sim);
        }
      }
    }
  });

  it('DualPipe beats ZB1P which beats 1F1B when F&B < F + B (PP = 8, 20 micro-batches, Figure 5)', () => {
    const cost = {F: 1, B: 2, W: 1, FB: 2.4};
    const b = (schedule: PipelineSchedule) => simulatePipeline({schedule, ranks: 8, microBatches: 20, cost}).makespan;
    expect(b('dualpipe')).toBeLessThan(b('zb1p'));
    expect(b('zb1p')).toBeLessThan(b('1f1b'));
  });

  it('produces valid executions for arbitrary costs (property)', () => {
    fc.assert(fc.property(
        fc.constantFrom<PipelineSchedule>('1f1b', 'zb1p', 'dualpipe'), fc.integer({min: 1, max: 4}), fc.integer({min: 0, max: 6}),
        fc.double({min: 0.1, max: 5, noNaN: true}), fc.double({min: 0.2, max: 5, noNaN: true}),
        fc.double({min: 0.05, max: 0.95, noNaN: true}), fc.double({min: 0.3, max: 1.2, noNaN: true}),
        (schedule, halfP, extra, F, B, wFrac, fbFrac) => {
          const P = 2 * halfP;
          const m = schedule === 'dualpipe' ? 2 * P + 2 * extra : 1 + extra;
          const sim = simulatePipeline({schedule, ranks: P, microBatches: m, cost: {F, B, W: wFrac * B, FB: fbFrac * (F + B)}});
          checkValid(sim);
          // every rank does all its work: busy = makespan - bubble
          const busy = sim.bubblePerRank.map((x) => sim.makespan - x);
          const perRank = m * (F + B);
          if (schedule !== 'dualpipe') busy.forEach((v) => expect(v).toBeCloseTo(perRank, 6));
        }), {numRuns: 60});
  });

  it('rejects bad input with named errors', () => {
    const cost = {F: 1, B: 2, W: 1};
    const run = (o: object) => () => simulatePipeline(o as never);
    expect(run({schedule: 'gpipe', ranks: 4, microBatches: 8, cost})).toThrow(/simulatePipeline: 'schedule' expected one of '1f1b', 'zb1p', 'dualpipe', got "gpipe"/);
    expect(run({schedule: 'dualpipe', ranks: 3, microBatches: 8, cost})).toThrow(/'ranks' expected an even number >= 2 for 'dualpipe', got 3/);
    expect(run({schedule: 'dualpipe', ranks: 4, microBatches: 6, cost})).toThrow(/'microBatches' expected an even number >= 2 \* ranks = 8 for 'dualpipe', got 6/);
    expect(run({schedule: 'dualpipe', ranks: 4, microBatches: 9, cost})).toThrow(/'microBatches' expected an even number/);
    expect(run({schedule: '1f1b', ranks: 0, microBatches: 8, cost})).toThrow(/'ranks' expected >= 1, got 0/);
    expect(run({schedule: '1f1b', ranks: 2.5, microBatches: 8, cost})).toThrow(/'ranks' expected an integer/);
    expect(run({schedule: '1f1b', ranks: 2, microBatches: 0, cost})).toThrow(/'microBatches' expected >= 1/);
    expect(run({schedule: '1f1b', ranks: 2, microBatches: 2, cost: {F: 0, B: 2}})).toThrow(/'cost.F' expected > 0, got 0/);
    expect(run({schedule: '1f1b', ranks: 2, microBatches: 2, cost: {F: 1, B: -2}})).toThrow(/'cost.B' expected > 0/);
    expect(run({schedule: 'zb1p', ranks: 2, microBatches: 2, cost: {F: 1, B: 2, W: 2}})).toThrow(/'cost.W' expected < cost.B=2/);
    expect(run({schedule: 'zb1p', ranks: 2, microBatches: 2, cost: {F: 1, B: 2, W: 0}})).toThrow(/'cost.W' expected > 0/);
    expect(run({schedule: 'dualpipe', ranks: 2, microBatches: 4, cost: {F: 1, B: 2, FB: -1}})).toThrow(/'cost.FB' expected > 0/);
    expect(run({schedule: '1f1b', ranks: 2, microBatches: 2, cost: {F: 1, B: 2, w: 1}})).toThrow(/unknown option 'w'/);
    expect(run({schedule: '1f1b', ranks: 2, microBatches: 2, cost: {F: 1, B: 2}, stages: 3})).toThrow(/unknown option 'stages'/);
    expect(run({schedule: '1f1b', ranks: 2, microBatches: 2})).toThrow(/'cost' expected \{F, B, W\?, FB\?\}/);
  });
});

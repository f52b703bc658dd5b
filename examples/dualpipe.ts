// npx tsx examples/dualpipe.ts [--ranks 8] [--micro-batches 20] [--F 1 --B 2 --W 1 --FB 2.5] [--out docs/dualpipe.svg]
//
// Simulates 1F1B, ZB1P and DualPipe with simulatePipeline and draws the three timelines like DeepSeek-V3
// Figure 5 (ranks as rows; forward, backward, weight chunks by colour; the reverse direction in lighter
// shades; overlapped forward-and-backward pairs as one bordered cell split in two). Prints the bubble,
// activation and parameter numbers beside V3 Table 2's formulas.
import {writeFileSync} from 'node:fs';
import type * as vl from 'vega-lite';
import {vegaLiteSvg} from './vega_svg.js';
import {simulatePipeline, type PipelineSimulation} from '../src/train/simulate_pipeline.js';
import type {PipelineSchedule} from '../src/train/pipeline_programs.js';

const argv = process.argv.slice(2);
const arg = (flag: string, fallback: number): number => {
  const i = argv.indexOf(flag);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const out = argv.includes('--out') ? argv[argv.indexOf('--out') + 1]! : 'docs/dualpipe.svg';
const ranks = arg('--ranks', 8);
const microBatches = arg('--micro-batches', 20);
const cost = {F: arg('--F', 1), B: arg('--B', 2), W: arg('--W', 1), FB: arg('--FB', 2.5)};

const TABLE2: Record<PipelineSchedule, {bubble: string; value: number; params: number; activations: number}> = {
  '1f1b': {bubble: '(PP-1)(F+B)', value: (ranks - 1) * (cost.F + cost.B), params: 1, activations: ranks},
  'zb1p': {bubble: '(PP-1)(F+B-2W)', value: (ranks - 1) * (cost.F + cost.B - 2 * cost.W), params: 1, activations: ranks},
  'dualpipe': {bubble: '(PP/2-1)(F&B+B-3W)', value: (ranks / 2 - 1) * (cost.FB + cost.B - 3 * cost.W), params: 2, activations: ranks + 1},
};

interface Cell {rank: number; start: number; end: number; top: number; bottom: number; kind: string; label: string; pair: boolean}

function cells(sim: PipelineSimulation): Cell[] {
  const rows: Cell[] = [];
  for (const slot of sim.timeline) {
    const pair = slot.chunks.length === 2;
    slot.chunks.forEach((c, i) => {
      const dir = c.direction === 0 ? '' : ' (reverse)';
      const kind = c.pass === 'F' ? `forward${dir}` : c.pass === 'W' ? `weight${dir}` : c.splitW ? `backward input${dir}` : `backward${dir}`;
      const top = slot.rank + (pair ? i * 0.45 : 0) + 0.05;
      rows.push({rank: slot.rank, start: slot.start, end: slot.end, top, bottom: top + (pair ? 0.45 : 0.9), kind,
        label: c.direction === 0 ? String(c.microBatch) : '', pair});
    });
  }
  return rows;
}

const COLORS: Record<string, string> = {
  'forward': '#f4b942', 'forward (reverse)': '#f9dc9c', 'backward': '#5b9bd5', 'backward (reverse)': '#b4d0ec',
  'backward input': '#70ad47', 'backward input (reverse)': '#c0dcaa', 'weight': '#a682c8', 'weight (reverse)': '#d9c8e9',
};

function chart(sim: PipelineSimulation, title: string): vl.TopLevelSpec['vconcat' & keyof vl.TopLevelSpec] {
  return {
    title, width: 900, height: 22 * sim.ranks,
    data: {values: cells(sim) as unknown as Record<string, unknown>[]},
    layer: [
      {mark: {type: 'rect', stroke: '#333', strokeWidth: 0.4},
        encoding: {
          x: {field: 'start', type: 'quantitative', title: 'time', scale: {domain: [0, maxMakespan]}},
          x2: {field: 'end'},
          y: {field: 'top', type: 'quantitative', title: 'rank', scale: {domain: [sim.ranks, 0], nice: false}, axis: {tickMinStep: 1}},
          y2: {field: 'bottom'},
          color: {field: 'kind', type: 'nominal', title: 'chunk', scale: {domain: Object.keys(COLORS), range: Object.values(COLORS)}},
        }},
      {mark: {type: 'text', fontSize: 8, baseline: 'middle'},
        transform: [{calculate: '(datum.start + datum.end) / 2', as: 'mid'}, {calculate: '(datum.top + datum.bottom) / 2', as: 'midY'}],
        encoding: {x: {field: 'mid', type: 'quantitative'}, y: {field: 'midY', type: 'quantitative'}, text: {field: 'label'}}},
    ],
  } as never;
}

const sims = (['1f1b', 'zb1p', 'dualpipe'] as const).map((schedule) => simulatePipeline({schedule, ranks, microBatches, cost}));
const maxMakespan = Math.max(...sims.map((s) => s.makespan));
const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: `PP = ${ranks}, ${microBatches} micro-batches, F = ${cost.F}, B = ${cost.B}, W = ${cost.W}, F&B = ${cost.FB}`,
  vconcat: sims.map((s) => chart(s, `${s.schedule}: makespan ${s.makespan}, bubble ${s.bubble} (Table 2: ${TABLE2[s.schedule].value})`)),
  config: {background: 'white'},
} as vl.TopLevelSpec;
writeFileSync(out, await vegaLiteSvg(spec));

console.log('| schedule | bubble (simulated) | Table 2 | formula | parameters | peak activations (rank 0) | makespan |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const s of sims) {
  const t = TABLE2[s.schedule];
  console.log(`| ${s.schedule} | ${s.bubble} | ${t.value} | ${t.bubble} | ${s.parameterCopies}x (table ${t.params}x) | ${s.peakActivations[0]} (table ${t.activations}) | ${s.makespan} |`);
}
console.log(`wrote ${out}`);

// npm run bench [-- --quick] [--backends cpu,wasm,webgpu,tensorflow] [--machine NAME] [--out DIR] [--save]
//   [--no-torch] [--no-value-checks] [--filter REGEX] [--repeats N] [--budget-ms MS] [--warmup N]
// npm run bench -- --rl [...]: the GRPO-vs-PPO training benchmark instead (bench/rl.ts).
//
// Times every public tensor function of tfjs-grpo on each available backend (cpu, wasm, webgpu through
// the `webgpu` npm package, tensorflow through @tensorflow/tfjs-node when installed), and the same
// math in PyTorch (bench/torch_reference.py; CPU, or CUDA where available) in the same invocation.
// Writes <machine>-<date>.json (a list of {name, backend, shape, medianMs, peakBytes, reference:
// {name, medianMs} | null, ratio, ...}), its .meta.json and latest.json into bench/results/tmp/ (not
// tracked), or, with --save, into bench/results/ (the committed results); --out DIR overrides both.
//
// Method: inputs are created once per case; warm-up steps (`--warmup`, default 10, at most a quarter of the budget; PyTorch gets
// the same: compile shaders, fill caches, let V8 optimise), then
// repeated steps until `--repeats` (default 7, quick 5) or `--budget-ms` (default 4000) is reached,
// at least 3; the median is reported. A step ends when its results are ready: scalar losses are read
// back (as a training loop logging its loss does), other outputs are synchronous on cpu/wasm and
// waited for with the queue's onSubmittedWorkDone on webgpu. Default options, as a user runs them:
// value checks (0/1 masks, finiteness) on; --no-value-checks turns them off.
// peakBytes: the peak of tf.memory().numBytes during one step, minus the bytes held before it
// (measured in a separate, untimed step under tf.profile).
// Gradients: the @tensorflow/tfjs union package registers every gradient into the (CommonJS) tfjs-core
// instance that node resolves; tfjs-core's own register_all_gradients is ESM-only (directory imports).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {configureValidation, fusedGrpoLossAvailable} from '../src/index.js';
import {type BenchCase, benchPlan, SKIPPED_CASES} from './cases.js';

interface Args {
  quick: boolean; backends: string[]; machine: string; out: string; torch: boolean; filter: RegExp | null;
  repeats: number; budgetMs: number; valueChecks: boolean;
  /** Warm-up steps per case (at most a quarter of the budget); PyTorch gets the same. */
  warmup: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    backends: (get('--backends') ?? 'cpu,wasm,webgpu,tensorflow').split(','),
    machine: get('--machine') ?? `cpu${os.cpus().length}-${os.arch()}`,
    out: get('--out') ?? (argv.includes('--save') ? 'bench/results' : 'bench/results/tmp'),
    torch: !argv.includes('--no-torch'),
    valueChecks: !argv.includes('--no-value-checks'),
    filter: get('--filter') !== undefined ? new RegExp(get('--filter')!) : null,
    repeats: Number(get('--repeats') ?? (quick ? 5 : 7)),
    budgetMs: Number(get('--budget-ms') ?? 4000),
    warmup: Number(get('--warmup') ?? WARMUP_STEPS),
  };
}

/** Row of the results file. */
interface Result {
  name: string;
  backend: string;
  shape: string;
  medianMs: number | null;
  peakBytes: number | null;
  reference: {name: string; medianMs: number; cpuMs?: number} | null;
  ratio: number | null;
  minMs?: number;
  /** Median process CPU time per step (all threads of this process; webgpu: the CPU side only). */
  cpuMs?: number;
  /** medianMs / reference medianMs by CPU time (cpuMs / reference cpuMs): robust to a loaded machine. */
  cpuRatio?: number | null;
  runs?: number;
  tokensPerSec?: number;
  effectiveGBps?: number;
  loadAvg1m: number;
  error?: string;
}

const shapeString = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(',');

/** Makes a backend active; returns a reason when it is not available. */
async function activate(name: string): Promise<string | null> {
  try {
    if (name === 'cpu') {
      await import('@tensorflow/tfjs-backend-cpu');
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    } else if (name === 'webgpu') {
      if (!('gpu' in ((globalThis as {navigator?: object}).navigator ?? {}))) {
        const webgpu = await import('webgpu') as unknown as {create: (o: string[]) => unknown; globals: object};
        Object.assign(globalThis, webgpu.globals);
        // BENCH_DAWN_OPTIONS, e.g. 'backend=null', passes options to Dawn (a dry run on a machine without a GPU).
        const dawn = process.env['BENCH_DAWN_OPTIONS']?.split(',') ?? [];
        Object.defineProperty(globalThis, 'navigator', {value: {gpu: webgpu.create(dawn)}, configurable: true});
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    } else if (name === 'tensorflow') {
      await import('@tensorflow/tfjs-node' as string);
    } else {
      return `unknown backend '${name}'`;
    }
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') failed`;
    await tf.ready();
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}

/** Waits until the backend has finished the work queued so far. */
async function drain(): Promise<void> {
  // tfjs-backend-webgpu batches dispatches in an open command encoder: close and submit it, then wait.
  const b = tf.backend() as unknown as {
    submitQueue?: () => void; endComputePassEncoder?: () => void; commandEncoder?: unknown;
    device?: {queue: {onSubmittedWorkDone: () => Promise<void>}};
  };
  if (typeof b.submitQueue === 'function' && b.device !== undefined) {
    if (b.commandEncoder != null) {
      b.endComputePassEncoder?.();
      b.submitQueue();
    }
    await b.device.queue.onSubmittedWorkDone();
  }
}

async function runStep(step: () => tf.Tensor[], readScalar: boolean): Promise<void> {
  const outs = step();
  // Reading the loss back waits for everything queued before it (the gradient included), as
  // PyTorch's `.item()` does; a second wait on the queue would only add a round trip.
  if (readScalar) await outs[0]!.data();
  else await drain();
  tf.dispose(outs);
}

async function measure(c: BenchCase, backend: string, args: Args): Promise<Result> {
  const base = {name: c.name, backend, shape: shapeString(c.shape), reference: null, ratio: null,
    loadAvg1m: Number(os.loadavg()[0]!.toFixed(2))};
  let state: ReturnType<BenchCase['setup']> | undefined;
  try {
    state = c.setup();
    const {step, readScalar} = state;
    // Warm-up: compiles shaders and lets V8 optimise the kernels' JS (about 10 steps at small shapes),
    // within the case's time budget; torch_reference.py warms up likewise.
    const warmStart = performance.now();
    for (let w = 0; w < args.warmup && (w === 0 || performance.now() - warmStart < args.budgetMs / 4); w++) {
      await runStep(step, readScalar);
    }
    let peakBytes: number | null = null;
    try {
      const before = tf.memory().numBytes;
      const profile = await tf.profile(async () => {
        const outs = step();
        if (readScalar) await outs[0]!.data();
        await drain();
        tf.dispose(outs);
      });
      peakBytes = Math.max(0, profile.peakBytes - before);
    } catch {
      // tf.profile is diagnostic only: a backend whose profiler fails still gets its timings.
    }
    const times: number[] = [];
    const cpuTimes: number[] = [];
    const start = performance.now();
    while (times.length < args.repeats && (times.length < 3 || performance.now() - start < args.budgetMs)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await runStep(step, readScalar);
      times.push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      cpuTimes.push((dc.user + dc.system) / 1000);
    }
    const per = c.stepsPerRun ?? 1;
    for (let k = 0; k < times.length; k++) {
      times[k] = times[k]! / per;
      cpuTimes[k] = cpuTimes[k]! / per;
    }
    times.sort((a, b) => a - b);
    cpuTimes.sort((a, b) => a - b);
    const cpuMs = round(cpuTimes[Math.floor(cpuTimes.length / 2)]!);
    const medianMs = times[Math.floor(times.length / 2)]!;
    return {...base, medianMs: round(medianMs), peakBytes, minMs: round(times[0]!), cpuMs, runs: times.length,
      tokensPerSec: Math.round(c.tokens / (medianMs / 1000)),
      effectiveGBps: round(c.bytes / (medianMs / 1000) / 1e9)};
  } catch (e) {
    return {...base, medianMs: null, peakBytes: null, error: (e as Error).message.split('\n')[0]!};
  } finally {
    state?.dispose();
  }
}

const round = (x: number) => Number(x.toPrecision(4));

/** Warm-up steps per case (fewer when a step is slow: at most a quarter of the time budget). */
const WARMUP_STEPS = 10;

/** Runs bench/torch_reference.py on the reference keys/shapes; returns medians by `key|shape`. */
function torchReference(cases: Array<{ref: string; shape: Record<string, number>}>, quick: boolean, warmup: number):
    {device: string; medians: Map<string, {name: string; medianMs: number; cpuMs?: number}>} | string {
  const script = path.join('bench', 'torch_reference.py');
  if (!existsSync(script)) return `${script} not found`;
  // The first interpreter that imports torch: $PYTHON, python3 on the PATH, Debian's /usr/bin/python3.
  const python = [process.env['PYTHON'], 'python3', '/usr/bin/python3'].find((p) => p !== undefined &&
      spawnSync(p, ['-c', 'import torch'], {encoding: 'utf8'}).status === 0);
  if (python === undefined) return 'PyTorch not installed (python3 -c "import torch" failed)';
  const res = spawnSync(python, [script, ...(quick ? ['--quick'] : []), '--warmup', String(warmup)], {
    input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['pipe', 'pipe', 'inherit'],
  });
  if (res.status !== 0) return `torch_reference.py exited with ${res.status}`;
  const out = JSON.parse(res.stdout) as {
    device: string; results: Array<{key: string; shape: string; name: string; medianMs: number; cpuMs: number}>;
  };
  const medians = new Map<string, {name: string; medianMs: number; cpuMs?: number}>();
  for (const r of out.results) medians.set(`${r.key}|${r.shape}`, {name: r.name, medianMs: r.medianMs, cpuMs: r.cpuMs});
  return {device: out.device, medians};
}

/** Prints the results; the PyTorch columns only when some row has a reference (not with --no-torch). */
function printTable(rows: Result[]): void {
  const torch = rows.some((r) => r.reference !== null);
  const head = ['case', 'backend', 'shape', 'median ms', 'cpu ms', 'Mtok/s', 'GB/s', 'peak MB',
    ...(torch ? ['torch ms', 'ratio', 'cpu ratio'] : [])];
  const body = rows.map((r) => [r.name, r.backend, r.shape,
    r.medianMs === null ? `ERROR: ${r.error}` : String(r.medianMs), r.cpuMs !== undefined ? String(r.cpuMs) : '',
    r.tokensPerSec !== undefined ? (r.tokensPerSec / 1e6).toFixed(2) : '',
    r.effectiveGBps !== undefined ? String(r.effectiveGBps) : '',
    r.peakBytes !== null ? (r.peakBytes / 2 ** 20).toFixed(1) : '',
    ...(torch ? [r.reference ? String(r.reference.medianMs) : '', r.ratio !== null ? r.ratio.toFixed(3) : '',
      r.cpuRatio != null ? r.cpuRatio.toFixed(3) : ''] : [])]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const b of body) console.log(line(b));
}

/**
 * Other benchmark modes, each in its own file, chosen by a flag (e.g. `--rl`: a module exporting
 * `main(argv)`); the default mode times the tensor functions below.
 */
const MODES: Record<string, string> = {};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const mode = Object.keys(MODES).find((flag) => argv.includes(flag));
  if (mode !== undefined) {
    const module = await import(MODES[mode]!) as {main: (argv: string[]) => Promise<void>};
    return module.main(argv);
  }
  const args = parseArgs(argv);
  configureValidation({valueChecks: args.valueChecks});
  const results: Result[] = [];
  const torchCases = new Map<string, {ref: string; shape: Record<string, number>}>();
  const skipped: string[] = [];
  for (const backend of args.backends) {
    const why = await activate(backend);
    if (why !== null) {
      const line = `${backend}: skipped (${why})`;
      skipped.push(line);
      console.log(line);
      continue;
    }
    console.log(`${backend}: running (fused grpoLoss ${fusedGrpoLossAvailable() ? 'available' : 'not available: composed only'})`);
    for (const c of benchPlan(args.quick, backend)) {
      if (args.filter !== null && !args.filter.test(c.name)) continue;
      const r = await measure(c, backend, args);
      results.push(r);
      if (c.ref !== null) torchCases.set(`${c.ref}|${shapeString(c.shape)}`, {ref: c.ref, shape: c.shape});
      console.log(`  ${c.name} [${r.shape}]: ${r.medianMs === null ? `ERROR ${r.error}` : `${r.medianMs} ms`}`);
      (results.at(-1) as Result & {ref?: string}).ref = c.ref ?? undefined;
    }
  }
  for (const c of SKIPPED_CASES) {
    if (args.filter === null || args.filter.test(c)) skipped.push(`skipped (too slow for this mode): ${c}`);
  }
  let torchDevice = 'none';
  if (args.torch && torchCases.size > 0) {
    const ref = torchReference([...torchCases.values()], args.quick, args.warmup);
    if (typeof ref === 'string') {
      skipped.push(`pytorch: skipped (${ref})`);
      console.log(`pytorch: skipped (${ref})`);
    } else {
      torchDevice = ref.device;
      for (const r of results as Array<Result & {ref?: string}>) {
        const m = r.ref !== undefined ? ref.medians.get(`${r.ref}|${r.shape}`) : undefined;
        if (m !== undefined && r.medianMs !== null) {
          r.reference = m;
          r.ratio = round(r.medianMs / m.medianMs);
          r.cpuRatio = r.cpuMs !== undefined && m.cpuMs ? round(r.cpuMs / m.cpuMs) : null;
        }
      }
    }
  }
  for (const r of results as Array<Result & {ref?: string}>) delete r.ref;
  printTable(results);
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(args.out, {recursive: true});
  const file = path.join(args.out, `${args.machine}-${date}${args.quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(results, null, 1) + '\n');
  writeFileSync(path.join(args.out, 'latest.json'), JSON.stringify(results, null, 1) + '\n');
  const meta = {
    machine: args.machine, date: new Date().toISOString(), node: process.version, cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model, loadAvg: os.loadavg(), torchDevice, quick: args.quick, skipped,
    method: `median of repeated steps after up to ${args.warmup} warm-up steps; default options, value checks ` +
      `${args.valueChecks ? 'on' : 'off'}; see bench/run.ts`,
  };
  writeFileSync(file.replace(/\.json$/, '.meta.json'), JSON.stringify(meta, null, 1) + '\n');
  for (const s of skipped) console.log(s);
  console.log(`wrote ${file} and ${path.join(args.out, 'latest.json')}` +
      (args.out === 'bench/results/tmp' ? ' (not tracked; --save writes bench/results/)' : ''));
  console.log('bench/rewards.ts (reward scoring) runs separately: npx tsx bench/rewards.ts');
}

// `--pipeline`: only the pipeline-schedule simulation and its Figure-5 SVG (examples/dualpipe.ts).
// `--rl`: the GRPO-vs-PPO training benchmark (bench/rl.ts).
const run = process.argv.includes('--pipeline') ? (): Promise<unknown> => import('../examples/dualpipe.js')
  : process.argv.includes('--rl') ? (): Promise<unknown> => import('./rl.js').then((m) => m.runRlBench(process.argv.slice(2)))
  : main;
run().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Where the time of a training step goes (bench/qwen2_step.ts --profile): each phase timed with a
// read-back, the step's enqueue time (its JavaScript, before the read-back waits on the GPU), and
// tf.profile of one step aggregated by kernel name (count, GPU ms where the backend times kernels).
import * as tf from '@tensorflow/tfjs-core';

type Phase = () => tf.Tensor | tf.Tensor[];

async function readOne(ts: tf.Tensor[]): Promise<void> {
  // One element of each output: the read-back waits for everything enqueued before it.
  const heads = ts.map((t) => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await Promise.all(heads.map((h) => h.data()));
  tf.dispose(heads);
}

async function median(f: () => Promise<void>, reps = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)]!;
}

/** Prints the phases' times, the step's enqueue time and its kernels by name (count, ms). */
export async function profileStep(step: () => Promise<void>, phases: Record<string, Phase>): Promise<void> {
  for (const [name, phase] of Object.entries(phases)) {
    let enqueue = 0;
    const ms = await median(async () => {
      const t0 = performance.now();
      const out = tf.tidy(() => { const r = phase(); return Array.isArray(r) ? r : [r]; });
      enqueue = performance.now() - t0;
      await readOne(out);
      tf.dispose(out);
    });
    const counted = await tf.profile(() => { const r = phase(); tf.dispose(r); });
    const names = new Map<string, number>();
    for (const k of counted.kernels) names.set(k.name, (names.get(k.name) ?? 0) + 1);
    const top = [...names.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, c]) => `${n} ${c}`).join(', ');
    console.log(`phase ${name}: ${ms.toFixed(1)} ms (enqueue ${enqueue.toFixed(1)} ms), ${counted.kernels.length} kernels: ${top}`);
  }
  console.log(`phase step: ${(await median(step)).toFixed(1)} ms`);
  const timed = (tf.backend() as unknown as {supportTimestampQuery?: boolean}).supportTimestampQuery;
  console.log(`backend ${tf.getBackend()}${timed === undefined ? '' : `, timestamp-query ${timed}`}`);
  const t0 = performance.now();
  const info = await tf.profile(step);
  const profiledMs = performance.now() - t0;
  const byName = new Map<string, {count: number, ms: number, untimed: number}>();
  let totalMs = 0;
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? {count: 0, ms: 0, untimed: 0};
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : NaN;
    e.count += 1;
    if (Number.isFinite(ms) && ms > 0) { e.ms += ms; totalMs += ms; } else e.untimed += 1;
    byName.set(k.name, e);
  }
  console.log(`profile: ${info.kernels.length} kernels, GPU-timed total ${totalMs.toFixed(1)} ms, ` +
      `profiled step wall ${profiledMs.toFixed(0)} ms, peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms || b[1].count - a[1].count);
  for (const [name, e] of rows.slice(0, 40)) {
    console.log(`kernel ${name.padEnd(28)} n=${String(e.count).padStart(5)} ms=${e.ms.toFixed(2).padStart(9)}` +
        (e.untimed > 0 ? ` untimed=${e.untimed}` : ''));
  }
  const slow = [...info.kernels].filter((k) => typeof k.kernelTimeMs === 'number')
      .sort((a, b) => (b.kernelTimeMs as number) - (a.kernelTimeMs as number)).slice(0, 20);
  for (const k of slow) {
    console.log(`slow ${k.name} ${(k.kernelTimeMs as number).toFixed(2)} ms in ${JSON.stringify(k.inputShapes)} ` +
        `out ${JSON.stringify(k.outputShapes)}`);
  }
}

// Runs one of the GPU self-check modules by itself (webgpu, lavapipe locally): activates webgpu,
// catches WebGPU validation errors, prints PASS/FAIL with the count, the worst error and the tensors
// left, and exits 1 on a failure. Used by the modules' `if (this file is the entry point)` blocks.
import * as tf from '@tensorflow/tfjs-core';

/** What a check module tallies. */
export interface CheckTally {failures: number; worst: number; count: number}

/** Whether `file` (e.g. 'webgpu_check_distill') is the script node/tsx was started with (.ts or bundled .mjs). */
export function isEntryPoint(file: string): boolean {
  return new RegExp(`${file}\\.(ts|mjs)$`).test(process.argv[1] ?? '');
}

/** Runs `checks(quick)` on webgpu as described above; `label` prefixes the summary line. */
export async function runCheckAlone(label: string, checks: (quick: boolean) => Promise<CheckTally>): Promise<never> {
  await import('@tensorflow/tfjs');
  const {activateWebGPU} = await import('./activate_webgpu.js');
  await activateWebGPU();
  await tf.ready();
  const device = (tf.backend() as unknown as {device?: {pushErrorScope(f: string): void; popErrorScope(): Promise<{message: string} | null>}}).device;
  device?.pushErrorScope('validation');
  const t = await checks(process.argv.includes('--quick'));
  const gpuError = await device?.popErrorScope();
  if (gpuError) {
    t.failures++;
    console.log(`FAIL: WebGPU validation error: ${gpuError.message}`);
  }
  console.log(`${t.failures === 0 ? 'PASS' : 'FAIL'}: ${label}${t.count} comparisons, worst ${t.worst.toExponential(2)}, ` +
      `tensors left ${tf.memory().numTensors}`);
  process.exit(t.failures === 0 ? 0 : 1);
}

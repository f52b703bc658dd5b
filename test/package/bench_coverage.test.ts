import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import * as api from '../../src/index.js';
import {benchPlan} from '../../bench/cases.js';

/** Root exports of src/math that are functions but no case of `npm run bench`, and why. */
const NOT_IN_BENCH: Record<string, string> = {
  configureValidation: 'configuration, no tensors',
  passAtK: 'numbers in, a number out',
  fusedGrpoLossAvailable: 'a query of the active backend',
  registerWebGPUMatmul: 'backend setup (the matmul itself: bench/webgpu_matmul.ts)',
  unregisterWebGPUMatmul: 'backend setup',
  tuneWebGPUBackend: 'backend setup',
  encodeFp8: 'bench/fp8.ts',
  decodeFp8: 'bench/fp8.ts',
  fakeQuantFp8: 'bench/fp8.ts',
  fp8Matmul: 'bench/fp8.ts',
};

describe('npm run bench covers every exported tensor function', () => {
  const index = readFileSync('src/index.ts', 'utf8');
  const mathExports = [...index.matchAll(/^export \{([^}]+)\} from '\.\/math\/[^']+';/gm)]
    .flatMap((m) => m[1]!.split(',').map((s) => s.trim()))
    .filter((n) => n !== '' && !n.startsWith('type '));
  const functions = mathExports.filter((n) => typeof (api as Record<string, unknown>)[n] === 'function');
  const cases = new Set([...benchPlan(false, 'cpu'), ...benchPlan(false, 'webgpu')].map((c) => c.name.split(' ')[0]!));

  it('finds the math exports (the parse works)', () => {
    expect(functions).toContain('grpoLoss');
    expect(functions).toContain('sftLoss');
    expect(functions.length).toBeGreaterThan(25);
  });

  it('has a bench case for each, or a stated reason', () => {
    const missing = functions.filter((n) => !cases.has(n) && NOT_IN_BENCH[n] === undefined);
    expect(missing).toEqual([]);
  });

  it('lists no stale exemptions, and the FP8 functions are in bench/fp8.ts', () => {
    for (const n of Object.keys(NOT_IN_BENCH)) expect(functions, n).toContain(n);
    const fp8 = readFileSync('bench/fp8.ts', 'utf8');
    for (const [n, why] of Object.entries(NOT_IN_BENCH)) if (why === 'bench/fp8.ts') expect(fp8, n).toContain(`${n}(`);
  });
});

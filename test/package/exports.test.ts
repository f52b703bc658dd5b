// Builds the package with tsup into a scratch folder laid out like an installed dependency
// (node_modules/tfjs-grpo with package.json + dist), then imports it by name from ESM and CommonJS
// consumers in separate Node processes: the `exports` map, both formats and the peer dependency
// resolution are all exercised exactly as a user's project would.
import {execFileSync} from 'node:child_process';
import {copyFileSync, mkdirSync, rmSync, writeFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {build} from 'tsup';
import {beforeAll, describe, expect, it} from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scratch = join(repo, 'node_modules', '.cache', 'tfjs-grpo-pkgtest');
const pkgDir = join(scratch, 'node_modules', 'tfjs-grpo');

const consumerBody = `
  await tf.setBackend('cpu');
  const logProbs = tf.tensor2d([[-1, -2], [-0.5, -1]]);
  const mask = tf.tensor2d([[1, 1], [1, 0]]);
  const advantages = lib.groupAdvantages(tf.tensor1d([1, 0]), {groupSize: 2});
  const loss = lib.grpoLoss({logProbs, advantages, mask}, {beta: 0});
  console.log(JSON.stringify({
    exports: Object.keys(lib).length,
    loss: (await loss.data())[0],
    adv: Array.from(await advantages.data()),
  }));`;

beforeAll(async () => {
  rmSync(scratch, {recursive: true, force: true});
  mkdirSync(pkgDir, {recursive: true});
  copyFileSync(join(repo, 'package.json'), join(pkgDir, 'package.json'));
  await build({
    config: false, entry: {index: join(repo, 'src/index.ts')}, format: ['esm', 'cjs'], dts: false,
    outDir: join(pkgDir, 'dist'), target: 'es2022', external: [/^@tensorflow\//], silent: true,
  });
  writeFileSync(join(scratch, 'esm.mjs'),
      `import * as tf from '@tensorflow/tfjs-core';\nimport '@tensorflow/tfjs-backend-cpu';\n` +
      `import * as lib from 'tfjs-grpo';\n${consumerBody}\n`);
  writeFileSync(join(scratch, 'cjs.cjs'),
      `const tf = require('@tensorflow/tfjs-core');\nrequire('@tensorflow/tfjs-backend-cpu');\n` +
      `const lib = require('tfjs-grpo');\n(async () => {${consumerBody}\n})();\n`);
}, 120_000);

function runConsumer(file: string): {exports: number; loss: number; adv: number[]} {
  const out = execFileSync(process.execPath, [join(scratch, file)], {cwd: scratch, encoding: 'utf8'});
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('built package', () => {
  it('is importable by name from ESM and computes grpoLoss', () => {
    const r = runConsumer('esm.mjs');
    expect(r.adv[0]).toBeCloseTo(0.7071, 3);
    expect(r.adv[1]).toBeCloseTo(-0.7071, 3);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.exports).toBeGreaterThan(10);
  });
  it('is requirable by name from CommonJS with the same exports and results', () => {
    const esm = runConsumer('esm.mjs');
    const cjs = runConsumer('cjs.cjs');
    expect(cjs).toEqual(esm);
  });
});

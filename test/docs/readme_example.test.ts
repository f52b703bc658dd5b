// The README's "grpoLoss in your own training loop" block, run as it stands (only the package name is
// pointed at src/): it must train, i.e. the logged loss must decrease.
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {describe, expect, it, vi} from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function readmeBlock(heading: string): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error(`README: no ts block under '${heading}'`);
  return m[1]!;
}

describe('README example', () => {
  it('trains on random data: the loss decreases', async () => {
    const scratch = join(repo, 'node_modules', '.cache', 'tfjs-grpo-readme');
    mkdirSync(scratch, {recursive: true});
    const index = relative(scratch, join(repo, 'src', 'index.js')).replace(/\\/g, '/');
    const code = readmeBlock('## grpoLoss in your own training loop').replace(`from 'tfjs-grpo'`, `from '${index}'`);
    expect(code).toContain(`from '${index}'`);
    const file = join(scratch, 'readme_example.ts');
    writeFileSync(file, code);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => { lines.push(args.join(' ')); });
    try {
      await import(/* @vite-ignore */ pathToFileURL(file).href);
    } finally {
      spy.mockRestore();
    }
    const losses = lines.map((l) => /loss (-?[\d.]+)/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
    expect(losses.length).toBe(20);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! - 0.05);
  }, 60_000);
});

describe('README rewards example', () => {
  it('scores the right answer 1.1 (accuracy + 0.1 language) and the wrong one 0.1', async () => {
    const scratch = join(repo, 'node_modules', '.cache', 'tfjs-grpo-readme');
    mkdirSync(scratch, {recursive: true});
    const index = relative(scratch, join(repo, 'src', 'index.js')).replace(/\\/g, '/');
    const code = readmeBlock('## Rule-based rewards').replace(`from 'tfjs-grpo'`, `from '${index}'`);
    const file = join(scratch, 'readme_rewards.ts');
    writeFileSync(file, code);
    const logged: unknown[][] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => { logged.push(args); });
    try {
      await import(/* @vite-ignore */ pathToFileURL(file).href);
    } finally {
      spy.mockRestore();
    }
    const [rewards, accuracyMean, advantages] = logged.find((a) => Array.isArray(a[0]))! as [number[], number, number[]];
    expect(rewards[0]).toBeCloseTo(1.1, 5);
    expect(rewards[1]).toBeCloseTo(0.1, 5);
    expect(accuracyMean).toBeCloseTo(0.5, 6);
    expect(advantages[0]).toBeGreaterThan(0.7);
    expect(advantages[1]).toBeLessThan(-0.7);
  }, 60_000);
});

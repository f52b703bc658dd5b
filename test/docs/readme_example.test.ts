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

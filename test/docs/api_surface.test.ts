// The public surface: what the root entry exports (and does not), that it stays browser-safe, that
// the README names every exported value, and the 400-line limit of source files (STYLE.md).
import {readdirSync, readFileSync, statSync} from 'node:fs';
import {dirname, join, relative} from 'node:path';
import {describe, expect, it} from 'vitest';
import {entryExports, repo} from './root_exports.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : [p];
  });
}

// Files allowed above the limit while their split is under way elsewhere. An entry must still be
// over the limit (a stale exemption fails), so remove it when the file is split.
const LINE_LIMIT_EXEMPT = new Set<string>([]);

describe('source files', () => {
  it('no file under src/ is longer than 400 lines', () => {
    const lines = (f: string) => readFileSync(f, 'utf8').split('\n').length - 1;
    const files = sourceFiles(join(repo, 'src')).filter((f) => /\.(ts|wat|wgsl)$/.test(f));
    expect(files.length).toBeGreaterThan(20);
    const tooLong = files.map((f) => [relative(repo, f).replace(/\\/g, '/'), lines(f)] as const)
        .filter(([f, n]) => n > 400 && !LINE_LIMIT_EXEMPT.has(f));
    expect(tooLong).toEqual([]);
    for (const f of LINE_LIMIT_EXEMPT) expect(lines(join(repo, f)), `${f} is split: remove its exemption`).toBeGreaterThan(400);
  });
});

describe('root entry (tfjs-grpo)', () => {
  const exports = entryExports('src/index.ts');
  const names = exports.map((e) => e.name);

  it('exports the library, not demo tasks, KV-cache internals or Node-only I/O', () => {
    for (const internal of [
      'disposeKvCache', 'KvCache', 'CachedStepInputs', 'CachedStepOutput', 'ApplyOptions', 'mulberry32',
      'additionProblems', 'sortingProblems', 'additionTokenizer', 'saveCheckpointFiles', 'loadCheckpointFiles',
    ]) expect(names).not.toContain(internal);
    expect(names).toContain('TransformerPolicy');
    expect(names).toContain('Policy');
    expect(names).toContain('Tokenizer');
  });

  it('never imports Node built-ins, directly or through its imports (browser bundles)', () => {
    // Walk the relative imports from src/index.ts (including `import type`, harmless but cheap to forbid).
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
        else if (/^(node:|fs$|fs\/|path$|os$|child_process$|url$|worker_threads$)/.test(spec)) {
          offenders.push(`${relative(repo, file)}: ${spec}`);
        }
      }
    };
    visit(join(repo, 'src/index.ts'));
    expect(seen.size).toBeGreaterThan(40);
    expect(offenders).toEqual([]);
    expect([...seen].some((f) => f.endsWith('checkpoint_files.ts'))).toBe(false);
  });

  it('every exported value (function, class, constant) is named in the README', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const values = exports.filter((e) => e.kind !== 'type').map((e) => e.name);
    expect(values.filter((n) => !readme.includes('`' + n + '`'))).toEqual([]);
  });

  it('the README states the export counts', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const values = exports.filter((e) => e.kind !== 'type').length;
    const m = /The root entry exports (\d+) names: (\d+) values .* and (\d+) types/.exec(readme);
    expect(m, 'README: "The root entry exports N names: V values ... and T types"').not.toBeNull();
    expect([Number(m![1]), Number(m![2]), Number(m![3])],
        `README should say: The root entry exports ${names.length} names: ${values} values (...) and ${names.length - values} types`)
        .toEqual([names.length, values, names.length - values]);
  });
});

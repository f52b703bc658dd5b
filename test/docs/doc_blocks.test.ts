// Every ```ts block of README.md and docs/*.md must type-check as printed, under the project's strict
// compiler options, as the ES module a user would paste it into (top-level await allowed): each block
// becomes its own file, `tfjs-grpo` and `tfjs-grpo/node` resolve to src/, and nothing is added or
// wrapped. A block meant as a fragment opts out with the line `<!-- fragment: not type-checked -->`
// directly above its fence (keep that rare; README.md's "Docs conventions" says so).
import {mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {join, relative} from 'node:path';
import ts from 'typescript';
import {describe, expect, it} from 'vitest';
import {compilerOptions, repo} from './root_exports.js';

export const FRAGMENT_MARKER = '<!-- fragment: not type-checked -->';

export interface DocBlock { file: string; line: number; code: string; fragment: boolean }

/** The ```ts blocks of a markdown file, with the line of their opening fence. */
export function tsBlocks(file: string): DocBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    out.push({file, line: start + 1, code: body.join('\n') + '\n', fragment: lines[start - 1]?.trim() === FRAGMENT_MARKER});
  }
  return out;
}

export function markdownFiles(): string[] {
  const docs = join(repo, 'docs');
  return [join(repo, 'README.md'), ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f))];
}

describe('README and docs code blocks', () => {
  it('every ```ts block type-checks as printed (strict tsc, ES module)', () => {
    const blocks = markdownFiles().flatMap(tsBlocks);
    expect(blocks.filter((b) => !b.fragment).length).toBeGreaterThanOrEqual(5);
    // Fragments stay rare.
    expect(blocks.filter((b) => b.fragment).length).toBeLessThanOrEqual(2);
    const scratch = join(repo, 'node_modules', '.cache', 'tfjs-grpo-doc-blocks');
    rmSync(scratch, {recursive: true, force: true});
    mkdirSync(scratch, {recursive: true});
    const origin = new Map<string, DocBlock>();
    blocks.filter((b) => !b.fragment).forEach((b, k) => {
      const f = join(scratch, `block_${k}.ts`);
      writeFileSync(f, b.code);
      origin.set(f, b);
    });
    const program = ts.createProgram([...origin.keys()], {
      ...compilerOptions(),
      moduleDetection: ts.ModuleDetectionKind.Force, // a pasted block is an ES module (top-level await)
      baseUrl: repo,
      paths: {'tfjs-grpo': ['src/index.ts'], 'tfjs-grpo/node': ['src/node.ts']},
    });
    const errors = ts.getPreEmitDiagnostics(program)
        .filter((d) => d.file && origin.has(d.file.fileName))
        .map((d) => {
          const b = origin.get(d.file!.fileName)!;
          const {line} = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
          return `${relative(repo, b.file)}:${b.line + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
        });
    expect(errors).toEqual([]);
  }, 120_000);

  it('finds blocks and honours the fragment marker', () => {
    const scratch = join(repo, 'node_modules', '.cache', 'tfjs-grpo-doc-blocks-unit');
    mkdirSync(scratch, {recursive: true});
    const md = join(scratch, 'x.md');
    writeFileSync(md, ['# t', '```ts', 'const a = 1;', '```', FRAGMENT_MARKER, '```ts', 'b;', '```', '```sh', 'ls', '```'].join('\n'));
    const found = tsBlocks(md);
    expect(found.map((b) => [b.line, b.code, b.fragment])).toEqual([[2, 'const a = 1;\n', false], [6, 'b;\n', true]]);
  });
});

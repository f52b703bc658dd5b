// Every `@example` in the TSDoc of src/ must compile: each block is wrapped in an async function in
// a generated file that imports `tf` and every export of the package root by name, and the whole set
// is type-checked with the TypeScript compiler API under the project's compiler options.
import {mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import ts from 'typescript';
import {describe, expect, it} from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scratch = join(repo, 'node_modules', '.cache', 'tfjs-grpo-examples');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Example { file: string; line: number; code: string }

/** Extracts the body of each `@example` tag: up to the next tag or the end of the comment. */
function extractExamples(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const out: Example[] = [];
  for (const m of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const lines = m[0].split('\n').map((l) => l.replace(/^\s*\/?\*+\/?\s?/, '').replace(/\*\/\s*$/, ''));
    const startLine = text.slice(0, m.index).split('\n').length;
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.trimStart().startsWith('@example')) continue;
      const body: string[] = [];
      for (let j = i + 1; j < lines.length && !/^\s*@\w+/.test(lines[j]!); j++) body.push(lines[j]!);
      const code = body.filter((l) => !l.trim().startsWith('```')).join('\n').trim();
      out.push({file, line: startLine + i, code});
    }
  }
  return out;
}

describe('TSDoc @example blocks', () => {
  it('every export is documented with an example that type-checks', () => {
    const examples = sourceFiles(join(repo, 'src')).flatMap(extractExamples);
    expect(examples.length).toBeGreaterThan(0);
    for (const ex of examples) expect(ex.code, `${relative(repo, ex.file)}:${ex.line}`).not.toBe('');

    const configPath = join(repo, 'tsconfig.json');
    const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, repo);
    const options = {...parsed.options, noEmit: true, noUnusedLocals: false};

    // Names exported by the package root and the Node entry point (values and types alike).
    const indexFile = join(repo, 'src', 'index.ts');
    const nodeFile = join(repo, 'src', 'node.ts');
    const entryProgram = ts.createProgram([indexFile, nodeFile], options);
    const checker = entryProgram.getTypeChecker();
    const exportsOf = (file: string): string[] =>
      checker.getExportsOfModule(checker.getSymbolAtLocation(entryProgram.getSourceFile(file)!)!).map((s) => s.getName());
    const names = exportsOf(indexFile);
    const nodeNames = exportsOf(nodeFile).filter((n) => !names.includes(n));

    rmSync(scratch, {recursive: true, force: true});
    mkdirSync(scratch, {recursive: true});
    const importIndex = relative(scratch, indexFile).replace(/\\/g, '/').replace(/\.ts$/, '.js');
    const importNode = relative(scratch, nodeFile).replace(/\\/g, '/').replace(/\.ts$/, '.js');
    const files: string[] = [];
    const origin = new Map<string, Example>();
    examples.forEach((ex, k) => {
      const f = join(scratch, `example_${k}.ts`);
      writeFileSync(f, [
        `// ${relative(repo, ex.file)}:${ex.line}`,
        `import * as tf from '@tensorflow/tfjs-core';`,
        names.length ? `import {${names.join(', ')}} from '${importIndex}';` : '',
        nodeNames.length ? `import {${nodeNames.join(', ')}} from '${importNode}';` : '',
        `export async function example(): Promise<void> {`,
        ex.code,
        `}`,
      ].join('\n'));
      files.push(f);
      origin.set(f, ex);
    });
    const program = ts.createProgram(files, {...options, noUnusedLocals: false, noUnusedParameters: false});
    const errors = ts.getPreEmitDiagnostics(program)
        .filter((d) => d.file && origin.has(d.file.fileName))
        .filter((d) => d.code !== 6133 && d.code !== 6192) // unused imports/locals are fine in snippets
        .map((d) => {
          const ex = origin.get(d.file!.fileName)!;
          const {line} = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
          return `${relative(repo, ex.file)}:${ex.line} (snippet line ${line - 4}): ` +
              ts.flattenDiagnosticMessageText(d.messageText, '\n');
        });
    expect(errors).toEqual([]);
  }, 120_000);
});

// The names exported by the package entry points, read with the TypeScript compiler API, with what
// each one is (a function, a class, a constant, or a type) and the file that declares it.
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import ts from 'typescript';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ExportInfo {
  name: string;
  kind: 'function' | 'class' | 'const' | 'type';
  /** The declaration (after following re-exports). */
  declaration: ts.Declaration;
}

export function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.parseJsonConfigFileContent(
      ts.readConfigFile(join(repo, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, repo);
  return {...parsed.options, noEmit: true};
}

let entriesProgram: ts.Program | undefined;

/** One program over both entry points, shared by the test files of a worker (parsing tfjs's typings is slow). */
function entryPointsProgram(): ts.Program {
  entriesProgram ??= ts.createProgram([join(repo, 'src/index.ts'), join(repo, 'src/node.ts')], compilerOptions());
  return entriesProgram;
}

/** Exports of `entry` (a path relative to the repository, e.g. `src/index.ts`). */
export function entryExports(entry: string, program?: ts.Program): ExportInfo[] {
  const file = join(repo, entry);
  const p = program ?? entryPointsProgram();
  const checker = p.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(p.getSourceFile(file)!)!;
  return checker.getExportsOfModule(moduleSymbol).map((s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    const declaration = target.declarations![0]!;
    const kind = target.flags & ts.SymbolFlags.Class ? 'class'
      : target.flags & ts.SymbolFlags.Function ? 'function'
      : target.flags & ts.SymbolFlags.Variable ? 'const' : 'type';
    return {name: s.getName(), kind, declaration};
  });
}

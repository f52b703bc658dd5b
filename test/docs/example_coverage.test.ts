// "Every export has an example", enforced: each function and class exported by the package entry
// points carries a TSDoc `@example` (examples.test.ts type-checks them all).
import ts from 'typescript';
import {describe, expect, it} from 'vitest';
import {entryExports} from './root_exports.js';

function hasExample(declaration: ts.Declaration): boolean {
  return ts.getJSDocTags(declaration).some((t) => t.tagName.text === 'example');
}

describe('TSDoc examples', () => {
  for (const entry of ['src/index.ts', 'src/node.ts']) {
    it(`every function and class exported by ${entry} has an @example`, () => {
      const callable = entryExports(entry).filter((e) => e.kind === 'function' || e.kind === 'class');
      expect(callable.length).toBeGreaterThan(entry === 'src/index.ts' ? 40 : 1);
      expect(callable.filter((e) => !hasExample(e.declaration)).map((e) => e.name)).toEqual([]);
    });
  }
});

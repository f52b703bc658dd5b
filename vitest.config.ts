import {defineConfig} from 'vitest/config';

// Two projects: the whole suite on the `cpu` backend, and the numeric suite (test/math) again on
// `wasm`. test/setup.ts reads TFJS_BACKEND and selects the backend before each file runs.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files share a worker's module cache (tfjs and the wasm binary load once per worker, not
    // once per file: ~1.3 s each). Files only depend on tensor counts they measure themselves.
    isolate: false,
    projects: [
      {
        extends: true,
        test: {name: 'cpu', include: ['test/**/*.test.ts'], setupFiles: ['test/setup.ts'], env: {TFJS_BACKEND: 'cpu'}},
      },
      {
        extends: true,
        test: {name: 'wasm', include: ['test/math/**/*.test.ts'], setupFiles: ['test/setup.ts'], env: {TFJS_BACKEND: 'wasm'}},
      },
    ],
  },
});

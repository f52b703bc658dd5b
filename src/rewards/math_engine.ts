/**
 * @internal Lazy access to the Compute Engine (`@cortex-js/compute-engine`), the maintained LaTeX
 * parser and symbolic comparator behind `accuracyReward`. The package (~500 kB) is imported on the
 * first comparison that needs it, never at library load, and only when an answer is not a plain
 * number. Version 0.27 is the last one that runs on Node 20 (later ones declare Node >= 21.7).
 * @module
 */

/** @internal The few Compute Engine members we use (kept structural so our types do not leak it). */
export interface MathExpression {
  /** False when the LaTeX had a syntax error (the expression contains `Error` nodes). */
  readonly isValid: boolean;
  /** Mathematical equality: `true`, `false`, or `undefined` when it cannot tell. */
  isEqual(other: MathExpression): boolean | undefined;
}

/** @internal A LaTeX parser producing {@link MathExpression}s. */
export interface MathEngine {
  /** Parses LaTeX; `null` when the engine threw. Results are cached. */
  parse(latex: string): MathExpression | null;
}

interface RawEngine {
  parse(latex: string): MathExpression;
}

/** Parses per engine instance before it is recreated (its symbol table grows with odd inputs). */
const PARSES_PER_ENGINE = 5000;
const PARSE_CACHE_SIZE = 2048;

let loading: Promise<MathEngine> | null = null;

/** @internal The shared engine, imported and created on first use. */
export function loadMathEngine(): Promise<MathEngine> {
  loading ??= import('@cortex-js/compute-engine').then((mod) => {
    const Ctor = (mod as unknown as {ComputeEngine: new () => RawEngine}).ComputeEngine;
    let raw = new Ctor();
    let parses = 0;
    const cache = new Map<string, MathExpression | null>();
    return {
      parse(latex: string): MathExpression | null {
        const hit = cache.get(latex);
        if (hit !== undefined || cache.has(latex)) return hit ?? null;
        if (++parses > PARSES_PER_ENGINE) {
          raw = new Ctor();
          parses = 0;
          cache.clear();
        }
        let expr: MathExpression | null;
        try {
          expr = raw.parse(latex);
        } catch {
          expr = null; // hostile input the parser chokes on: treated as unparsable
        }
        if (cache.size >= PARSE_CACHE_SIZE) cache.clear();
        cache.set(latex, expr);
        return expr;
      },
    };
  });
  return loading;
}

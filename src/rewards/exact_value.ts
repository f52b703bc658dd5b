/**
 * @internal Exact evaluation of a numeric LaTeX answer (`2^{10}`, `1.5 \times 10^{3}`, `\frac{84}{2}`,
 * `\sqrt{16}`, `5!`) as a rational number with BigInt numerator and denominator, so that an expression
 * answer is accepted only when it equals the reference exactly, never "close in floating point"
 * (`2^{100}` and `2^{100} + 1` differ).
 *
 * Grammar (after `normalizeAnswer`): sums and differences of products and quotients (`\times`,
 * `\cdot`, `*`, `/`, `\div`, implicit before `(`, `\frac`, `\sqrt`) of signed powers (`^` with an
 * integer or a rational exponent whose root is exact) of numbers (integers, decimals, `1.5e3`),
 * parentheses and braces, `\frac{a}{b}` (also `\frac12`), `\sqrt{x}` / `\sqrt[n]{x}` (only when the
 * root is rational), `n!` and `\binom{n}{k}`. Anything else (variables, `\pi`, irrational roots) is
 * "not a rational closed form" and returns `null`, leaving the comparison to the symbolic engine.
 *
 * Bounded for hostile input: at most 512 characters, nesting depth 40, every intermediate value at
 * most 4,096 bits (checked before a power is computed), `n!` for n <= 300, `\binom{n}{k}` for n <= 2000.
 * @module
 */

/** @internal An exact rational: `num / den`, `den > 0`, in lowest terms. */
export interface Rational {
  num: bigint;
  den: bigint;
}

/** @internal The value of an answer and whether it used a closed-form operator (power, root, !, binom). */
export interface ExactValue {
  value: Rational;
  /** Whether the expression uses `^`, `\sqrt`, `!` or `\binom` (a closed form, not bare arithmetic). */
  closedForm: boolean;
  /** Whether the expression is a single number literal (no operator at all, a sign allowed). */
  literal: boolean;
}

const MAX_CHARS = 512;
const MAX_DEPTH = 40;
const MAX_BITS = 4096;

class NotExact extends Error {}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function bits(n: bigint): number {
  return (n < 0n ? -n : n).toString(2).length;
}

function make(num: bigint, den: bigint): Rational {
  if (den === 0n) throw new NotExact();
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den) || 1n;
  const r = {num: num / g, den: den / g};
  if (bits(r.num) > MAX_BITS || bits(r.den) > MAX_BITS) throw new NotExact();
  return r;
}

const add = (a: Rational, b: Rational) => make(a.num * b.den + b.num * a.den, a.den * b.den);
const mul = (a: Rational, b: Rational) => make(a.num * b.num, a.den * b.den);
const div = (a: Rational, b: Rational) => make(a.num * b.den, a.den * b.num);

/** Exact integer k-th root of n >= 0, or null when n is not a perfect k-th power. */
function integerRoot(n: bigint, k: number): bigint | null {
  if (n < 2n) return n;
  const K = BigInt(k);
  // Newton's method from an upper bound 2^ceil(bits/k).
  let x = 1n << BigInt(Math.ceil(bits(n) / k));
  for (;;) {
    const y = ((K - 1n) * x + n / x ** (K - 1n)) / K;
    if (y >= x) break;
    x = y;
  }
  return x ** K === n ? x : null;
}

function root(a: Rational, k: number): Rational {
  if (!Number.isInteger(k) || k < 1 || k > 64) throw new NotExact();
  const negative = a.num < 0n;
  if (negative && k % 2 === 0) throw new NotExact();
  const n = integerRoot(negative ? -a.num : a.num, k);
  const d = integerRoot(a.den, k);
  if (n === null || d === null) throw new NotExact(); // irrational: leave it to the symbolic engine
  return make(negative ? -n : n, d);
}

function power(base: Rational, exponent: Rational): Rational {
  if (exponent.den !== 1n) {
    if (exponent.den > 12n) throw new NotExact();
    return power(root(base, Number(exponent.den)), make(exponent.num, 1n));
  }
  const e = exponent.num < 0n ? -exponent.num : exponent.num;
  if (base.num === 0n) {
    if (exponent.num < 0n) throw new NotExact();
    return make(e === 0n ? 1n : 0n, 1n);
  }
  const grow = Math.max(bits(base.num), bits(base.den)) - 1; // |base| in {1, -1}: no growth
  if (grow > 0 && e * BigInt(grow) > BigInt(MAX_BITS)) throw new NotExact();
  if (grow === 0 && e > 1n << 20n) return make((base.num < 0n && e % 2n === 1n ? -1n : 1n), 1n);
  const r = make(base.num ** e, base.den ** e);
  return exponent.num < 0n ? make(r.den, r.num) : r;
}

function toInteger(a: Rational, max: number): number {
  if (a.den !== 1n || a.num < 0n || a.num > BigInt(max)) throw new NotExact();
  return Number(a.num);
}

function factorial(a: Rational): Rational {
  const n = toInteger(a, 300);
  let r = 1n;
  for (let i = 2; i <= n; i++) r *= BigInt(i);
  return make(r, 1n);
}

function binomial(nr: Rational, kr: Rational): Rational {
  const n = toInteger(nr, 2000);
  let k = toInteger(kr, 2000);
  if (k > n) return make(0n, 1n);
  k = Math.min(k, n - k);
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return make(r, 1n);
}

/** Parses a decimal literal (`12`, `1.25`, `.5`, `1.5e-3`) exactly. */
function decimal(text: string): Rational {
  const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
  const [intPart = '', frac = '', exp = '0'] = [m[1], m[2], m[3]];
  const e = Number(exp) - frac.length;
  if (Math.abs(e) > 1200) throw new NotExact();
  const digits = BigInt((intPart + frac) || '0');
  return e >= 0 ? make(digits * 10n ** BigInt(e), 1n) : make(digits, 10n ** BigInt(-e));
}

const TOKEN = /\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\\[A-Za-z]+|[-+*/^!(){}[\]])/y;

/** Recursive-descent evaluator over the token list. */
class Evaluator {
  private pos = 0;
  private depth = 0;
  closedForm = false;
  operators = 0;

  constructor(private tokens: string[]) {}

  evaluate(): Rational {
    const v = this.sum();
    if (this.pos !== this.tokens.length) throw new NotExact();
    return v;
  }

  private peek(): string | undefined {
    return this.tokens[this.pos];
  }

  private take(expected?: string): string {
    const t = this.tokens[this.pos++];
    if (t === undefined || (expected !== undefined && t !== expected)) throw new NotExact();
    return t;
  }

  private nested<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new NotExact();
    const v = f();
    this.depth--;
    return v;
  }

  private sum(): Rational {
    let v = this.product();
    for (let t = this.peek(); t === '+' || t === '-'; t = this.peek()) {
      this.take();
      this.operators++;
      const rhs = this.product();
      v = add(v, t === '-' ? make(-rhs.num, rhs.den) : rhs);
    }
    return v;
  }

  private product(): Rational {
    let v = this.signed();
    for (;;) {
      const t = this.peek();
      if (t === '*' || t === '\\times' || t === '\\cdot' || t === '/' || t === '\\div') {
        this.take();
        this.operators++;
        const rhs = this.signed();
        v = t === '/' || t === '\\div' ? div(v, rhs) : mul(v, rhs);
      } else if (t === '(' || t === '\\frac' || t === '\\sqrt' || t === '\\binom') {
        this.operators++;
        v = mul(v, this.signed()); // implicit product: 2(3), 3\sqrt{4}
      } else {
        return v;
      }
    }
  }

  private signed(): Rational {
    const t = this.peek();
    if (t === '-' || t === '+') {
      this.take();
      const v = this.nested(() => this.signed());
      return t === '-' ? make(-v.num, v.den) : v;
    }
    return this.postfix();
  }

  private postfix(): Rational {
    let v = this.primary();
    for (;;) {
      const t = this.peek();
      if (t === '^') {
        this.take();
        this.closedForm = true;
        this.operators++;
        v = power(v, this.exponent());
      } else if (t === '!') {
        this.take();
        this.closedForm = true;
        this.operators++;
        v = factorial(v);
      } else {
        return v;
      }
    }
  }

  /** `^{...}`, `^(...)`, `^12`, `^-3`: a group, or a signed number literal. */
  private exponent(): Rational {
    const t = this.peek();
    if (t === '{' || t === '(') return this.primary();
    if (t === '-' || t === '+') {
      this.take();
      const v = this.exponent();
      return t === '-' ? make(-v.num, v.den) : v;
    }
    const n = this.take();
    if (!/^\d+$/.test(n)) throw new NotExact();
    return decimal(n);
  }

  /** A braced group `{...}`, or one digit (`\frac12`, `\sqrt3`). */
  private argument(): Rational {
    if (this.peek() === '{') return this.primary();
    const t = this.take();
    if (!/^\d+$/.test(t)) throw new NotExact();
    // `\frac12`: the first digit is the argument, the rest stays for the next one.
    if (t.length > 1) {
      this.tokens.splice(this.pos - 1, 1, t[0]!, t.slice(1));
      return decimal(this.tokens[this.pos - 1]!);
    }
    return decimal(t);
  }

  private primary(): Rational {
    return this.nested(() => {
      const t = this.take();
      if (t === '(' || t === '{') {
        const v = this.sum();
        this.take(t === '(' ? ')' : '}');
        return v;
      }
      if (t === '\\frac') {
        this.operators++;
        const n = this.argument();
        return div(n, this.argument());
      }
      if (t === '\\sqrt') {
        this.closedForm = true;
        this.operators++;
        let k = 2;
        if (this.peek() === '[') {
          this.take();
          k = toInteger(this.sum(), 64);
          this.take(']');
        }
        return root(this.argument(), k);
      }
      if (t === '\\binom') {
        this.closedForm = true;
        this.operators++;
        const n = this.argument();
        return binomial(n, this.argument());
      }
      if (/^\d+$/.test(t) && this.peek() === '\\frac') {
        // A mixed number, as MATH writes it: `3\frac{1}{2}` is 3.5 (a proper fraction of integers).
        const at = this.pos;
        this.take();
        const n = this.argument();
        const d = this.argument();
        const whole = decimal(t);
        if (n.den === 1n && d.den === 1n && n.num >= 0n && d.num > n.num) return add(whole, div(n, d));
        this.pos = at; // not a mixed number: an implicit product, handled by the caller
        return whole;
      }
      if (/^[\d.]/.test(t)) return decimal(t);
      throw new NotExact(); // a variable, a constant, an unknown command
    });
  }
}

/**
 * @internal The exact value of a numeric LaTeX answer (normalized), or `null` when it is not a
 * rational closed form this evaluator handles (see the module doc).
 */
export function exactValue(latex: string): ExactValue | null {
  if (latex.length === 0 || latex.length > MAX_CHARS) return null;
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < latex.length) {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(latex);
    if (m === null) {
      if (/^\s+$/.test(latex.slice(at))) break;
      return null;
    }
    tokens.push(m[1]!);
    at = TOKEN.lastIndex;
  }
  // Two number literals in a row (`2 3`) are not an expression.
  for (let i = 1; i < tokens.length; i++) if (/^[\d.]/.test(tokens[i]!) && /^[\d.]/.test(tokens[i - 1]!)) return null;
  const evaluator = new Evaluator(tokens);
  try {
    const value = evaluator.evaluate();
    return {value, closedForm: evaluator.closedForm, literal: evaluator.operators === 0};
  } catch (e) {
    if (e instanceof NotExact || e instanceof RangeError) return null;
    throw e;
  }
}

/** @internal Whether two rationals are equal (both in lowest terms). */
export function rationalsEqual(a: Rational, b: Rational): boolean {
  return a.num === b.num && a.den === b.den;
}

/** @internal `a * num / den` exactly (used for percent scaling). */
export function scaleRational(a: Rational, num: bigint, den: bigint): Rational | null {
  try {
    return make(a.num * num, a.den * den);
  } catch {
    return null;
  }
}

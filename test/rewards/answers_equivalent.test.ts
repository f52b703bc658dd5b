import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {answersEquivalent} from '../../src/rewards/answers_equivalent.js';

// [predicted, reference]: the same answer in different notations.
const EQUAL: [string, string][] = [
  // integers, signs, separators
  ['42', '42'], ['+7', '7'], ['-3', '\u22123'], ['007', '7'], ['1,000', '1000'], ['1{,}000', '1000'],
  ['1\\,000', '1000'], ['12,345,678', '12345678'], ['-1,234.5', '-1234.5'],
  // decimals and fractions
  ['0.5', '\\frac12'], ['0.5', '\\frac{1}{2}'], ['.5', '0.5'], ['0.50', '0.5'], ['3/4', '0.75'],
  ['\\dfrac{3}{4}', '\\frac34'], ['\\tfrac{2}{4}', '\\frac{1}{2}'], ['\\frac{6}{8}', '3/4'], ['-\\frac{1}{2}', '-0.5'],
  ['\\frac{-1}{2}', '-\\frac{1}{2}'], ['2.0', '2'], ['1e3', '1000'],
  // percentages (the number, or the fraction)
  ['50\\%', '50'], ['50\\%', '0.5'], ['12.5%', '12.5'],
  // LaTeX wrappers and units
  ['$42$', '42'], ['\\(\\frac{1}{3}\\)', '\\frac13'], ['\\left(\\frac{1}{3}\\right)', '\\frac{1}{3}'], ['4\\!0', '40'],
  ['5~\\text{cm}', '5'], ['5\\text{ cm}', '5'], ['12 apples', '12'], ['90^\\circ', '90'], ['90^{\\circ}', '90'],
  ['\\$1.50', '1.5'], ['\\displaystyle \\frac{2}{3}', '\\frac{2}{3}'], ['x = 5', '5'], ['y=\\frac12', '0.5'],
  // symbolic
  ['2\\sqrt{2}', '\\sqrt{8}'], ['x+1', '1+x'], ['2x', 'x2'], ['\\frac{\\sqrt{3}}{2}', '\\sqrt{3}/2'],
  ['\\sqrt{12}', '2\\sqrt{3}'], ['2^{10}', '2^5 \\cdot 32'], ['x^2-1', '(x-1)(x+1)'], ['\\frac{x}{2}', '0.5x'],
  ['3\\pi', '\\pi \\cdot 3'], ['a+b', 'b+a'], ['\\frac{1}{\\sqrt{2}}', '\\frac{\\sqrt{2}}{2}'],
  // tuples, intervals, sets, lists
  ['(1, 2)', '(1,2)'], ['\\left( 1, 2 \\right)', '(1,2)'], ['[1,2)', '[1, 2)'], ['(-\\infty, 3]', '(-\\infty,3]'],
  ['(\\frac12, 3)', '(0.5, 3)'], ['\\{1,2\\}', '\\{2,1\\}'], ['1, 2', '2, 1'], ['\\{-1, 3\\}', '3, -1'],
  // words
  ['\\text{Monday}', 'Monday'], ['\\text{yes}', '\\text{Yes}'], ['none', 'None'], ['\\text{(C)}', 'C'],
  // closed forms evaluated exactly, scientific notation, squared units (issue 9)
  ['2^{10}', '1024'], ['\\sqrt{4}', '2'], ['2^{10}-1', '1023'], ['5!', '120'], ['\\binom{6}{2}', '15'],
  ['1.5 \\times 10^{3}', '1500'], ['1.5 x 10^3', '1500'], ['1.5\u00d710\u00b3', '1500'], ['1.5\\mathrm{e}{3}', '1500'],
  ['5\\text{ cm}^2', '5'], ['865 \\mbox{ inches}^2', '865'], ['5 cm^2', '5'], ['60 km/h', '60'], ['(18)', '18'],
  ['3\\frac{1}{2}', '3.5'],
];

// [predicted, reference]: different answers; false positives here are as harmful as misses.
const UNEQUAL: [string, string][] = [
  ['1', '10'], ['10', '1'], ['2', '\\frac{1}{2}'], ['x', 'x^2'], ['-1', '1'], ['0', '-0.1'], ['1000', '100'],
  ['1,000', '1'], ['12', '1.2'], ['0.333', '\\frac13'], ['1.4142', '\\sqrt2'], ['3.14', '\\pi'], ['2.718', 'e'],
  ['\\frac{1}{3}', '\\frac{1}{4}'], ['\\frac{2}{3}', '\\frac{3}{2}'], ['x^2', 'x^3'], ['x+1', 'x-1'], ['2x', 'x^2'],
  ['\\sqrt{2}', '2'], ['\\sqrt{8}', '4'], ['(1,2)', '(2,1)'], ['(1,2)', '[1,2]'], ['(1,2]', '[1,2]'],
  ['[1,2)', '(1,2)'], ['(1, 2, 3)', '(1, 2)'], ['\\{1,2\\}', '\\{1,3\\}'], ['1, 2', '1, 2, 2'], ['5', '(5, 5)'],
  ['50\\%', '5'], ['\\text{Monday}', 'Tuesday'], ['yes', 'no'], ['5 cm', '50'], ['a+b', 'a-b'],
  ['', '5'], ['\\boxed{}', '5'], ['\\frac{1}{2', '\\frac{1}{2}'], ['\\text{(B)}', 'C'], ['12', '\\frac12'],
  ['1.5', '15'], ['0.1', '0.01'],
  // exact, not floating point; units must agree when both sides have one
  ['2^{100}+1', '1267650600228229401496703205376'], ['1.0000000001', '1'], ['5\\text{ cm}^2', '25'], ['5 cm', '5 m'],
  ['1.5 \\times 10^{3}', '150'], ['\\sqrt{2}', '1.41421356237'],
  // a plain-number reference is answered by a number or a reduced fraction, not an expression
  ['6\\times 7', '42'], ['6*7', '42'], ['40+2', '42'], ['84/2', '42'], ['\\frac{84}{2}', '42'], ['\\frac{2}{4}', '0.5'],
];

describe('answersEquivalent', () => {
  it(`has at least 60 notation pairs (${EQUAL.length} equal, ${UNEQUAL.length} unequal)`, () => {
    expect(EQUAL.length + UNEQUAL.length).toBeGreaterThanOrEqual(60);
    expect(UNEQUAL.length).toBeGreaterThanOrEqual(30);
  });
  it.each(EQUAL)('%s equals %s', async (a, b) => {
    expect(await answersEquivalent(a, b)).toBe(true);
    expect(await answersEquivalent(b, a)).toBe(true); // symmetric
  });
  it.each(UNEQUAL)('%s differs from %s', async (a, b) => {
    expect(await answersEquivalent(a, b)).toBe(false);
  });
  it('bounds hostile expressions: heavy constructs, long or deep answers are never evaluated', async () => {
    const hostile = [
      '100000!', '\\sum_{n=1}^{10^{9}} n', '\\int_0^1 x^{100} dx', '\\prod_{k=1}^{10^6} k', 'x'.repeat(5000),
      '('.repeat(300) + '1' + ')'.repeat(300), '\\frac{'.repeat(200) + '1' + '}{2}'.repeat(200),
      '9'.repeat(500), '2^{2^{2^{2^{2^{2^{2^{2}}}}}}}', '\\sqrt{'.repeat(100) + '2' + '}'.repeat(100),
      '10^{999999}', '(2^{4000})^{4000}', '2000!', '\\binom{2000}{1000}', '1e999999', '\\text{a}'.repeat(500) + 'x',
      '5 ' + 'ab '.repeat(1300) + '1', '2^'.repeat(2000) + '2',
    ];
    const start = performance.now();
    for (const h of hostile) expect(await answersEquivalent(h, '5')).toBe(false);
    expect(performance.now() - start).toBeLessThan(2000);
  });
  it('never throws on malformed LaTeX and rejects bad options', async () => {
    for (const bad of ['\\frac{', '}{', '\\left(', '^^^', '\\', '\\begin{matrix}', '\ud800', '$$$']) {
      await expect(answersEquivalent(bad, '\\frac{1}{2}')).resolves.toBe(false);
    }
    await expect(answersEquivalent('1', '1', {maxExpressionLength: 0})).rejects.toThrow(
        "answersEquivalent: 'maxExpressionLength' expected >= 1, got 0");
  });
});

describe('answersEquivalent numericAnswers', () => {
  it("'expression' accepts any equivalent expression for a plain-number reference", async () => {
    for (const [a, b] of [['6\\times 7', '42'], ['84/2', '42'], ['\\frac{2}{4}', '0.5']]) {
      expect(await answersEquivalent(a!, b!, {numericAnswers: 'expression'})).toBe(true);
      expect(await answersEquivalent(a!, b!)).toBe(false);
    }
    expect(await answersEquivalent('6\\times 7', '43', {numericAnswers: 'expression'})).toBe(false);
    await expect(answersEquivalent('1', '1', {numericAnswers: 'any' as never})).rejects.toThrow(
        "answersEquivalent: 'numericAnswers' expected one of 'closed-form', 'literal', 'expression', got \"any\"");
  });
  it("'literal' accepts only numbers and reduced fractions; 'closed-form' (default) adds exact closed forms", async () => {
    for (const [a, b] of [['2^{10}', '1024'], ['\\sqrt{4}', '2'], ['1.5 \\times 10^{3}', '1500']]) {
      expect(await answersEquivalent(a!, b!)).toBe(true);
      expect(await answersEquivalent(a!, b!, {numericAnswers: 'closed-form'})).toBe(true);
      expect(await answersEquivalent(a!, b!, {numericAnswers: 'literal'})).toBe(false);
    }
    expect(await answersEquivalent('\\frac{3}{4}', '0.75', {numericAnswers: 'literal'})).toBe(true);
  });
});

describe('answersEquivalent on large numbers', () => {
  it('compares integers exactly at any size and never matches an overflowing number', async () => {
    expect(await answersEquivalent('12345678901234567890', '12345678901234567891')).toBe(false);
    expect(await answersEquivalent('12,345,678,901,234,567,890', '12345678901234567890')).toBe(true);
    expect(await answersEquivalent('9'.repeat(400), '5')).toBe(false);
    expect(await answersEquivalent('1e400', '1e401')).toBe(false);
  });
});

describe('answersEquivalent properties', () => {
  const withSeparators = (n: bigint) => n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  it('an integer equals itself in any notation and differs from every other integer', async () => {
    await fc.assert(fc.asyncProperty(fc.bigInt({min: -(10n ** 20n), max: 10n ** 20n}), fc.bigInt({min: 1n, max: 10n ** 6n}),
        async (n, d) => {
          const ref = n.toString();
          for (const form of [`$${ref}$`, withSeparators(n), `${ref}.0`, `x = ${ref}`, `\\text{ }${ref}\\text{ cm}`]) {
            expect(await answersEquivalent(form, ref)).toBe(true);
          }
          expect(await answersEquivalent((n + d).toString(), ref)).toBe(false);
          expect(await answersEquivalent(ref + '0', ref)).toBe(n === 0n);
        }), {numRuns: 30});
  });
  it('a reduced fraction equals its terminating decimal and not its reciprocal', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({min: 1, max: 999}), fc.constantFrom(2, 4, 5, 8, 10, 16, 20, 25),
        async (p, q) => {
          const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
          const g = gcd(p, q);
          const [a, b] = [p / g, q / g];
          if (b === 1) return;
          expect(await answersEquivalent(`\\frac{${a}}{${b}}`, String(a / b))).toBe(true);
          expect(await answersEquivalent(`${a}/${b}`, String(a / b))).toBe(true);
          if (a !== b) expect(await answersEquivalent(`\\frac{${b}}{${a}}`, String(a / b))).toBe(false);
        }), {numRuns: 30});
  });
});

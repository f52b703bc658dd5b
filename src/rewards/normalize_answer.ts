/**
 * @internal String-level clean-up of a final answer before comparison: removes LaTeX presentation
 * (`$`, `\left`/`\right`, spacing commands, `\dfrac`), units in `\text{}`, degree signs, thousands
 * separators and `x =` prefixes, and records a percent sign. The mathematics itself is parsed and
 * compared by the Compute Engine (see `answers_equivalent.ts`), not here.
 *
 * Every pattern is linear (no nested quantifiers) and only ever runs on an extracted answer whose
 * length is capped by the caller.
 * @module
 */

/** @internal A normalized answer. */
export interface NormalizedAnswer {
  /** The cleaned LaTeX / text. */
  text: string;
  /** Whether the answer ended in a percent sign (removed from `text`). */
  percent: boolean;
  /** Whether the whole answer was a `\text{...}` (compare as words, not as mathematics). */
  isText: boolean;
  /** The unit removed after the value (`cm^2`, `km/h`, `apple`), canonical; `''` when none. */
  unit: string;
}

const TEXT_COMMAND = /\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}/g;
/** A unit in a text command with an optional power (`\text{ cm}^2`, `\mathrm{m}^{3}`, `\text{s}^{-1}`). */
const TEXT_UNIT = /\\(?:text|textrm|mathrm|mbox)\s*\{\s*[A-Za-z][A-Za-z\s.]*\}(?:\s*\^\s*(?:\{\s*-?\d\s*\}|-?\d))?/;
/** Trailing units: text-command units joined by `/` or `\cdot` (`\text{m}/\text{s}^2`), at the end. */
const TRAILING_TEXT_UNITS = new RegExp(`(?:\\s*(?:/|\\\\cdot)?\\s*${TEXT_UNIT.source})+\\s*$`);
/** Unit symbols accepted right after a number without a space or as one letter (`5cm`, `3 m`, `2 kg`). */
const UNIT_SYMBOLS = 'mm|cm|dm|km|m|mg|kg|g|ms|s|min|h|hr|hrs|ml|mL|L|l|ft|yd|mi|lb|lbs|oz|kmh|mph|kph|N|J|W|V|K|Pa|Hz|cc|sq';
/** A bare unit after a number: a word (or unit symbol) with an optional power, optionally `/unit`. */
const BARE_UNITS = new RegExp(
    `^([+-]?(?:\\d[\\d,]*(?:\\.\\d*)?|\\.\\d+))(?:\\s*(?:${UNIT_SYMBOLS})|\\s+[A-Za-z]{2,}(?:\\s+[A-Za-z]+)*)` +
    `(?:\\^\\{?[23]\\}?)?(?:\\s*/\\s*(?:[A-Za-z]+)(?:\\^\\{?[23]\\}?)?)?\\.?$`);
const SUPERSCRIPTS: Record<string, string> = {
  '\u2070': '0', '\u00b9': '1', '\u00b2': '2', '\u00b3': '3', '\u2074': '4', '\u2075': '5', '\u2076': '6',
  '\u2077': '7', '\u2078': '8', '\u2079': '9', '\u207b': '-', '\u207a': '+',
};
const WHOLE_TEXT = /^\\(?:text|textbf|textit|textrm|mathrm|mbox)\s*\{([^{}]*)\}$/;
const SPACING = /\\[,;:! ]|\\q?quad\b|\\displaystyle\b|\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])\.?|~/g;
const THOUSANDS = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;

/** A removed unit without LaTeX wrappers, spaces, a final dot or plural `s`: `\text{ cm}^{2}` -> `cm^2`. */
function canonicalUnit(u: string): string {
  return u.replace(/\\[A-Za-z]+/g, '').replace(/[{}\s~,]/g, '').replace(/\.$/, '').replace(/([A-Za-z]{2,})s\b/g, '$1');
}

/** Removes trailing dots and whitespace (a loop: the regex `[.\s]+$` is quadratic on hostile input). */
function trimTrailingDots(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === '.' || /\s/.test(s[end - 1]!))) end--;
  return s.slice(0, end).trim();
}

/** @internal Normalizes an extracted answer (see the module doc). */
export function normalizeAnswer(raw: string): NormalizedAnswer {
  let s = raw.trim();
  // Math-mode delimiters.
  s = s.replace(/\\?\$/g, '').replace(/\\[()[\]]/g, '');
  s = s.replace(/[\u2070\u00b9\u00b2\u00b3\u2074-\u2079\u207a\u207b]+/g,
      (m) => `^{${[...m].map((c) => SUPERSCRIPTS[c]).join('')}}`);
  s = s.replace(/\u2212/g, '-').replace(/\u00d7/g, '\\times ').replace(/\u00f7/g, '\\div ').replace(/\u00b7/g, '\\cdot ');
  s = s.replace(/\\[dt]frac/g, '\\frac').replace(/\\[dt]binom/g, '\\binom');
  s = s.replace(/\{,\}/g, ',');
  s = s.replace(SPACING, (m) => (m === '\\ ' ? ' ' : ''));
  s = s.trim();
  const whole = WHOLE_TEXT.exec(s);
  if (whole) return {text: whole[1]!.trim().replace(/\s+/g, ' ').toLowerCase(), percent: false, isText: true, unit: ''};
  // Scientific notation spelled with a letter e: `1.5\mathrm{e}{3}`, `1.5 E+3`, `1.5e{-3}`.
  s = s.replace(/^([+-]?[\d.]+)\s*(?:\\(?:mathrm|text)\s*\{\s*[eE]\s*\}|[eE])\s*(?:\{\s*([+-]?\d+)\s*\}|([+-]?\d+))$/,
      (_m, mantissa: string, a?: string, b?: string) => `${mantissa}e${a ?? b}`);
  s = s.replace(/\\text\s*\{\s*percent\s*\}|\s*\bpercent$/, '\\%');
  // Units in \text{...} at the end (with their power: `\text{cm}^2`) are dropped and remembered, then
  // other words in \text{}; degree signs too.
  let unit = '';
  const unitTail = TRAILING_TEXT_UNITS.exec(s);
  if (unitTail && unitTail.index > 0 && s.slice(0, unitTail.index).trim() !== '') {
    unit = canonicalUnit(unitTail[0]);
    s = s.slice(0, unitTail.index);
  }
  s = s.replace(TEXT_COMMAND, (_m, inner: string) => (/^\s*[A-Za-z][A-Za-z\s.]*$/.test(inner) ? '' : inner));
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?/g, '').replace(/\u00b0/g, '');
  s = trimTrailingDots(s);
  let percent = false;
  if (/\\?%$/.test(s)) {
    percent = true;
    s = s.replace(/\\?%$/, '').trim();
  }
  // `x = 5`, `y=\frac12` (a single-letter assignment; not an equation such as `x=y`).
  const assign = /^[A-Za-z]\s*=\s*(.+)$/.exec(s);
  if (assign && !assign[1]!.includes('=')) s = assign[1]!.trim();
  // Scientific notation with a letter x: `1.5 x 10^3`.
  s = s.replace(/^([+-]?[\d.]+)\s*[xX]\s*10\s*\^/, '$1\\times 10^');
  // Trailing units after a number: `12 cm`, `3 apples`, `5 cm^2`, `5cm`, `60 km/h`.
  s = s.replace(BARE_UNITS, (m, value: string) => {
    unit = canonicalUnit(m.slice(value.length));
    return value;
  });
  // Thousands separated by spaces: `1 000 000`.
  if (/^[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/ /g, '');
  // Currency symbols before a number.
  s = s.replace(/^([+-]?)[\u00a3\u20ac\u00a5]\s*(?=\d)/, '$1');
  if (THOUSANDS.test(s)) s = s.replace(/,/g, '');
  if (s.startsWith('+')) s = s.slice(1);
  s = s.replace(/\s+/g, ' ').trim();
  return {text: s, percent, isText: false, unit};
}

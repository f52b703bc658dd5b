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
}

const TEXT_COMMAND = /\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}/g;
const WHOLE_TEXT = /^\\(?:text|textbf|textit|textrm|mathrm|mbox)\s*\{([^{}]*)\}$/;
const SPACING = /\\[,;:! ]|\\q?quad\b|\\displaystyle\b|\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])\.?|~/g;
const THOUSANDS = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;

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
  s = s.replace(/\u2212/g, '-').replace(/\u00d7/g, '\\times ').replace(/\u00f7/g, '\\div ').replace(/\u00b7/g, '\\cdot ');
  s = s.replace(/\\[dt]frac/g, '\\frac');
  s = s.replace(/\{,\}/g, ',');
  s = s.replace(SPACING, (m) => (m === '\\ ' ? ' ' : ''));
  s = s.trim();
  const whole = WHOLE_TEXT.exec(s);
  if (whole) return {text: whole[1]!.trim().replace(/\s+/g, ' ').toLowerCase(), percent: false, isText: true};
  // Units and words in \text{...} next to a value are dropped; degree signs too.
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
  // Trailing unit words after a number: `12 cm`, `3 apples`.
  s = s.replace(/^([+-]?[\d.,]+)\s+[A-Za-z]{2,}(?:\s+[A-Za-z]+)*$/, '$1');
  if (THOUSANDS.test(s)) s = s.replace(/,/g, '');
  if (s.startsWith('+')) s = s.slice(1);
  s = s.replace(/\s+/g, ' ').trim();
  return {text: s, percent, isText: false};
}

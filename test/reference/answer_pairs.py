"""Builds test/fixtures/answer_pairs.json: labelled (predicted final answer, reference) pairs in
MATH / GSM8K style for measuring accuracyReward's recall and specificity.

Every pair is labelled by hand here (`correct`: would a careful human grader accept the predicted
answer for this reference?); the few systematic expansions (one value in many spellings) are
labelled by construction and checked by eye. Families follow the misses reported in issue 9
(closed-form expressions for a plain-number reference, units in \\text{...} including squared
units, scientific notation) and the conventions of math-verify / latex2sympy2_extended
(units, percent, \\frac12, \\sqrt3, thousands separators, intervals, sets) and verl's MATH / DAPO
normalizers (units and words after the value, \\text{}, \\$, degrees, x = ...).

Policy decisions that the labels encode (documented in docs/rewards.md):
  * bare arithmetic restating a computation (6 \\times 7, 40+2, \\frac{84}{2} for 42) is not an
    answer to a plain-number reference (label False, family 'restated-arithmetic');
  * free text is never mined for a number ('The answer is 42' is not the answer 42);
  * a decimal approximation of an irrational or non-terminating value is wrong (0.333 for 1/3).

Run: python3 test/reference/answer_pairs.py  (no dependencies; deterministic)
"""
import json
import os

pairs = []


def add(family, items, correct):
    for pred, ref in items:
        pairs.append({"family": family, "predicted": pred, "reference": ref, "correct": correct})


# --- integers and separators (GSM8K) -------------------------------------------------------------
add("integers", [
    ("72", "72"), ("1,234", "1234"), ("1{,}234", "1234"), ("1\\,234", "1234"), ("1 234", "1234"),
    ("1234.00", "1234"), ("+18", "18"), ("\u22125", "-5"), ("-5", "\u22125"), ("007", "7"),
    ("10,000,000", "10000000"), ("$18$", "18"), ("\\(18\\)", "18"), ("\\left(18\\right)", "18"),
    ("x = 18", "18"), ("n=18", "18"), ("18.", "18"), ("\\displaystyle 18", "18"), ("18.0", "18"),
    ("123456789012345678901234567890", "123456789012345678901234567890"), ("0", "0"), ("-0", "0"),
], True)
add("integers", [
    ("71", "72"), ("73", "72"), ("27", "72"), ("720", "72"), ("7.2", "72"), ("-72", "72"),
    ("1,234", "123.4"), ("1234", "12345"), ("12,34", "1234"), ("18.01", "18"), ("17.99", "18"),
    ("123456789012345678901234567891", "123456789012345678901234567890"), ("1", "0"),
    ("10000000", "1000000"), ("1,000", "1"),
], False)

# --- decimals and fractions ----------------------------------------------------------------------
add("fractions", [
    ("\\frac{3}{4}", "0.75"), ("3/4", "0.75"), ("\\dfrac34", "0.75"), ("\\tfrac{3}{4}", "0.75"), (".75", "0.75"),
    ("0.750", "0.75"), ("0.75", "\\frac34"), ("\\frac{6}{8}", "\\frac{3}{4}"), ("-\\frac12", "-0.5"),
    ("\\frac{-1}{2}", "-0.5"), ("-1/2", "-\\frac{1}{2}"), ("\\frac{1}{8}", "0.125"), ("0.125", "\\frac18"),
    ("\\frac{7}{2}", "3.5"), ("3\\frac{1}{2}", "\\frac72"), ("\\frac{22}{7}", "\\frac{44}{14}"),
    ("\\frac{1}{3}", "\\frac{2}{6}"), ("\\frac13", "\\frac{1}{3}"), ("2.50", "\\frac{5}{2}"),
    ("\\frac{5}{2}", "2.5"), ("0.2", "\\frac{1}{5}"), ("\\frac{1}{5}", "0.2"),
], True)
add("fractions", [
    ("\\frac{4}{3}", "0.75"), ("0.7", "0.75"), ("0.333", "\\frac13"), ("0.33", "\\frac{1}{3}"),
    ("\\frac{1}{4}", "\\frac13"), ("\\frac{2}{3}", "\\frac32"), ("3/4", "4/3"), ("0.125", "\\frac{1}{4}"),
    ("\\frac{1}{2}", "2"), ("2", "\\frac12"), ("-\\frac12", "\\frac12"), ("0.6", "\\frac{2}{3}"),
    ("0.67", "\\frac23"), ("\\frac{7}{3}", "3.5"), ("0.1", "0.01"), ("1.5", "15"),
], False)

# --- closed forms for a plain-number reference (issue 9: powers) --------------------------------
add("closed-form", [
    ("2^{10}", "1024"), ("2^10", "1024"), ("2^{20}", "1048576"), ("3^4", "81"), ("3^{4}", "81"),
    ("10^6", "1000000"), ("10^{6}", "1000000"), ("2^{10}-1", "1023"), ("2^{-3}", "0.125"),
    ("5^3", "125"), ("(-2)^3", "-8"), ("-2^{4}", "-16"), ("2^{100}", str(2**100)), ("7^{2}", "49"),
    ("\\left(\\frac{1}{2}\\right)^{3}", "0.125"), ("\\left(\\frac{2}{3}\\right)^{2}", "\\frac49"),
    ("2^{5} \\cdot 3", "96"), ("3 \\cdot 2^{5}", "96"), ("2^{3}\\cdot 5^{2}", "200"), ("4^{1/2}", "2"),
    ("8^{\\frac{1}{3}}", "2"), ("27^{2/3}", "9"), ("10^{-2}", "0.01"), ("\\sqrt{144}", "12"), ("\\sqrt{16}", "4"),
    ("\\sqrt[3]{27}", "3"), ("\\sqrt{\\frac{9}{4}}", "1.5"), ("2\\sqrt{9}", "6"), ("5!", "120"), ("6!", "720"),
    ("\\frac{10!}{8!}", "90"), ("\\binom{6}{2}", "15"), ("\\binom{10}{3}", "120"), ("\\dbinom{5}{2}", "10"),
    ("2^{16}", "65536"), ("11^2", "121"), ("12^{2}", "144"), ("9^{3}", "729"), ("2^{12}", "4096"),
    ("4^5", "1024"), ("10^{9}+7", "1000000007"), ("2^{31}-1", "2147483647"),
    # a power reference answered by its value or another power
    ("1024", "2^{10}"), ("1023", "2^{10}-1"), ("4^5", "2^{10}"), ("81", "3^4"), ("65536", "2^{16}"),
    ("125", "5^3"), ("\\frac18", "2^{-3}"), ("120", "5!"), ("15", "\\binom{6}{2}"),
], True)
add("closed-form", [
    ("2^{10}", "1000"), ("2^{10}", "1023"), ("2^{9}", "1024"), ("3^4", "64"), ("4^3", "81"),
    ("10^6", "100000"), ("10^{6}", "1000001"), ("2^{100}+1", str(2**100)), ("2^{100}", str(2**100 + 1)),
    ("2^{-3}", "-0.125"), ("-2^{4}", "16"), ("(-2)^3", "8"), ("\\sqrt{144}", "14"), ("\\sqrt{2}", "1.4142"),
    ("\\sqrt{2}", "1.41421356237"), ("\\sqrt{8}", "4"), ("\\sqrt{8}", "2.8284"), ("4!", "120"), ("5!", "24"),
    ("\\binom{6}{2}", "30"), ("\\binom{6}{3}", "15"), ("10^{9}+7", "1000000009"), ("2^{31}-1", "2147483648"),
    ("1000", "2^{10}"), ("1025", "2^{10}"), ("2^{11}", "2^{10}"), ("2^{0.5}", "1.414"), ("\\sqrt{10}", "3.1623"),
    ("2^{64}", "18446744073709551615"), ("8^{\\frac{1}{3}}", "3"),
], False)

# --- bare arithmetic restating the computation (policy: not an answer to a plain number) ---------
add("restated-arithmetic", [
    ("6 \\times 7", "42"), ("6*7", "42"), ("40+2", "42"), ("84/2", "42"), ("\\frac{84}{2}", "42"),
    ("\\frac{2}{4}", "0.5"), ("100-1", "99"), ("12 \\cdot 12", "144"), ("\\frac{10}{5}", "2"), ("3+4", "7"),
    ("25 \\div 5", "5"), ("(3)(4)", "12"),
], False)

# --- scientific notation in its spellings (issue 9) -----------------------------------------------
SCI = [  # (mantissa, exponent, plain value)
    ("1.5", 3, "1500"), ("2.5", -3, "0.0025"), ("6.02", 23, "602000000000000000000000"), ("3", 8, "300000000"),
    ("9.81", 0, "9.81"), ("1.6", -19, "0.00000000000000000016"), ("4.2", 5, "420000"), ("-7.5", 2, "-750"),
    ("1.25", 4, "12500"), ("8", -2, "0.08"),
]


def sup(n):
    table = {"-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074",
             "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079"}
    return "".join(table[c] for c in str(n))


def spellings(m, e):
    return [
        f"{m}\\times10^{{{e}}}", f"{m} \\times 10^{{{e}}}", f"{m}\\cdot 10^{{{e}}}", f"{m}*10^{e}",
        f"{m} x 10^{e}", f"{m}\u00d710{sup(e)}", f"{m}e{e}", f"{m}E{'+' if e >= 0 else ''}{e}",
        f"{m}\\mathrm{{e}}{{{e}}}", f"{m} \\times {{10}}^{{{e}}}",
    ]


for m, e, plain in SCI:
    add("scientific", [(s, plain) for s in spellings(m, e)], True)
    add("scientific", [(plain, f"{m} \\times 10^{{{e}}}")], True)
    add("scientific", [(f"{m} \\times 10^{{{e + 1}}}", plain), (f"{m}e{e - 1}", plain)], False)
add("scientific", [
    ("15 \\times 10^{2}", "1500"), ("0.15 \\times 10^{4}", "1.5 \\times 10^{3}"), ("1.5\\times10^3", "1.5e3"),
    ("10^{3}", "1000"), ("1 \\times 10^{-6}", "0.000001"), ("1.50 \\times 10^{3}", "1500"),
], True)
add("scientific", [
    ("1.5 \\times 10^{3}", "150"), ("1.5 \\times 10^{3}", "15000"), ("1.6 \\times 10^{3}", "1500"),
    ("1.5e3", "1.5e4"), ("10^{3}", "100"), ("1.5 \\times 10^{-3}", "0.015"),
], False)

# --- units, including squared units in \text{...} (issue 9; math-verify / verl conventions) -------
UNITS_OK = [
    "\\text{ cm}", "\\text{cm}", "~\\text{cm}", "\\,\\text{cm}", "\\text{ cm}^2", "\\text{cm}^{2}",
    "\\text{ cm}^{3}", "\\mbox{ inches}^2", "\\mathrm{m}^2", "\\,\\mathrm{m}^{3}", "\\text{ m/s}",
    "\\text{ m}/\\text{s}^2", "\\text{ square units}", "\\text{ sq ft}", " cm^2", "cm", " km/h",
    "\\text{ dollars}", "\\text{ degrees}", "^\\circ", "^{\\circ}", "\\text{ hours}", " minutes",
    "\\text{ units}^2", " square feet", "\\text{ km}", " kg", "\\text{ mph}", "\\ \\text{m}^2", " meters",
]
for i, unit in enumerate(UNITS_OK):
    value = ["5", "12", "865", "3.5", "48"][i % 5]
    add("units", [(value + unit, value)], True)
add("units", [
    ("\\$18", "18"), ("\\$1,234.50", "1234.5"), ("18 \\text{ dollars}", "\\$18"), ("\u20ac5", "5"),
    ("\\$ 18.00", "18"), ("12 apples", "12"), ("12 \\text{ apples}", "12"), ("30^\\circ", "30^\\circ"),
], True)
add("units", [
    ("5\\text{ cm}^2", "25"), ("5 \\text{cm}^{2}", "10"), ("3\\text{ m}^3", "27"), ("5\\text{ cm}", "50"),
    ("12 \\text{ apples}", "13"), ("\\$18", "1.8"), ("865 \\mbox{ inches}^2", "865^2"), ("5 cm^2", "25"),
    ("60 km/h", "6"), ("90^\\circ", "9"), ("4\\text{ m}^2", "16"), ("2\\text{ cm}^3", "8"),
    # a unit on both sides must agree
    ("5 cm", "5 m"), ("5\\text{ cm}^2", "5\\text{ cm}"), ("3 hours", "3 minutes"), ("5\\text{ m}^3", "5\\text{ m}^2"),
    ("60 km/h", "60\\text{ m/s}"),
    # words between numbers are not units
    ("5 \\text{ or } 6", "56"), ("5\\text{ and }6", "5"), ("5 \\text{ or } 6", "5"),
], False)
add("units", [
    ("5 cm", "5\\text{ cm}"), ("3 hours", "3\\text{ hours}"), ("3 hour", "3 hours"), ("5\\text{ cm}^2", "5 cm^2"),
    ("60\\,\\text{km/h}", "60 km/h"),
], True)

# --- percentages ----------------------------------------------------------------------------------
add("percent", [
    ("50\\%", "50"), ("50%", "0.5"), ("50\\%", "\\frac12"), ("50 percent", "50"), ("12.5\\%", "12.5"),
    ("50\\text{ percent}", "50"), ("25\\%", "25\\%"), ("0.25", "25\\%"), ("\\frac14", "25\\%"),
], True)
add("percent", [
    ("5\\%", "50"), ("0.5\\%", "50"), ("50\\%", "5"), ("25\\%", "2.5"), ("12\\%", "12.5"),
], False)

# --- symbolic answers (MATH) -----------------------------------------------------------------------
add("symbolic", [
    ("2\\sqrt{2}", "\\sqrt{8}"), ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"), ("(x+1)^2", "x^2+2x+1"),
    ("\\frac{\\pi}{2}", "\\frac12\\pi"), ("3\\pi", "\\pi \\cdot 3"), ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
    ("x+1", "1+x"), ("2x", "x \\cdot 2"), ("\\sqrt{12}", "2\\sqrt{3}"), ("4\\sqrt{3}", "\\sqrt{48}"),
    ("\\frac{2}{\\sqrt{3}}", "\\frac{2\\sqrt{3}}{3}"), ("2\\pi r", "2r\\pi"), ("\\sqrt3", "\\sqrt{3}"),
    ("3+2\\sqrt{2}", "2\\sqrt{2}+3"), ("y = 2x+3", "2x+3"), ("\\frac{x}{2}", "0.5x"),
], True)
add("symbolic", [
    ("\\sqrt{3}", "\\sqrt{2}"), ("2\\sqrt{2}", "\\sqrt{2}"), ("(x+1)^2", "x^2+1"), ("\\frac{\\pi}{3}", "\\frac{\\pi}{2}"),
    ("x-1", "x+1"), ("x^2", "x^3"), ("3.14", "\\pi"), ("2.718", "e"), ("\\sqrt{12}", "3\\sqrt{2}"),
    ("2x", "x^2"), ("\\frac{1}{\\sqrt{2}}", "\\sqrt{2}"), ("a+b", "a-b"),
], False)

# --- tuples, intervals, sets, lists ---------------------------------------------------------------
add("structures", [
    ("(1, 2)", "(1,2)"), ("\\left( 1, 2 \\right)", "(1,2)"), ("[0, \\infty)", "[0,\\infty)"), ("(-\\infty, 3]", "(-\\infty,3]"),
    ("\\{1,2,3\\}", "\\{3,2,1\\}"), ("1, 2, 3", "3, 2, 1"), ("(\\frac12, 3)", "(0.5, 3)"), ("\\{-1, 3\\}", "3, -1"),
    ("(2^{3}, 1)", "(8, 1)"), ("(1.5 \\times 10^{3}, 2)", "(1500, 2)"), ("(3, -4)", "\\left(3,-4\\right)"),
    ("x = 2, 3", "2, 3"),
], True)
add("structures", [
    ("(1, 2)", "(2,1)"), ("(1,2)", "[1,2]"), ("(1,2]", "[1,2]"), ("[1,2)", "(1,2)"), ("(1,2,3)", "(1,2)"),
    ("\\{1,2\\}", "\\{1,3\\}"), ("1, 2", "1, 2, 2"), ("5", "(5, 5)"), ("(2^{3}, 1)", "(9, 1)"), ("1, 2", "1"),
], False)

# --- words and choices -----------------------------------------------------------------------------
add("words", [
    ("\\text{(A)}", "A"), ("(B)", "B"), ("\\text{B}", "B"), ("\\text{yes}", "Yes"), ("\\text{Monday}", "monday"),
    ("none", "None"), ("\\textbf{(C)}", "C"), ("even", "\\text{even}"),
], True)
add("words", [
    ("\\text{(A)}", "B"), ("(C)", "D"), ("yes", "no"), ("\\text{Monday}", "Tuesday"), ("odd", "even"),
], False)

# --- free text is never mined for a number (anti-exploit) -----------------------------------------
add("free-text", [
    ("I think it is 42 or 43", "42"), ("42 or 43", "42"),
    ("approximately 42", "42"), ("between 41 and 43", "42"), ("42?", "43"),
], False)

os.makedirs(os.path.join(os.path.dirname(__file__), "..", "fixtures"), exist_ok=True)
out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "answer_pairs.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"source": "test/reference/answer_pairs.py", "pairs": pairs}, f, ensure_ascii=False, indent=0)
    f.write("\n")
pos = sum(p["correct"] for p in pairs)
print(f"{len(pairs)} pairs: {pos} correct, {len(pairs) - pos} wrong -> {out}")

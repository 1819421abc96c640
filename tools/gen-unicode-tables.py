#!/usr/bin/env python3
"""Writes inference/tokenizer/unicode-tables.c from the Unicode Character Database.

Reads Debian's `unicode-data` files (UnicodeData.txt, PropList.txt,
DerivedNormalizationProps.txt) and emits compact sorted tables that
inference/tokenizer/unicode.c searches with binary search:
  - ranges of letters (\\p{L}), numbers (\\p{N}) and White_Space (\\s), and of marks
    (\\p{M}), punctuation (\\p{P}) and symbols (\\p{S}) for DeepSeek-V3's pre-tokenizer,
  - runs of canonical combining classes,
  - full (recursive) canonical decompositions, Hangul syllables excepted
    (unicode.c computes those arithmetically),
  - the primary composites for NFC: canonical pairs whose result is not
    Full_Composition_Exclusion.

The mark, punctuation and symbol ranges serve only DeepSeek-V3's pre-tokenizer, whose
reference (transformers.js, JavaScript regexes) knows newer characters than the UCD here
(emoji added after 15.0 are \\p{S} there): with --node they come from Node's own
\\p{M}/\\p{P}/\\p{S} (its ICU's Unicode version is written into the header), else from the UCD.

Usage: gen-unicode-tables.py [--ucd DIR] [--node] [--output FILE]   (stdlib only)
"""

import argparse
import os
import re
import sys

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def read_unicode_data(path):
    """Yields (code point, fields) for every code point, expanding First/Last ranges."""
    range_start = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp = int(fields[0], 16)
            name = fields[1]
            if name.endswith(", First>"):
                range_start = cp
                continue
            if name.endswith(", Last>"):
                for c in range(range_start, cp + 1):
                    yield c, fields
                range_start = None
                continue
            yield cp, fields


def read_property(path, wanted):
    """Code points listed with property WANTED in a PropList-style file."""
    cps = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split(";")]
            if parts[1] != wanted:
                continue
            if ".." in parts[0]:
                lo, hi = (int(x, 16) for x in parts[0].split(".."))
            else:
                lo = hi = int(parts[0], 16)
            cps.update(range(lo, hi + 1))
    return cps


def to_ranges(cps):
    ranges = []
    for cp in sorted(cps):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def ucd_version(ucd):
    with open(os.path.join(ucd, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        m = re.search(r"DerivedNormalizationProps-([0-9.]+)\.txt", f.readline())
    return m.group(1) if m else "unknown"


def emit_rows(out, items, width=100):
    """Appends ITEMS to OUT, as many to a line as fit in WIDTH columns."""
    line = ""
    for item in items:
        if line and len(line) + 1 + len(item) > width:
            out.append(line)
            line = ""
        line = line + " " + item if line else "    " + item
    if line:
        out.append(line)


NODE_DUMP = r"""
const out = {unicode: process.versions.unicode};
for (const [name, re] of [['mark', /\p{M}/u], ['punctuation', /\p{P}/u], ['symbol', /\p{S}/u]]) {
  const cps = [];
  for (let cp = 0; cp <= 0x10FFFF; cp++)
    if (!(cp >= 0xD800 && cp <= 0xDFFF) && re.test(String.fromCodePoint(cp))) cps.push(cp);
  out[name] = cps;
}
console.log(JSON.stringify(out));
"""


def node_categories():
    import json
    import subprocess
    return json.loads(subprocess.run(["node", "-e", NODE_DUMP], check=True,
                                     capture_output=True, text=True).stdout)


def generate(ucd, use_node=False):
    letters, numbers, ccc, decomp = set(), set(), {}, {}
    marks, punctuation, symbols = set(), set(), set()
    for cp, fields in read_unicode_data(os.path.join(ucd, "UnicodeData.txt")):
        category = fields[2]
        if category.startswith("L"):
            letters.add(cp)
        elif category.startswith("N"):
            numbers.add(cp)
        elif category.startswith("M"):
            marks.add(cp)
        elif category.startswith("P"):
            punctuation.add(cp)
        elif category.startswith("S"):
            symbols.add(cp)
        if int(fields[3]):
            ccc[cp] = int(fields[3])
        mapping = fields[5]
        if mapping and not mapping.startswith("<"):  # canonical, not compatibility
            decomp[cp] = [int(x, 16) for x in mapping.split()]
    whitespace = read_property(os.path.join(ucd, "PropList.txt"), "White_Space")
    categories_source = ucd_version(ucd) + " (UCD)"
    if use_node:
        dump = node_categories()
        marks, punctuation, symbols = set(dump["mark"]), set(dump["punctuation"]), set(dump["symbol"])
        categories_source = dump["unicode"] + " (Node's ICU)"
    excluded = read_property(os.path.join(ucd, "DerivedNormalizationProps.txt"),
                             "Full_Composition_Exclusion")

    def full_decomposition(cp):
        if cp not in decomp:
            return [cp]
        return [d for part in decomp[cp] for d in full_decomposition(part)]

    decompositions = [(cp, full_decomposition(cp)) for cp in sorted(decomp)
                      if not HANGUL_FIRST <= cp <= HANGUL_LAST]
    compositions = sorted((d[0], d[1], cp) for cp, d in decomp.items()
                          if len(d) == 2 and cp not in excluded)

    ccc_runs = []
    for cp in sorted(ccc):
        if ccc_runs and ccc_runs[-1][1] == cp - 1 and ccc_runs[-1][2] == ccc[cp]:
            ccc_runs[-1][1] = cp
        else:
            ccc_runs.append([cp, cp, ccc[cp]])

    out = [
        "// GENERATED by tools/gen-unicode-tables.py from the Unicode Character Database",
        "// " + ucd_version(ucd) + " (Debian's unicode-data); marks, punctuation and symbols from",
        "// Unicode " + categories_source + ". Do not edit: run the script.",
        "",
        "// clang-format off",
        "",
        '#include "unicode-tables.h"',
        "",
    ]
    for name, cps in (("letter", letters), ("number", numbers), ("whitespace", whitespace),
                      ("mark", marks), ("punctuation", punctuation), ("symbol", symbols)):
        ranges = to_ranges(cps)
        out.append("const UnicodeRange unicode_%s_ranges[] = {" % name)
        emit_rows(out, ["{0x%X, 0x%X}," % (lo, hi) for lo, hi in ranges])
        out.append("};")
        out.append("const size_t unicode_%s_range_count = %d;" % (name, len(ranges)))
        out.append("")

    out.append("const UnicodeCccRun unicode_ccc_runs[] = {")
    emit_rows(out, ["{{0x%X, 0x%X}, %d}," % tuple(r) for r in ccc_runs])
    out.append("};")
    out.append("const size_t unicode_ccc_run_count = %d;" % len(ccc_runs))
    out.append("")

    data, entries = [], []
    for cp, seq in decompositions:
        entries.append("{0x%X, %d, %d}," % (cp, len(data), len(seq)))
        data.extend(seq)
    out.append("const UnicodeDecomposition unicode_decompositions[] = {")
    emit_rows(out, entries)
    out.append("};")
    out.append("const size_t unicode_decomposition_count = %d;" % len(entries))
    out.append("const uint32_t unicode_decomposition_data[] = {")
    emit_rows(out, ["0x%X," % d for d in data])
    out.append("};")
    out.append("")

    out.append("const UnicodeComposition unicode_compositions[] = {")
    emit_rows(out, ["{0x%X, 0x%X, 0x%X}," % c for c in compositions])
    out.append("};")
    out.append("const size_t unicode_composition_count = %d;" % len(compositions))
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ucd", default="/usr/share/unicode")
    parser.add_argument("--node", action="store_true",
                        help="marks, punctuation and symbols from Node's \\p{...} (newer Unicode)")
    parser.add_argument("--output", default="-")
    args = parser.parse_args()
    text = generate(args.ucd, args.node)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()

// UTF-8 coding, character classes and NFC over the generated tables (unicode-tables.c).

#include "unicode.h"

#include "unicode-tables.h"

#include <stdlib.h>
#include <string.h>

// ---- UTF-8 -----------------------------------------------------------------------

size_t utf8_decode(const char *s, size_t len, uint32_t *cp, bool *valid)
{
    const unsigned char *u = (const unsigned char *)s;
    *valid = true;
    if (len == 0) {
        *cp = 0xFFFD;
        *valid = false;
        return 0;
    }
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t value;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        value = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        value = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; // overlong
        else if (c == 0xED)
            hi = 0x9F; // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        value = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; // overlong
        else if (c == 0xF4)
            hi = 0x8F; // past U+10FFFF
    } else {
        goto invalid;
    }
    if (len < n || u[1] < lo || u[1] > hi)
        goto invalid;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            goto invalid;
        value = value << 6 | (u[i] & 0x3F);
    }
    *cp = value;
    return n;
invalid:
    *cp = 0xFFFD;
    *valid = false;
    return 1;
}

size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD; // not a scalar value: UTF-8 cannot carry it
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// ---- Character classes -------------------------------------------------------------

// The range holding CP in a sorted TABLE of COUNT entries, STRIDE bytes apart, that each
// begin with a UnicodeRange; NULL if none does.
static const UnicodeRange *find_range(const void *table, size_t count, size_t stride, uint32_t cp)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const UnicodeRange *r = (const UnicodeRange *)((const char *)table + mid * stride);
        if (cp < r->first)
            hi = mid;
        else if (cp > r->last)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static bool in_ranges(const UnicodeRange *ranges, size_t count, uint32_t cp)
{
    return find_range(ranges, count, sizeof *ranges, cp) != NULL;
}

bool unicode_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(unicode_letter_ranges, unicode_letter_range_count, cp);
}

bool unicode_is_number(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    return in_ranges(unicode_number_ranges, unicode_number_range_count, cp);
}

bool unicode_is_whitespace(uint32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= '\t' && cp <= '\r');
    return in_ranges(unicode_whitespace_ranges, unicode_whitespace_range_count, cp);
}

bool unicode_is_mark(uint32_t cp)
{
    return cp >= 0x300 && in_ranges(unicode_mark_ranges, unicode_mark_range_count, cp);
}

bool unicode_is_punctuation(uint32_t cp)
{
    return in_ranges(unicode_punctuation_ranges, unicode_punctuation_range_count, cp);
}

bool unicode_is_symbol(uint32_t cp)
{
    return in_ranges(unicode_symbol_ranges, unicode_symbol_range_count, cp);
}

// ---- NFC ---------------------------------------------------------------------------

enum {
    HANGUL_S_BASE = 0xAC00,
    HANGUL_L_BASE = 0x1100,
    HANGUL_V_BASE = 0x1161,
    HANGUL_T_BASE = 0x11A7,
    HANGUL_L_COUNT = 19,
    HANGUL_V_COUNT = 21,
    HANGUL_T_COUNT = 28,
    HANGUL_N_COUNT = HANGUL_V_COUNT * HANGUL_T_COUNT,
    HANGUL_S_COUNT = HANGUL_L_COUNT * HANGUL_N_COUNT,
    // No code point below this has a decomposition, a nonzero combining class or
    // takes part in a composition as the second character.
    NFC_INERT_BELOW = 0x300,
};

// Invalid input bytes travel through the pipeline as values above U+10FFFF: they have
// class 0, no decomposition and compose with nothing, and are written back unchanged.
#define RAW_BYTE_FLAG 0x80000000u

static uint8_t combining_class(uint32_t cp)
{
    if (cp < NFC_INERT_BELOW || cp > 0x10FFFF)
        return 0;
    const UnicodeRange *run =
        find_range(unicode_ccc_runs, unicode_ccc_run_count, sizeof *unicode_ccc_runs, cp);
    return run ? ((const UnicodeCccRun *)run)->ccc : 0; // RANGE is the run's first member
}

static const UnicodeDecomposition *find_decomposition(uint32_t cp)
{
    if (cp < 0xC0 || cp > 0x10FFFF)
        return NULL;
    size_t lo = 0, hi = unicode_decomposition_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < unicode_decompositions[mid].cp)
            hi = mid;
        else if (cp > unicode_decompositions[mid].cp)
            lo = mid + 1;
        else
            return &unicode_decompositions[mid];
    }
    return NULL;
}

// Writes the full canonical decomposition of CP to OUT (room for 4) if OUT is not NULL;
// returns its length.
static size_t decompose(uint32_t cp, uint32_t *out)
{
    if (cp >= HANGUL_S_BASE && cp < HANGUL_S_BASE + HANGUL_S_COUNT) {
        uint32_t s = cp - HANGUL_S_BASE;
        uint32_t t = s % HANGUL_T_COUNT;
        if (out) {
            out[0] = HANGUL_L_BASE + s / HANGUL_N_COUNT;
            out[1] = HANGUL_V_BASE + s % HANGUL_N_COUNT / HANGUL_T_COUNT;
            if (t)
                out[2] = HANGUL_T_BASE + t;
        }
        return t ? 3 : 2;
    }
    const UnicodeDecomposition *d = find_decomposition(cp);
    if (!d) {
        if (out)
            out[0] = cp;
        return 1;
    }
    if (out)
        memcpy(out, unicode_decomposition_data + d->offset, d->len * sizeof *out);
    return d->len;
}

// The primary composite of FIRST + SECOND, or 0.
static uint32_t compose(uint32_t first, uint32_t second)
{
    if (first >= HANGUL_L_BASE && first < HANGUL_L_BASE + HANGUL_L_COUNT &&
        second >= HANGUL_V_BASE && second < HANGUL_V_BASE + HANGUL_V_COUNT)
        return HANGUL_S_BASE +
               ((first - HANGUL_L_BASE) * HANGUL_V_COUNT + (second - HANGUL_V_BASE)) *
                   HANGUL_T_COUNT;
    if (first >= HANGUL_S_BASE && first < HANGUL_S_BASE + HANGUL_S_COUNT &&
        (first - HANGUL_S_BASE) % HANGUL_T_COUNT == 0 && second > HANGUL_T_BASE &&
        second < HANGUL_T_BASE + HANGUL_T_COUNT)
        return first + (second - HANGUL_T_BASE);
    if (second < NFC_INERT_BELOW || second > 0x10FFFF || first > 0x10FFFF)
        return 0;
    size_t lo = 0, hi = unicode_composition_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const UnicodeComposition *c = &unicode_compositions[mid];
        if (first < c->first || (first == c->first && second < c->second))
            hi = mid;
        else if (first > c->first || second > c->second)
            lo = mid + 1;
        else
            return c->composite;
    }
    return 0;
}

static uint32_t next_code_point(const char *s, size_t len, size_t *pos)
{
    uint32_t cp;
    bool valid;
    size_t n = utf8_decode(s + *pos, len - *pos, &cp, &valid);
    if (!valid)
        cp = RAW_BYTE_FLAG | (unsigned char)s[*pos];
    *pos += n;
    return cp;
}

// Stable sort by combining class of every run of non-starters. Runs are short in real
// text (insertion sort); a long hostile run gets a counting sort to stay linear.
static bool sort_non_starter_runs(uint32_t *cps, size_t n)
{
    uint32_t *scratch = NULL;
    for (size_t start = 0; start < n;) {
        if (combining_class(cps[start]) == 0) {
            start++;
            continue;
        }
        size_t end = start + 1;
        while (end < n && combining_class(cps[end]) != 0)
            end++;
        if (end - start <= 16) {
            for (size_t i = start + 1; i < end; i++) {
                uint32_t cp = cps[i];
                uint8_t cc = combining_class(cp);
                size_t j = i;
                while (j > start && combining_class(cps[j - 1]) > cc) {
                    cps[j] = cps[j - 1];
                    j--;
                }
                cps[j] = cp;
            }
        } else {
            if (!scratch && !(scratch = malloc(n * sizeof *scratch)))
                return false;
            size_t first_of_class[257] = {0};
            for (size_t i = start; i < end; i++)
                first_of_class[combining_class(cps[i]) + 1]++;
            for (int c = 1; c <= 256; c++)
                first_of_class[c] += first_of_class[c - 1];
            for (size_t i = start; i < end; i++)
                scratch[first_of_class[combining_class(cps[i])]++] = cps[i];
            memcpy(cps + start, scratch, (end - start) * sizeof *cps);
        }
        start = end;
    }
    free(scratch);
    return true;
}

char *unicode_nfc(const char *s, size_t len, size_t *out_len)
{
    // Text made only of code points below U+0300 is already in NFC (the common case).
    size_t pos = 0, n_decomposed = 0;
    bool inert = true;
    while (pos < len) {
        uint32_t cp = next_code_point(s, len, &pos);
        if (cp >= NFC_INERT_BELOW && cp <= 0x10FFFF)
            inert = false;
        n_decomposed += decompose(cp, NULL);
    }
    if (inert) {
        char *copy = malloc(len + 1);
        if (!copy)
            return NULL;
        memcpy(copy, s, len);
        copy[len] = '\0';
        *out_len = len;
        return copy;
    }

    // 1. Full canonical decomposition.
    uint32_t *cps = malloc((n_decomposed ? n_decomposed : 1) * sizeof *cps);
    if (!cps)
        return NULL;
    size_t n = 0;
    for (pos = 0; pos < len;)
        n += decompose(next_code_point(s, len, &pos), cps + n);

    // 2. Canonical ordering: stable sort of each run of non-starters by class.
    if (!sort_non_starter_runs(cps, n)) {
        free(cps);
        return NULL;
    }

    // 3. Canonical composition: each character joins the last starter unless a
    // character between them blocks it (class 0, or a class not below its own).
    size_t kept = 0;
    size_t starter = SIZE_MAX;
    int last_class = -1; // class of the last kept character after the starter; -1: none
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        uint8_t cc = combining_class(cp);
        if (starter != SIZE_MAX && (last_class < 0 || last_class < cc)) {
            uint32_t composite = compose(cps[starter], cp);
            if (composite) {
                cps[starter] = composite;
                continue;
            }
        }
        if (cc == 0) {
            starter = kept;
            last_class = -1;
        } else {
            last_class = cc;
        }
        cps[kept++] = cp;
    }

    char *out = malloc(kept * 4 + 1);
    if (!out) {
        free(cps);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < kept; i++) {
        if (cps[i] & RAW_BYTE_FLAG)
            out[o++] = (char)(cps[i] & 0xFF);
        else
            o += utf8_encode(cps[i], out + o);
    }
    out[o] = '\0';
    free(cps);
    *out_len = o;
    return out;
}

// Unicode support: UTF-8 coding, character classes, NFC against the Unicode
// Consortium's NormalizationTest.txt, and the committed tables against a fresh run of
// tools/gen-unicode-tables.py (both need Debian's unicode-data in /usr/share/unicode).

#include "test-util.h"
#include "tokenizer/unicode.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UCD_DIR "/usr/share/unicode"

static void test_utf8(void)
{
    struct {
        const char *bytes;
        size_t len;
        uint32_t cp;
        size_t consumed;
        bool valid;
    } cases[] = {
        {"A", 1, 'A', 1, true},
        {"\xC3\xA9", 2, 0xE9, 2, true},
        {"\xE4\xB8\xAD", 3, 0x4E2D, 3, true},
        {"\xF0\x9F\xA6\x99", 4, 0x1F999, 4, true},
        {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF, 4, true},
        {"\xC3", 1, 0xFFFD, 1, false},             // truncated
        {"\xE4\xB8", 2, 0xFFFD, 1, false},         // truncated
        {"\x80", 1, 0xFFFD, 1, false},             // lone continuation
        {"\xC0\x80", 2, 0xFFFD, 1, false},         // overlong
        {"\xE0\x80\x80", 3, 0xFFFD, 1, false},     // overlong
        {"\xED\xA0\x80", 3, 0xFFFD, 1, false},     // surrogate
        {"\xF4\x90\x80\x80", 4, 0xFFFD, 1, false}, // past U+10FFFF
        {"\xF8\x88\x80\x80\x80", 5, 0xFFFD, 1, false},
        {"\xC3\x28", 2, 0xFFFD, 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint32_t cp;
        bool valid;
        size_t n = utf8_decode(cases[i].bytes, cases[i].len, &cp, &valid);
        CHECKF(n == cases[i].consumed && cp == cases[i].cp && valid == cases[i].valid,
               "case %zu: got %zu bytes, U+%04X, valid %d", i, n, cp, valid);
    }
    // Round trip of every scalar value.
    int bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char buf[4];
        size_t n = utf8_encode(cp, buf);
        uint32_t back;
        bool valid;
        if (utf8_decode(buf, n, &back, &valid) != n || back != cp || !valid)
            bad++;
    }
    CHECKF(bad == 0, "%d code points do not round-trip", bad);
    char buf[4];
    CHECK(utf8_encode(0xD800, buf) == 3 && memcmp(buf, "\xEF\xBF\xBD", 3) == 0);
}

static void test_classes(void)
{
    // Spot checks from the Unicode Standard (independent of the generated tables).
    const uint32_t letters[] = {'a',   'Z',    0xAA,   0xE9,   0x3A9, 0x436, 0x5D0,   0x627,
                                0x905, 0x4E2D, 0xAC00, 0x3042, 0x1F0, 0x2B5, 0x20000, 0x31350};
    const uint32_t numbers[] = {'0',    '9',    0xB2,   0xBD,    0x663,  0x967,
                                0x2163, 0x3007, 0xFF11, 0x1D7CE, 0x1F100};
    const uint32_t spaces[] = {' ',    '\t',   '\n',   0x0B,   0x0C,   '\r',   0x85,   0xA0,
                               0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    const uint32_t others[] = {'_',     '-',    '!',    0x300,  0x2019,   0x200B, 0x200D, 0xFEFF,
                               0x1F600, 0xFFFD, 0xE000, 0x180E, 0x10FFFF, 0x1C,   0x1F};
    for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
        CHECKF(unicode_is_letter(letters[i]) && !unicode_is_number(letters[i]) &&
                   !unicode_is_whitespace(letters[i]),
               "U+%04X", letters[i]);
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        CHECKF(unicode_is_number(numbers[i]) && !unicode_is_letter(numbers[i]), "U+%04X",
               numbers[i]);
    for (size_t i = 0; i < sizeof spaces / sizeof *spaces; i++)
        CHECKF(unicode_is_whitespace(spaces[i]) && !unicode_is_letter(spaces[i]), "U+%04X",
               spaces[i]);
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        CHECKF(!unicode_is_letter(others[i]) && !unicode_is_number(others[i]) &&
                   !unicode_is_whitespace(others[i]),
               "U+%04X", others[i]);
}

static bool nfc_equals(const char *in, size_t len, const char *expected, size_t expected_len)
{
    size_t n;
    char *out = unicode_nfc(in, len, &n);
    bool ok = out && n == expected_len && memcmp(out, expected, n) == 0 && out[n] == '\0';
    free(out);
    return ok;
}

static void test_nfc_basics(void)
{
    // e + combining acute -> é; Hangul jamo compose; an excluded composite stays apart.
    CHECK(nfc_equals("e\xCC\x81", 3, "\xC3\xA9", 2));
    CHECK(nfc_equals("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", 9, "\xEA\xB0\x81", 3)); // 각
    CHECK(nfc_equals("\xE0\xA4\x95\xE0\xA4\xBC", 6, "\xE0\xA4\x95\xE0\xA4\xBC", 6));
    CHECK(nfc_equals("\xE2\x84\xAB", 3, "\xC3\x85", 2)); // Angstrom sign -> Å
    CHECK(nfc_equals("plain ascii", 11, "plain ascii", 11));
    CHECK(nfc_equals("", 0, "", 0));
    // Invalid bytes pass through unchanged, and do not join their neighbours.
    CHECK(nfc_equals("e\xFF\xCC\x81", 4, "e\xFF\xCC\x81", 4));
    CHECK(nfc_equals("\xC3\x28 a\xCC\x81\x80", 7, "\xC3\x28 \xC3\xA1\x80", 6));

    // A hostile run of combining marks in descending class order stays linear.
    size_t marks = 200000;
    char *text = malloc(1 + marks * 2);
    text[0] = 'a';
    for (size_t i = 0; i < marks; i++) {
        // U+0301 (class 230) then U+0316 (class 220), alternating.
        text[1 + 2 * i] = '\xCC';
        text[2 + 2 * i] = i % 2 ? '\x96' : '\x81';
    }
    clock_t t0 = clock();
    size_t n;
    char *out = unicode_nfc(text, 1 + marks * 2, &n);
    double elapsed = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(out != NULL && n == 1 + marks * 2 - 1); // 'a' + U+0316... and U+0301 -> á
    CHECKF(elapsed < 2.0, "NFC of %zu marks took %.2f s", marks, elapsed);
    free(out);
    free(text);
}

// Parses "0044 0307" into UTF-8.
static size_t hex_field_to_utf8(const char *field, char *out)
{
    size_t n = 0;
    char *end;
    for (const char *p = field; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        unsigned long cp = strtoul(p, &end, 16);
        if (end == p)
            break;
        n += utf8_encode((uint32_t)cp, out + n);
        p = end;
    }
    out[n] = '\0';
    return n;
}

static void test_normalization_file(void)
{
    if (access(UCD_DIR "/NormalizationTest.txt.bz2", R_OK) != 0) {
        printf("note: skipped NormalizationTest: " UCD_DIR
               "/NormalizationTest.txt.bz2 missing (apt-get install unicode-data)\n");
        return;
    }
    // python3 is a build dependency (its bz2 module is in the standard library); bzcat
    // is the fallback.
    FILE *f = popen("{ python3 -c 'import bz2, sys; sys.stdout.buffer.write(bz2.open(sys.argv[1])"
                    ".read())' " UCD_DIR "/NormalizationTest.txt.bz2 || bzcat " UCD_DIR
                    "/NormalizationTest.txt.bz2; } 2>/dev/null",
                    "r");
    if (!f) {
        printf("note: skipped NormalizationTest: cannot start a shell\n");
        return;
    }
    static char listed[0x110000]; // code points of part 1 (tested with their own line)
    char line[2048], col[5][256];
    size_t lines = 0, failures = 0;
    int part = -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '@') {
            part = atoi(line + 5);
            continue;
        }
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *fields[5], *p = line;
        bool ok = true;
        for (int i = 0; i < 5 && ok; i++) {
            char *semi = strchr(p, ';');
            if (!semi) {
                ok = false;
                break;
            }
            *semi = '\0';
            fields[i] = p;
            p = semi + 1;
        }
        if (!ok)
            continue;
        size_t len[5];
        for (int i = 0; i < 5; i++)
            len[i] = hex_field_to_utf8(fields[i], col[i]);
        if (part == 1 && !strchr(fields[0], ' '))
            listed[strtoul(fields[0], NULL, 16)] = 1;
        // NFC: c2 == toNFC(c1) == toNFC(c2) == toNFC(c3); c4 == toNFC(c4) == toNFC(c5)
        bool pass = nfc_equals(col[0], len[0], col[1], len[1]) &&
                    nfc_equals(col[1], len[1], col[1], len[1]) &&
                    nfc_equals(col[2], len[2], col[1], len[1]) &&
                    nfc_equals(col[3], len[3], col[3], len[3]) &&
                    nfc_equals(col[4], len[4], col[3], len[3]);
        if (!pass && failures++ < 5)
            fprintf(stderr, "NormalizationTest line fails: %s;%s;%s\n", fields[0], fields[1],
                    fields[2]);
        lines++;
    }
    pclose(f);
    if (lines == 0) {
        printf("note: skipped NormalizationTest: neither python3 nor bzcat could decompress it\n");
        return;
    }
    CHECKF(lines > 18000, "only %zu test lines read", lines);
    CHECKF(failures == 0, "%zu of %zu NormalizationTest lines fail", failures, lines);
    // Part 1's rule: every code point not listed there is its own NFC.
    size_t unlisted_failures = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF && lines; cp++) {
        if (listed[cp] || (cp >= 0xD800 && cp <= 0xDFFF))
            continue;
        char buf[4];
        size_t n = utf8_encode(cp, buf);
        if (!nfc_equals(buf, n, buf, n) && unlisted_failures++ < 5)
            fprintf(stderr, "NFC changes unlisted U+%04X\n", cp);
    }
    CHECKF(unlisted_failures == 0, "%zu unlisted code points change", unlisted_failures);
    printf("NormalizationTest: %zu lines, %zu failures\n", lines, failures);
}

// The committed tables must be what the generator makes of the installed database.
static void test_tables_are_current(void)
{
    if (access(UCD_DIR "/UnicodeData.txt", R_OK) != 0) {
        printf("note: skipped the table regeneration check: " UCD_DIR
               "/UnicodeData.txt missing (apt-get install unicode-data)\n");
        return;
    }
    // the mark/punctuation/symbol ranges come from Node's \\p{...} (see the generator)
    if (system("command -v node >/dev/null 2>&1") != 0) {
        printf("note: skipped the table regeneration check: node is missing (the script takes "
               "\\p{M}, \\p{P}, \\p{S} from Node)\n");
        return;
    }
    char command[8192];
    snprintf(command, sizeof command, "python3 '%s' --node --ucd " UCD_DIR " 2>&1",
             test_source_path("tools/gen-unicode-tables.py"));
    FILE *f = popen(command, "r");
    if (!f) {
        printf("note: skipped the table regeneration check: cannot run python3\n");
        return;
    }
    size_t cap = 1 << 20, n = 0;
    char *fresh = malloc(cap);
    size_t got;
    while (fresh && (got = fread(fresh + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            fresh = realloc(fresh, cap *= 2);
    }
    int status = pclose(f);
    if (status != 0 && n < 100) {
        printf("note: skipped the table regeneration check: python3 failed\n");
        free(fresh);
        return;
    }
    size_t committed_len;
    char *committed =
        test_read_file(test_source_path("inference/tokenizer/unicode-tables.c"), &committed_len);
    CHECKF(committed != NULL, "cannot read inference/tokenizer/unicode-tables.c");
    CHECKF(
        committed && fresh && n == committed_len && memcmp(fresh, committed, n) == 0,
        "inference/tokenizer/unicode-tables.c differs from what tools/gen-unicode-tables.py writes "
        "(%zu vs %zu bytes): regenerate and commit it",
        n, committed_len);
    free(committed);
    free(fresh);
}

int main(void)
{
    test_utf8();
    test_classes();
    test_nfc_basics();
    test_normalization_file();
    test_tables_are_current();
    return test_finish();
}

// The pre-tokenizer regexes as scanners. Each alternative of the pattern is tried in
// order at the piece start, as a backtracking regex engine would; the comments show
// where backtracking decides the outcome.

#include "pretokenize.h"

#include "unicode.h"

typedef enum CharClass {
    CLASS_OTHER,  // [^\s\p{L}\p{N}]
    CLASS_LETTER, // \p{L}
    CLASS_NUMBER, // \p{N}
    CLASS_SPACE,  // \s
} CharClass;

typedef struct Char {
    uint32_t cp;
    size_t end; // byte offset just past the character
    CharClass cls;
} Char;

static CharClass classify(uint32_t cp)
{
    if (unicode_is_letter(cp))
        return CLASS_LETTER;
    if (unicode_is_number(cp))
        return CLASS_NUMBER;
    if (unicode_is_whitespace(cp))
        return CLASS_SPACE;
    return CLASS_OTHER;
}

// The character at POS < LEN. An invalid byte is a one-byte character of class OTHER.
static Char char_at(const char *text, size_t len, size_t pos)
{
    Char c;
    bool valid;
    c.end = pos + utf8_decode(text + pos, len - pos, &c.cp, &valid);
    c.cls = valid ? classify(c.cp) : CLASS_OTHER;
    return c;
}

static bool is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

static size_t run_end(const char *text, size_t len, size_t pos, CharClass cls)
{
    while (pos < len) {
        Char c = char_at(text, len, pos);
        if (c.cls != cls)
            break;
        pos = c.end;
    }
    return pos;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) after the apostrophe (at POS): the end, or 0. Oniguruma
// matches case-insensitively by Unicode case folding, under which U+017F (long s) is 's'.
static size_t contraction_end(const char *text, size_t len, size_t pos)
{
    if (pos >= len)
        return 0;
    Char c1 = char_at(text, len, pos);
    uint32_t a = c1.cp < 0x80 ? (c1.cp | 0x20) : c1.cp;
    if (a == 's' || a == 0x17F || a == 't' || a == 'm' || a == 'd')
        return c1.end;
    if (c1.end >= len || (a != 'r' && a != 'v' && a != 'l'))
        return 0;
    uint32_t b = (unsigned char)text[c1.end] | 0x20;
    if (((a == 'r' || a == 'v') && b == 'e') || (a == 'l' && b == 'l'))
        return c1.end + 1;
    return 0;
}

size_t pretokenize_piece_end(TokenizerPre pre, const char *text, size_t len, size_t pos)
{
    Char c0 = char_at(text, len, pos);

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c0.cp == '\'') {
        size_t end = contraction_end(text, len, c0.end);
        if (end)
            return end;
    }

    // [^\r\n\p{L}\p{N}]?\p{L}+ : with the optional character taken, a letter must follow;
    // without it (backtracking), C0 itself must be a letter.
    if (c0.cls == CLASS_LETTER)
        return run_end(text, len, c0.end, CLASS_LETTER);
    if (c0.cls != CLASS_NUMBER && !is_newline(c0.cp) && c0.end < len) {
        Char c1 = char_at(text, len, c0.end);
        if (c1.cls == CLASS_LETTER)
            return run_end(text, len, c1.end, CLASS_LETTER);
    }

    // \p{N} (Qwen2) or \p{N}{1,3} (Llama 3)
    if (c0.cls == CLASS_NUMBER) {
        size_t end = c0.end;
        for (int more = pre == TOKENIZER_PRE_LLAMA3 ? 2 : 0; more > 0 && end < len; more--) {
            Char c = char_at(text, len, end);
            if (c.cls != CLASS_NUMBER)
                break;
            end = c.end;
        }
        return end;
    }

    // " ?[^\s\p{L}\p{N}]+[\r\n]*" : the optional space only when a symbol follows it.
    size_t symbols = pos;
    if (c0.cp == ' ' && c0.end < len && char_at(text, len, c0.end).cls == CLASS_OTHER)
        symbols = c0.end;
    if (symbols != pos || c0.cls == CLASS_OTHER) {
        size_t end = run_end(text, len, symbols, CLASS_OTHER);
        while (end < len && is_newline((unsigned char)text[end]))
            end++;
        return end;
    }

    // C0 is whitespace. Scan its run once for the three remaining alternatives.
    size_t end = pos, last_start = pos, newline_end = 0;
    while (end < len) {
        Char c = char_at(text, len, end);
        if (c.cls != CLASS_SPACE)
            break;
        if (is_newline(c.cp))
            newline_end = c.end;
        last_start = end;
        end = c.end;
    }
    // \s*[\r\n]+ : \s* gives back characters until the rest starts at a CR/LF, so the
    // piece ends just after the run's last CR/LF.
    if (newline_end)
        return newline_end;
    // \s+(?!\S) : at the end of the text the whole run; before a non-space, the run
    // minus its last character (which then starts the next piece), if that leaves any.
    if (end == len || last_start > pos)
        return end == len ? end : last_start;
    // \s+
    return end;
}

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

static bool is_newline(uint32_t cp)
{
    return cp == '\r' || cp == '\n';
}

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

// ---- DeepSeek-V3 ------------------------------------------------------------------------

static bool is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF);
}

// An invalid byte counts as U+FFFD would: a symbol.
static uint32_t ds_char(const char *text, size_t len, size_t pos, size_t *end, bool *valid)
{
    uint32_t cp;
    *end = pos + utf8_decode(text + pos, len - pos, &cp, valid);
    return *valid ? cp : 0xFFFD;
}

static bool is_letter_or_mark(uint32_t cp)
{
    return unicode_is_letter(cp) || unicode_is_mark(cp);
}
static bool is_punct_or_symbol(uint32_t cp)
{
    return unicode_is_punctuation(cp) || unicode_is_symbol(cp);
}

static size_t ds_run_end(const char *text, size_t len, size_t pos, bool (*in_class)(uint32_t))
{
    while (pos < len) {
        bool valid;
        size_t end;
        uint32_t cp = ds_char(text, len, pos, &end, &valid);
        if (!in_class(cp))
            break;
        pos = end;
    }
    return pos;
}

// The main split's match at POS within [0, LEN) (LEN is the end of the piece the earlier
// splits left), or 0 when no alternative matches at POS.
static size_t ds_main_match(const char *text, size_t len, size_t pos)
{
    bool valid;
    size_t e0, e1 = 0;
    uint32_t c0 = ds_char(text, len, pos, &e0, &valid), c1 = 0;
    bool has_c1 = e0 < len;
    if (has_c1)
        c1 = ds_char(text, len, e0, &e1, &valid);

    // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+ : ASCII punctuation, ASCII letters
    bool ascii_punct = c0 < 0x80 && c0 > ' ' && c0 < 0x7F && !(c0 >= '0' && c0 <= '9') &&
                       !((c0 | 0x20) >= 'a' && (c0 | 0x20) <= 'z');
    if (ascii_punct && has_c1 && c1 < 0x80 && (c1 | 0x20) >= 'a' && (c1 | 0x20) <= 'z') {
        size_t end = e1;
        while (end < len && (unsigned char)text[end] < 0x80 &&
               ((text[end] | 0x20) >= 'a' && (text[end] | 0x20) <= 'z'))
            end++;
        return end;
    }
    // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : with the optional character taken a letter
    // or mark must follow; without it (backtracking) C0 must be one.
    bool optional_ok = !is_newline(c0) && !unicode_is_letter(c0) && !is_punct_or_symbol(c0);
    if (optional_ok && has_c1 && is_letter_or_mark(c1))
        return ds_run_end(text, len, e1, is_letter_or_mark);
    if (is_letter_or_mark(c0))
        return ds_run_end(text, len, e0, is_letter_or_mark);
    // " ?[\p{P}\p{S}]+[\r\n]*" : the optional space only when punctuation follows it
    size_t symbols = 0;
    if (c0 == ' ' && has_c1 && is_punct_or_symbol(c1))
        symbols = e0;
    else if (is_punct_or_symbol(c0))
        symbols = pos;
    if (symbols || is_punct_or_symbol(c0)) {
        size_t end = ds_run_end(text, len, symbols, is_punct_or_symbol);
        while (end < len && is_newline((unsigned char)text[end]))
            end++;
        return end;
    }
    if (!unicode_is_whitespace(c0))
        return 0;
    // the whitespace alternatives, as for Qwen2 below
    size_t end = pos, last_start = pos, newline_end = 0;
    while (end < len) {
        size_t next;
        uint32_t cp = ds_char(text, len, end, &next, &valid);
        if (!valid || !unicode_is_whitespace(cp))
            break;
        if (is_newline(cp))
            newline_end = next;
        last_start = end;
        end = next;
    }
    if (newline_end)
        return newline_end;
    if (end == len || last_start > pos)
        return end == len ? end : last_start;
    return end;
}

static size_t deepseek_v3_piece_end(const char *text, size_t len, size_t pos)
{
    // the first two splits: a run of 1-3 digits, or a CJK run, is a piece of its own; other
    // text reaches up to the next digit or CJK character
    bool valid;
    size_t end;
    uint32_t cp = ds_char(text, len, pos, &end, &valid);
    if (valid && unicode_is_number(cp)) {
        for (int more = 2; more > 0 && end < len; more--) {
            size_t next;
            uint32_t c = ds_char(text, len, end, &next, &valid);
            if (!valid || !unicode_is_number(c))
                break;
            end = next;
        }
        return end; // the main split matches nothing in digits: the piece stays whole
    }
    bool cjk = valid && is_cjk(cp);
    size_t limit = end;
    while (limit < len) {
        size_t next;
        uint32_t c = ds_char(text, len, limit, &next, &valid);
        bool c_cjk = valid && is_cjk(c);
        if (cjk ? !c_cjk : (c_cjk || (valid && unicode_is_number(c))))
            break;
        limit = next;
    }
    // the main split within [pos, limit): a match, or the gap up to the next match
    size_t match = ds_main_match(text, limit, pos);
    if (match)
        return match;
    size_t gap = end;
    while (gap < limit && !ds_main_match(text, limit, gap))
        gap += utf8_decode(text + gap, limit - gap, &cp, &valid);
    return gap;
}

size_t pretokenize_piece_end(TokenizerPre pre, const char *text, size_t len, size_t pos)
{
    if (pre == TOKENIZER_PRE_DEEPSEEK_V3)
        return deepseek_v3_piece_end(text, len, pos);
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

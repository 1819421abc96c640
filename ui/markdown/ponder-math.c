// Two small parsers. The scanner walks Markdown once, line by line (to skip fenced code) and
// byte by byte (to skip code spans and escapes), and never looks past the paragraph it is in:
// a formula cannot span a blank line, which also lets the view protect one block at a time.
// The TeX reader is a recursive descent over tokens, writing markup as it goes; it knows the
// few hundred commands R1 uses and leaves any other one as written.
#include "ponder-math.h"

#include <string.h>

// Unicode's private-use area: text a model writes almost never holds these characters, and
// the one chosen as sentinel is checked to be absent.
#define PRIVATE_USE_FIRST 0xE000
#define PRIVATE_USE_LAST 0xF8FF

// Deeper nesting than any real formula; beyond it the rest is shown as written, so a hostile
// `{{{{…` cannot exhaust the stack.
#define MAX_TEX_DEPTH 64

static void math_span_free(gpointer data)
{
    PonderMathSpan *span = data;
    g_free(span->tex);
    g_free(span->source);
    g_free(span);
}

void ponder_math_text_free(PonderMathText *math)
{
    if (!math)
        return;
    g_free(math->text);
    g_ptr_array_unref(math->spans);
    g_free(math);
}

static gunichar choose_sentinel(const char *text, gsize length)
{
    enum { N_PRIVATE = PRIVATE_USE_LAST - PRIVATE_USE_FIRST + 1 };
    guint8 seen[(N_PRIVATE + 7) / 8] = {0};
    const char *p = text, *end = text + length;
    while (p < end) {
        gunichar c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            p++;
            continue;
        }
        if (c >= PRIVATE_USE_FIRST && c <= PRIVATE_USE_LAST)
            seen[(c - PRIVATE_USE_FIRST) / 8] |= 1u << ((c - PRIVATE_USE_FIRST) % 8);
        p = g_utf8_next_char(p);
    }
    for (gunichar c = PRIVATE_USE_FIRST; c <= PRIVATE_USE_LAST; c++)
        if (!(seen[(c - PRIVATE_USE_FIRST) / 8] & (1u << ((c - PRIVATE_USE_FIRST) % 8))))
            return c;
    return 0; // every one is taken: nothing gets protected
}

gsize ponder_math_code_fence(const char *line, gsize length, char *fence_char, gboolean *bare)
{
    gsize i = 0;
    while (i < length && i < 3 && line[i] == ' ')
        i++;
    if (i >= length || (line[i] != '`' && line[i] != '~'))
        return 0;
    char c = line[i];
    gsize run = 0;
    while (i + run < length && line[i + run] == c)
        run++;
    if (run < 3)
        return 0;
    const char *rest = line + i + run;
    gsize rest_length = length - i - run;
    // CommonMark: a backtick fence's info string may not hold a backtick (it is a code span).
    if (c == '`' && memchr(rest, '`', rest_length))
        return 0;
    gboolean only_spaces = TRUE;
    for (gsize k = 0; k < rest_length; k++)
        if (rest[k] != ' ' && rest[k] != '\t' && rest[k] != '\r')
            only_spaces = FALSE;
    *fence_char = c;
    *bare = only_spaces;
    return run;
}

typedef struct {
    const char *text;
    gsize length;
    GString *out;
    PonderMathText *math;
    char sentinel[8];
} Scanner;

// Where the paragraph holding POS ends: the start of the next blank line, or the end.
static gsize find_paragraph_end(const char *text, gsize length, gsize pos)
{
    gsize i = pos;
    for (;;) {
        const char *newline = memchr(text + i, '\n', length - i);
        if (!newline)
            return length;
        gsize next_line = newline - text + 1;
        gsize j = next_line;
        while (j < length && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r'))
            j++;
        if (j >= length || text[j] == '\n')
            return next_line;
        i = next_line;
    }
}

static gboolean is_escaped(const char *text, gsize pos, gsize floor)
{
    gsize backslashes = 0;
    while (pos > floor && text[pos - 1] == '\\') {
        backslashes++;
        pos--;
    }
    return backslashes % 2 == 1;
}

static gboolean is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The first unescaped NEEDLE in TEXT[from, to), or G_MAXSIZE.
static gsize find_unescaped(const char *text, gsize from, gsize to, const char *needle)
{
    gsize needle_length = strlen(needle);
    for (gsize i = from; i + needle_length <= to; i++)
        if (memcmp(text + i, needle, needle_length) == 0 && !is_escaped(text, i, from))
            return i;
    return G_MAXSIZE;
}

// The brace closing the one at OPEN, skipping escaped braces, or G_MAXSIZE.
static gsize find_closing_brace(const char *text, gsize open, gsize to)
{
    guint depth = 0;
    for (gsize i = open; i < to; i++) {
        if (text[i] == '\\') {
            i++;
            continue;
        }
        if (text[i] == '{')
            depth++;
        else if (text[i] == '}' && --depth == 0)
            return i;
    }
    return G_MAXSIZE;
}

static void add_span(Scanner *s, PonderMathLayout layout, gsize start, gsize end, gsize tex_start,
                     gsize tex_end)
{
    PonderMathSpan *span = g_new0(PonderMathSpan, 1);
    span->layout = layout;
    span->tex = g_strndup(s->text + tex_start, tex_end - tex_start);
    span->source = g_strndup(s->text + start, end - start);
    g_string_append(s->out, s->sentinel);
    g_string_append_printf(s->out, "%u", s->math->spans->len);
    g_string_append(s->out, s->sentinel);
    g_ptr_array_add(s->math->spans, span);
}

// A `$…$` closer (Pandoc's rule, which keeps prices apart): not escaped, after a non-space,
// not before a digit.
static gsize find_inline_dollar_closer(const char *text, gsize from, gsize to)
{
    for (gsize i = from; i < to; i++) {
        if (text[i] != '$' || is_escaped(text, i, from) || is_space(text[i - 1]))
            continue;
        if (i + 1 < to && g_ascii_isdigit(text[i + 1]))
            continue;
        return i;
    }
    return G_MAXSIZE;
}

// Scans from POS (not at a line start) up to the next newline; returns where it stopped.
static gsize scan_line(Scanner *s, gsize pos)
{
    const char *t = s->text;
    gsize length = s->length;
    gsize paragraph_end = find_paragraph_end(t, length, pos);
    while (pos < length && t[pos] != '\n') {
        char c = t[pos];
        char next = pos + 1 < length ? t[pos + 1] : '\0';
        if (c == '\\' && (next == '[' || next == '(')) {
            gsize closer = find_unescaped(t, pos + 2, paragraph_end, next == '[' ? "\\]" : "\\)");
            if (closer != G_MAXSIZE) {
                add_span(s, next == '[' ? PONDER_MATH_DISPLAY : PONDER_MATH_INLINE, pos, closer + 2,
                         pos + 2, closer);
                pos = closer + 2;
            } else {
                // Unclosed (often still streaming): keep the backslash md4c would eat.
                g_string_append(s->out, "\\\\");
                g_string_append_c(s->out, next);
                pos += 2;
            }
        } else if (c == '\\' && g_str_has_prefix(t + pos, "\\boxed{")) {
            gsize close = find_closing_brace(t, pos + 6, paragraph_end);
            if (close != G_MAXSIZE) {
                add_span(s, PONDER_MATH_INLINE, pos, close + 1, pos, close + 1);
                pos = close + 1;
            } else {
                g_string_append_c(s->out, c);
                pos++;
            }
        } else if (c == '\\') {
            // An escape: `\$` is a dollar, `\\` a backslash, `` \` `` a backtick. A backslash
            // before the newline (a hard break) leaves the newline to the caller.
            g_string_append_c(s->out, c);
            pos++;
            if (next != '\0' && next != '\n') {
                g_string_append_c(s->out, next);
                pos++;
            }
        } else if (c == '`') {
            gsize run = 0;
            while (pos + run < length && t[pos + run] == '`')
                run++;
            // The code span ends at a run of exactly as many backticks.
            gsize end = G_MAXSIZE;
            for (gsize i = pos + run; i < paragraph_end;) {
                if (t[i] != '`') {
                    i++;
                    continue;
                }
                gsize other = 0;
                while (i + other < paragraph_end && t[i + other] == '`')
                    other++;
                if (other == run) {
                    end = i + other;
                    break;
                }
                i += other;
            }
            if (end == G_MAXSIZE)
                end = pos + run; // no closer: the backticks are text
            g_string_append_len(s->out, t + pos, end - pos);
            pos = end;
        } else if (c == '$' && next == '$') {
            gsize closer = find_unescaped(t, pos + 2, paragraph_end, "$$");
            gboolean empty = TRUE;
            for (gsize i = pos + 2; closer != G_MAXSIZE && i < closer; i++)
                if (!is_space(t[i]))
                    empty = FALSE;
            if (closer != G_MAXSIZE && !empty) {
                add_span(s, PONDER_MATH_DISPLAY, pos, closer + 2, pos + 2, closer);
                pos = closer + 2;
            } else {
                g_string_append(s->out, "$$");
                pos += 2;
            }
        } else if (c == '$' && next != '\0' && !is_space(next)) {
            gsize closer = find_inline_dollar_closer(t, pos + 1, paragraph_end);
            if (closer != G_MAXSIZE) {
                add_span(s, PONDER_MATH_INLINE, pos, closer + 1, pos + 1, closer);
                pos = closer + 1;
            } else {
                g_string_append_c(s->out, c);
                pos++;
            }
        } else {
            g_string_append_c(s->out, c);
            pos++;
        }
    }
    return pos;
}

PonderMathText *ponder_math_protect(const char *markdown, gssize length)
{
    gsize size = length < 0 ? strlen(markdown) : (gsize)length;
    PonderMathText *math = g_new0(PonderMathText, 1);
    math->spans = g_ptr_array_new_with_free_func(math_span_free);
    math->sentinel = choose_sentinel(markdown, size);
    if (!math->sentinel) {
        math->text = g_strndup(markdown, size);
        math->length = size;
        return math;
    }

    Scanner s = {
        .text = markdown, .length = size, .out = g_string_sized_new(size + 16), .math = math};
    s.sentinel[g_unichar_to_utf8(math->sentinel, s.sentinel)] = '\0';

    char fence_char = 0;
    gsize fence_length = 0; // of the open fence; 0 outside fenced code
    gsize pos = 0;
    while (pos < size) {
        const char *newline = memchr(markdown + pos, '\n', size - pos);
        gsize line_length = newline ? (gsize)(newline - (markdown + pos)) : size - pos;
        char c = 0;
        gboolean bare = FALSE;
        gsize run = ponder_math_code_fence(markdown + pos, line_length, &c, &bare);
        if (fence_length > 0 || run > 0) {
            if (fence_length == 0) {
                fence_length = run;
                fence_char = c;
            } else if (run >= fence_length && c == fence_char && bare) {
                fence_length = 0;
            }
            g_string_append_len(s.out, markdown + pos, line_length);
            pos += line_length;
        } else {
            pos = scan_line(&s, pos);
        }
        if (pos < size) {
            g_string_append_c(s.out, '\n');
            pos++;
        }
    }
    math->length = s.out->len;
    math->text = g_string_free(s.out, FALSE);
    return math;
}

const char *ponder_math_text_find(const PonderMathText *math, const char *text, gsize length,
                                  gsize *token_length, const PonderMathSpan **span)
{
    if (!math->sentinel)
        return NULL;
    char sentinel[8];
    gsize sentinel_length = g_unichar_to_utf8(math->sentinel, sentinel);
    const char *end = text + length;
    const char *p = text;
    while (p < end) {
        const char *open = memmem(p, end - p, sentinel, sentinel_length);
        if (!open)
            return NULL;
        const char *digits = open + sentinel_length;
        const char *q = digits;
        guint64 index = 0;
        while (q < end && g_ascii_isdigit(*q) && index <= G_MAXUINT)
            index = index * 10 + (*q++ - '0');
        if (q > digits && (gsize)(end - q) >= sentinel_length &&
            memcmp(q, sentinel, sentinel_length) == 0 && index < math->spans->len) {
            *token_length = q + sentinel_length - open;
            *span = g_ptr_array_index(math->spans, index);
            return open;
        }
        p = digits; // a stray sentinel (a token cut in two): look further
    }
    return NULL;
}

char *ponder_math_text_restore(const PonderMathText *math, const char *text, gsize length)
{
    GString *out = g_string_sized_new(length);
    const char *p = text, *end = text + length;
    gsize token_length;
    const PonderMathSpan *span;
    const char *token;
    while ((token = ponder_math_text_find(math, p, end - p, &token_length, &span))) {
        g_string_append_len(out, p, token - p);
        g_string_append(out, span->source);
        p = token + token_length;
    }
    g_string_append_len(out, p, end - p);
    return g_string_free(out, FALSE);
}

// --- TeX to markup ---------------------------------------------------------------------------

typedef struct {
    const char *name;
    const char *text;
} Symbol;

// Commands that stand for one symbol (or a word set upright, like \sin).
// clang-format off
static const Symbol symbols[] = {
    // Greek
    {"alpha", "α"}, {"beta", "β"}, {"gamma", "γ"}, {"delta", "δ"}, {"epsilon", "ε"},
    {"varepsilon", "ε"}, {"zeta", "ζ"}, {"eta", "η"}, {"theta", "θ"}, {"vartheta", "ϑ"},
    {"iota", "ι"}, {"kappa", "κ"}, {"lambda", "λ"}, {"mu", "μ"}, {"nu", "ν"}, {"xi", "ξ"},
    {"omicron", "ο"}, {"pi", "π"}, {"varpi", "ϖ"}, {"rho", "ρ"}, {"varrho", "ϱ"},
    {"sigma", "σ"}, {"varsigma", "ς"}, {"tau", "τ"}, {"upsilon", "υ"}, {"phi", "ϕ"},
    {"varphi", "φ"}, {"chi", "χ"}, {"psi", "ψ"}, {"omega", "ω"}, {"Gamma", "Γ"},
    {"Delta", "Δ"}, {"Theta", "Θ"}, {"Lambda", "Λ"}, {"Xi", "Ξ"}, {"Pi", "Π"},
    {"Sigma", "Σ"}, {"Upsilon", "Υ"}, {"Phi", "Φ"}, {"Psi", "Ψ"}, {"Omega", "Ω"},
    // operators and relations
    {"times", "×"}, {"cdot", "·"}, {"cdotp", "·"}, {"div", "÷"}, {"pm", "±"}, {"mp", "∓"},
    {"ast", "∗"}, {"star", "⋆"}, {"circ", "∘"}, {"bullet", "•"}, {"oplus", "⊕"},
    {"ominus", "⊖"}, {"otimes", "⊗"}, {"odot", "⊙"}, {"setminus", "∖"}, {"leq", "≤"},
    {"le", "≤"}, {"geq", "≥"}, {"ge", "≥"}, {"leqslant", "⩽"}, {"geqslant", "⩾"}, {"neq", "≠"},
    {"ne", "≠"}, {"ll", "≪"}, {"gg", "≫"}, {"approx", "≈"}, {"equiv", "≡"}, {"sim", "∼"},
    {"simeq", "≃"}, {"cong", "≅"}, {"propto", "∝"}, {"mid", "∣"}, {"nmid", "∤"},
    {"parallel", "∥"}, {"perp", "⊥"}, {"in", "∈"}, {"notin", "∉"}, {"ni", "∋"},
    {"subset", "⊂"}, {"subseteq", "⊆"}, {"supset", "⊃"}, {"supseteq", "⊇"}, {"cup", "∪"},
    {"cap", "∩"}, {"bigcup", "⋃"}, {"bigcap", "⋂"}, {"emptyset", "∅"}, {"varnothing", "∅"},
    {"forall", "∀"}, {"exists", "∃"}, {"nexists", "∄"}, {"neg", "¬"}, {"lnot", "¬"},
    {"land", "∧"}, {"wedge", "∧"}, {"lor", "∨"}, {"vee", "∨"},
    {"sum", "∑"}, {"prod", "∏"}, {"coprod", "∐"}, {"int", "∫"}, {"iint", "∬"},
    {"iiint", "∭"}, {"oint", "∮"}, {"partial", "∂"}, {"nabla", "∇"}, {"infty", "∞"},
    {"to", "→"}, {"rightarrow", "→"}, {"leftarrow", "←"}, {"gets", "←"},
    {"leftrightarrow", "↔"}, {"Rightarrow", "⇒"}, {"Leftarrow", "⇐"},
    {"Leftrightarrow", "⇔"}, {"implies", "⟹"}, {"impliedby", "⟸"}, {"iff", "⟺"},
    {"mapsto", "↦"}, {"longrightarrow", "⟶"}, {"longleftarrow", "⟵"}, {"uparrow", "↑"},
    {"downarrow", "↓"}, {"langle", "⟨"}, {"rangle", "⟩"}, {"lfloor", "⌊"}, {"rfloor", "⌋"},
    {"lceil", "⌈"}, {"rceil", "⌉"}, {"vert", "|"}, {"lvert", "|"}, {"rvert", "|"},
    {"Vert", "‖"}, {"lVert", "‖"}, {"rVert", "‖"}, {"backslash", "\\"},
    {"cdots", "⋯"}, {"ldots", "…"}, {"dots", "…"}, {"dotsc", "…"}, {"dotsb", "⋯"},
    {"vdots", "⋮"}, {"ddots", "⋱"}, {"angle", "∠"}, {"triangle", "△"}, {"square", "□"},
    {"degree", "°"}, {"prime", "′"}, {"hbar", "ℏ"}, {"ell", "ℓ"}, {"Re", "ℜ"}, {"Im", "ℑ"},
    {"aleph", "ℵ"}, {"therefore", "∴"}, {"because", "∵"}, {"colon", ":"}, {"checkmark", "✓"},
    // spacing
    {"quad", "\u2003"}, {"qquad", "\u2003\u2003"}, {",", "\u2009"}, {":", " "}, {";", " "},
    {" ", " "}, {"!", ""},
    // escaped characters
    {"{", "{"}, {"}", "}"}, {"%", "%"}, {"$", "$"}, {"&", "&"}, {"#", "#"}, {"_", "_"},
    {"|", "‖"},
    // functions, set upright as words
    {"sin", "sin"}, {"cos", "cos"}, {"tan", "tan"}, {"cot", "cot"}, {"sec", "sec"},
    {"csc", "csc"}, {"arcsin", "arcsin"}, {"arccos", "arccos"}, {"arctan", "arctan"},
    {"sinh", "sinh"}, {"cosh", "cosh"}, {"tanh", "tanh"}, {"log", "log"}, {"ln", "ln"},
    {"lg", "lg"}, {"exp", "exp"}, {"lim", "lim"}, {"limsup", "lim sup"},
    {"liminf", "lim inf"}, {"max", "max"}, {"min", "min"}, {"sup", "sup"}, {"inf", "inf"},
    {"arg", "arg"}, {"det", "det"}, {"dim", "dim"}, {"ker", "ker"}, {"deg", "deg"},
    {"gcd", "gcd"}, {"lcm", "lcm"}, {"Pr", "Pr"}, {"mod", "mod"}, {"bmod", "mod"},
    // layout hints with no readable form
    {"displaystyle", ""}, {"textstyle", ""}, {"scriptstyle", ""}, {"limits", ""},
    {"nolimits", ""}, {"nonumber", ""}, {"notag", ""},
};
// clang-format on

typedef struct {
    gunichar from;
    const char *to;
} ScriptForm;

// clang-format off
static const ScriptForm superscripts[] = {
    {'0', "⁰"}, {'1', "¹"}, {'2', "²"}, {'3', "³"}, {'4', "⁴"}, {'5', "⁵"}, {'6', "⁶"},
    {'7', "⁷"}, {'8', "⁸"}, {'9', "⁹"}, {'+', "⁺"}, {'-', "⁻"}, {0x2212, "⁻"}, {'=', "⁼"},
    {'(', "⁽"}, {')', "⁾"}, {'a', "ᵃ"}, {'b', "ᵇ"}, {'c', "ᶜ"}, {'d', "ᵈ"}, {'e', "ᵉ"},
    {'f', "ᶠ"}, {'g', "ᵍ"}, {'h', "ʰ"}, {'i', "ⁱ"}, {'j', "ʲ"}, {'k', "ᵏ"}, {'l', "ˡ"},
    {'m', "ᵐ"}, {'n', "ⁿ"}, {'o', "ᵒ"}, {'p', "ᵖ"}, {'r', "ʳ"}, {'s', "ˢ"}, {'t', "ᵗ"},
    {'u', "ᵘ"}, {'v', "ᵛ"}, {'w', "ʷ"}, {'x', "ˣ"}, {'y', "ʸ"}, {'z', "ᶻ"}, {'A', "ᴬ"},
    {'B', "ᴮ"}, {'D', "ᴰ"}, {'E', "ᴱ"}, {'G', "ᴳ"}, {'H', "ᴴ"}, {'I', "ᴵ"}, {'J', "ᴶ"},
    {'K', "ᴷ"}, {'L', "ᴸ"}, {'M', "ᴹ"}, {'N', "ᴺ"}, {'O', "ᴼ"}, {'P', "ᴾ"}, {'R', "ᴿ"},
    {'T', "ᵀ"}, {'U', "ᵁ"}, {'V', "ⱽ"}, {'W', "ᵂ"}, {0x03B1, "ᵅ"}, {0x03B2, "ᵝ"},
    {0x03B3, "ᵞ"}, {0x03B4, "ᵟ"}, {0x03B5, "ᵋ"}, {0x03B8, "ᶿ"}, {0x03D5, "ᵠ"},
    {0x03C6, "ᵠ"}, {0x03C7, "ᵡ"}, {0x2218, "°"}, {0x2032, "′"}, {0x2033, "″"},
};
// clang-format on

// clang-format off
static const ScriptForm subscripts[] = {
    {'0', "₀"}, {'1', "₁"}, {'2', "₂"}, {'3', "₃"}, {'4', "₄"}, {'5', "₅"}, {'6', "₆"},
    {'7', "₇"}, {'8', "₈"}, {'9', "₉"}, {'+', "₊"}, {'-', "₋"}, {0x2212, "₋"}, {'=', "₌"},
    {'(', "₍"}, {')', "₎"}, {'a', "ₐ"}, {'e', "ₑ"}, {'h', "ₕ"}, {'i', "ᵢ"}, {'j', "ⱼ"},
    {'k', "ₖ"}, {'l', "ₗ"}, {'m', "ₘ"}, {'n', "ₙ"}, {'o', "ₒ"}, {'p', "ₚ"}, {'r', "ᵣ"},
    {'s', "ₛ"}, {'t', "ₜ"}, {'u', "ᵤ"}, {'v', "ᵥ"}, {'x', "ₓ"}, {0x03B2, "ᵦ"},
    {0x03B3, "ᵧ"}, {0x03C1, "ᵨ"}, {0x03C6, "ᵩ"}, {0x03D5, "ᵩ"}, {0x03C7, "ᵪ"},
};
// clang-format on

typedef struct {
    const char *p;
    const char *end;
    gboolean boxed;
    guint depth;
    guint matrix_depth; // inside pmatrix, cases…: `\\` separates rows with "; "
} TexReader;

static void render_sequence(TexReader *r, GString *out, char stop);
static void render_token(TexReader *r, GString *out);

static const char *find_symbol(const char *name, gsize length)
{
    for (gsize i = 0; i < G_N_ELEMENTS(symbols); i++)
        if (strlen(symbols[i].name) == length && memcmp(symbols[i].name, name, length) == 0)
            return symbols[i].text;
    return NULL;
}

static void append_escaped(GString *out, const char *text, gssize length)
{
    g_autofree char *escaped = g_markup_escape_text(text, length);
    g_string_append(out, escaped);
}

// One space at most between tokens, none at the start: TeX ignores spaces in math, but keeping
// one where the writer put it keeps `a + b` readable.
static void append_space(GString *out)
{
    if (out->len > 0 && !strchr(" \n([{", out->str[out->len - 1]))
        g_string_append_c(out, ' ');
}

static void trim_trailing_space(GString *out)
{
    if (out->len > 0 && out->str[out->len - 1] == ' ')
        g_string_truncate(out, out->len - 1);
}

static void skip_spaces(TexReader *r)
{
    while (r->p < r->end && is_space(*r->p))
        r->p++;
}

static gsize char_length(const TexReader *r)
{
    gsize n = g_utf8_skip[*(const guchar *)r->p];
    return MIN(n, (gsize)(r->end - r->p));
}

static void strip_in_place(GString *s)
{
    g_strstrip(s->str);
    s->len = strlen(s->str);
}

// The body of a group whose `{` was just read.
static void render_group(TexReader *r, GString *out)
{
    if (r->depth >= MAX_TEX_DEPTH) {
        append_escaped(out, r->p, r->end - r->p);
        r->p = r->end;
        return;
    }
    r->depth++;
    render_sequence(r, out, '}');
    if (r->p < r->end)
        r->p++;
    r->depth--;
}

// A command's argument: a group, one command, or one character.
static GString *read_argument(TexReader *r)
{
    GString *arg = g_string_new(NULL);
    skip_spaces(r);
    if (r->p >= r->end)
        return arg;
    if (*r->p == '{') {
        r->p++;
        render_group(r, arg);
    } else if (r->depth >= MAX_TEX_DEPTH) { // `x^^^^…` or `\hat\hat…` nest without braces
        append_escaped(arg, r->p, r->end - r->p);
        r->p = r->end;
    } else {
        r->depth++;
        render_token(r, arg);
        r->depth--;
    }
    strip_in_place(arg);
    return arg;
}

// An argument taken as written (for \text{…} and environment names), braces removed.
static char *read_raw_argument(TexReader *r)
{
    skip_spaces(r);
    if (r->p >= r->end)
        return g_strdup("");
    if (*r->p != '{') {
        gsize n = char_length(r);
        char *single = g_strndup(r->p, n);
        r->p += n;
        return single;
    }
    GString *raw = g_string_new(NULL);
    guint depth = 1;
    r->p++;
    while (r->p < r->end) {
        char c = *r->p++;
        if (c == '\\' && r->p < r->end && strchr("{}$%&#_ ", *r->p)) {
            g_string_append_c(raw, *r->p++);
            continue;
        }
        if (c == '{') {
            depth++;
            continue;
        }
        if (c == '}' && --depth == 0)
            break;
        if (c != '}')
            g_string_append_c(raw, c == '\n' ? ' ' : c);
    }
    return g_string_free(raw, FALSE);
}

static const char *script_form(const ScriptForm *forms, gsize n_forms, gunichar c)
{
    for (gsize i = 0; i < n_forms; i++)
        if (forms[i].from == c)
            return forms[i].to;
    return NULL;
}

// A super- or subscript in Unicode's script characters when every character of it has one,
// else as Pango markup.
static void append_script(GString *out, const char *arg, gboolean superscript)
{
    if (*arg == '\0')
        return;
    const ScriptForm *forms = superscript ? superscripts : subscripts;
    gsize n_forms = superscript ? G_N_ELEMENTS(superscripts) : G_N_ELEMENTS(subscripts);
    GString *mapped = g_string_new(NULL);
    gboolean all_mapped = TRUE;
    for (const char *p = arg; *p && all_mapped; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == ' ')
            continue;
        const char *form = script_form(forms, n_forms, c);
        if (form)
            g_string_append(mapped, form);
        else
            all_mapped = FALSE;
    }
    if (all_mapped)
        g_string_append(out, mapped->str);
    else
        g_string_append_printf(out, superscript ? "<sup>%s</sup>" : "<sub>%s</sub>", arg);
    g_string_free(mapped, TRUE);
}

// Whether a fraction's part needs parentheses to read right after flattening to a/b: it has an
// operator or a space outside any brackets it already has.
static gboolean needs_parentheses(const char *markup)
{
    static const char *const operators[] = {"−", "±", "∓", "×", "·", "÷", "≤", "≥", "≠", "≈",
                                            "≡", "→", "∼", "∝", "∈", "∪", "∩", "∑", "∫"};
    int depth = 0;
    for (const char *p = markup; *p;) {
        if (*p == '<') { // a tag of our own: <sub>, <b>…
            const char *close = strchr(p, '>');
            p = close ? close + 1 : p + 1;
            continue;
        }
        if (*p == '(' || *p == '[' || *p == '{' || g_str_has_prefix(p, "⟨"))
            depth++;
        else if (*p == ')' || *p == ']' || *p == '}' || g_str_has_prefix(p, "⟩"))
            depth--;
        else if (depth == 0 && strchr(" +-=/,&", *p))
            return TRUE;
        else if (depth == 0)
            for (gsize i = 0; i < G_N_ELEMENTS(operators); i++)
                if (g_str_has_prefix(p, operators[i]))
                    return TRUE;
        p = g_utf8_next_char(p);
    }
    return FALSE;
}

static void append_fraction_part(GString *out, const char *part)
{
    if (needs_parentheses(part))
        g_string_append_printf(out, "(%s)", part);
    else
        g_string_append(out, part);
}

// Appends COMBINING after every character of ARG (overline, underline), or after the last.
static void append_accented(GString *out, const char *arg, const char *combining,
                            gboolean every_char)
{
    if (strpbrk(arg, "<&")) { // markup inside: a mark would land in a tag
        g_string_append(out, arg);
        return;
    }
    for (const char *p = arg; *p; p = g_utf8_next_char(p)) {
        g_string_append_len(out, p, g_utf8_next_char(p) - p);
        if (every_char || *g_utf8_next_char(p) == '\0')
            g_string_append(out, combining);
    }
}

// ARG is markup: its tags (\mathbb{\mathbf{R}}) and entities (\mathbb{<}) are copied as they
// are, only the text between them turns double-struck.
static void append_double_struck(GString *out, const char *arg)
{
    for (const char *p = arg; *p; p = g_utf8_next_char(p)) {
        if (*p == '<' || *p == '&') {
            const char *end = strchr(p, *p == '<' ? '>' : ';');
            if (end) {
                g_string_append_len(out, p, end + 1 - p);
                p = end;
                continue;
            }
        }
        gunichar c = g_utf8_get_char(p);
        // The letters Unicode had before its mathematical block live in Letterlike Symbols.
        static const struct {
            char letter;
            gunichar form;
        } letterlike[] = {{'C', 0x2102}, {'H', 0x210D}, {'N', 0x2115}, {'P', 0x2119},
                          {'Q', 0x211A}, {'R', 0x211D}, {'Z', 0x2124}};
        gunichar form = 0;
        for (gsize i = 0; i < G_N_ELEMENTS(letterlike); i++)
            if (letterlike[i].letter == (char)c && c < 0x80)
                form = letterlike[i].form;
        if (!form && c >= 'A' && c <= 'Z')
            form = 0x1D538 + (c - 'A');
        else if (!form && c >= 'a' && c <= 'z')
            form = 0x1D552 + (c - 'a');
        else if (!form && c >= '0' && c <= '9')
            form = 0x1D7D8 + (c - '0');
        if (form)
            g_string_append_unichar(out, form);
        else
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
    }
}

static gboolean name_is(const char *name, gsize length, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == length && memcmp(*list, name, length) == 0)
            return TRUE;
    return FALSE;
}

static void render_environment(TexReader *r, GString *out, gboolean begin)
{
    g_autofree char *env = read_raw_argument(r);
    static const struct {
        const char *name;
        const char *open, *close;
    } matrices[] = {{"matrix", "", ""},    {"smallmatrix", "", ""}, {"pmatrix", "(", ")"},
                    {"bmatrix", "[", "]"}, {"Bmatrix", "{", "}"},   {"vmatrix", "|", "|"},
                    {"Vmatrix", "‖", "‖"}, {"cases", "{", ""}};
    for (gsize i = 0; i < G_N_ELEMENTS(matrices); i++) {
        if (strcmp(env, matrices[i].name) != 0)
            continue;
        if (!begin)
            trim_trailing_space(out);
        g_string_append(out, begin ? matrices[i].open : matrices[i].close);
        if (begin)
            r->matrix_depth++;
        else if (r->matrix_depth > 0)
            r->matrix_depth--;
        return;
    }
    if (begin && (strcmp(env, "array") == 0 || strcmp(env, "tabular") == 0))
        g_free(read_raw_argument(r)); // the column layout
    // aligned, align*, equation, gathered…: their lines are what matters
}

static void render_command(TexReader *r, GString *out)
{
    r->p++; // the backslash
    if (r->p >= r->end) {
        g_string_append_c(out, '\\');
        return;
    }
    const char *name = r->p;
    gsize length;
    if (g_ascii_isalpha(*r->p)) {
        while (r->p < r->end && g_ascii_isalpha(*r->p))
            r->p++;
        length = r->p - name;
    } else {
        length = char_length(r);
        r->p += length;
    }

#define IS(...) name_is(name, length, (const char *const[]){__VA_ARGS__, NULL})
    if (IS("\\")) {
        trim_trailing_space(out);
        g_string_append(out, r->matrix_depth > 0 ? "; " : "\n");
    } else if (IS("frac", "dfrac", "tfrac", "cfrac")) {
        g_autoptr(GString) numerator = read_argument(r);
        g_autoptr(GString) denominator = read_argument(r);
        append_fraction_part(out, numerator->str);
        g_string_append_c(out, '/');
        append_fraction_part(out, denominator->str);
    } else if (IS("sqrt")) {
        g_autoptr(GString) index = g_string_new(NULL);
        skip_spaces(r);
        if (r->p < r->end && *r->p == '[') {
            r->p++;
            render_sequence(r, index, ']');
            if (r->p < r->end)
                r->p++;
            strip_in_place(index);
        }
        g_autoptr(GString) radicand = read_argument(r);
        if (strcmp(index->str, "3") == 0)
            g_string_append(out, "∛");
        else if (strcmp(index->str, "4") == 0)
            g_string_append(out, "∜");
        else {
            append_script(out, index->str, TRUE);
            g_string_append(out, "√");
        }
        g_string_append_printf(out, "(%s)", radicand->str);
    } else if (IS("text", "textrm", "textnormal", "textit", "textsf", "texttt", "textup", "mbox",
                  "hbox", "emph")) {
        g_autofree char *text = read_raw_argument(r);
        append_escaped(out, text, -1);
    } else if (IS("textbf")) {
        g_autofree char *text = read_raw_argument(r);
        g_autofree char *escaped = g_markup_escape_text(text, -1);
        g_string_append_printf(out, "<b>%s</b>", escaped);
    } else if (IS("mathbf", "boldsymbol", "bm", "pmb")) {
        g_autoptr(GString) arg = read_argument(r);
        g_string_append_printf(out, "<b>%s</b>", arg->str);
    } else if (IS("mathbb")) {
        g_autoptr(GString) arg = read_argument(r);
        append_double_struck(out, arg->str);
    } else if (IS("mathrm", "mathit", "mathsf", "mathtt", "mathcal", "mathscr", "mathfrak",
                  "operatorname", "underbrace", "overbrace", "substack")) {
        g_autoptr(GString) arg = read_argument(r);
        g_string_append(out, arg->str);
    } else if (IS("boxed")) {
        r->boxed = TRUE;
        g_autoptr(GString) arg = read_argument(r);
        g_string_append(out, arg->str);
    } else if (IS("left", "right", "middle", "bigl", "bigr", "big", "Big", "Bigl", "Bigr", "bigg",
                  "Bigg", "biggl", "biggr", "Biggl", "Biggr")) {
        skip_spaces(r);
        if (r->p < r->end && *r->p == '.') // \left. : no bracket on this side
            r->p++;
    } else if (IS("begin", "end")) {
        render_environment(r, out, IS("begin"));
    } else if (IS("hat", "widehat", "tilde", "widetilde", "vec", "overrightarrow", "dot", "ddot",
                  "check", "acute", "grave", "breve")) {
        static const Symbol accents[] = {
            {"hat", "\u0302"},       {"widehat", "\u0302"}, {"tilde", "\u0303"},
            {"widetilde", "\u0303"}, {"vec", "\u20D7"},     {"overrightarrow", "\u20D7"},
            {"dot", "\u0307"},       {"ddot", "\u0308"},    {"check", "\u030C"},
            {"acute", "\u0301"},     {"grave", "\u0300"},   {"breve", "\u0306"},
        };
        const char *mark = "";
        for (gsize i = 0; i < G_N_ELEMENTS(accents); i++)
            if (strlen(accents[i].name) == length && memcmp(accents[i].name, name, length) == 0)
                mark = accents[i].text;
        g_autoptr(GString) arg = read_argument(r);
        append_accented(out, arg->str, mark, FALSE);
    } else if (IS("bar", "overline")) {
        g_autoptr(GString) arg = read_argument(r);
        append_accented(out, arg->str, IS("bar") ? "\u0304" : "\u0305", IS("overline"));
    } else if (IS("underline")) {
        g_autoptr(GString) arg = read_argument(r);
        append_accented(out, arg->str, "\u0332", TRUE);
    } else if (IS("not")) {
        skip_spaces(r);
        if (r->p < r->end && *r->p == '=') {
            r->p++;
            g_string_append(out, "≠");
        } else {
            g_autoptr(GString) negated = read_argument(r);
            if (strcmp(negated->str, "∈") == 0)
                g_string_append(out, "∉");
            else
                g_string_append_printf(out, "%s\u0338", negated->str);
        }
    } else if (IS("binom", "dbinom", "tbinom")) {
        g_autoptr(GString) n = read_argument(r);
        g_autoptr(GString) k = read_argument(r);
        g_string_append_printf(out, "C(%s, %s)", n->str, k->str);
    } else if (IS("pmod")) {
        g_autoptr(GString) modulus = read_argument(r);
        append_space(out);
        g_string_append_printf(out, "(mod %s)", modulus->str);
    } else if (IS("overset", "stackrel", "underset")) {
        g_autoptr(GString) note = read_argument(r);
        g_autoptr(GString) base = read_argument(r);
        g_string_append(out, base->str);
        append_script(out, note->str, !IS("underset"));
    } else if (IS("textcolor")) {
        g_free(read_raw_argument(r));
        g_autoptr(GString) arg = read_argument(r);
        g_string_append(out, arg->str);
    } else if (IS("color", "label", "phantom", "hphantom", "vphantom")) {
        g_free(read_raw_argument(r));
    } else if (IS("tag")) {
        g_autofree char *tag = read_raw_argument(r);
        g_autofree char *escaped = g_markup_escape_text(tag, -1);
        append_space(out);
        g_string_append_printf(out, "(%s)", escaped);
    } else {
        const char *symbol = find_symbol(name, length);
        if (symbol) {
            g_autofree char *escaped = g_markup_escape_text(symbol, -1);
            g_string_append(out, escaped);
        } else {
            // Unknown: shown as written, its braces kept so the arguments stay readable.
            g_string_append_c(out, '\\');
            append_escaped(out, name, length);
            while (r->p < r->end && *r->p == '{') {
                r->p++;
                g_string_append_c(out, '{');
                render_group(r, out);
                g_string_append_c(out, '}');
            }
        }
    }
#undef IS
}

static void render_token(TexReader *r, GString *out)
{
    char c = *r->p;
    if (is_space(c)) {
        skip_spaces(r);
        append_space(out);
    } else if (c == '{') {
        r->p++;
        render_group(r, out);
    } else if (c == '^' || c == '_') {
        r->p++;
        g_autoptr(GString) arg = read_argument(r);
        append_script(out, arg->str, c == '^');
    } else if (c == '\\') {
        render_command(r, out);
    } else if (c == '&' || c == '~') { // alignment point, tie
        r->p++;
        append_space(out);
    } else if (c == '\'') {
        guint primes = 0;
        while (r->p < r->end && *r->p == '\'') {
            primes++;
            r->p++;
        }
        g_string_append(out, primes == 1 ? "′" : primes == 2 ? "″" : "‴");
    } else {
        // `\left( x \right)` reads (x): no space inside brackets.
        if (c == ')' || c == ']')
            trim_trailing_space(out);
        gsize n = char_length(r);
        append_escaped(out, r->p, n);
        r->p += n;
    }
}

static void render_sequence(TexReader *r, GString *out, char stop)
{
    while (r->p < r->end && !(stop && *r->p == stop))
        render_token(r, out);
}

char *ponder_math_to_markup(const char *tex, gboolean *boxed)
{
    TexReader r = {.p = tex, .end = tex + strlen(tex)};
    GString *out = g_string_new(NULL);
    render_sequence(&r, out, 0);
    if (boxed)
        *boxed = r.boxed;
    strip_in_place(out);
    return g_string_free(out, FALSE);
}

// ponder-math: finding formulas in Markdown (and leaving code, prices and escaped dollars
// alone), and TeX turned into readable markup. Every expected string is written by hand.
#include "markdown/ponder-math.h"

#include <string.h>

// The markup of the one formula MARKDOWN holds, which must have LAYOUT.
static char *render_only_span(const char *markdown, PonderMathLayout layout, gboolean *boxed)
{
    g_autoptr(PonderMathText) math = ponder_math_protect(markdown, -1);
    g_assert_cmpuint(math->spans->len, ==, 1);
    const PonderMathSpan *span = g_ptr_array_index(math->spans, 0);
    g_assert_cmpint(span->layout, ==, layout);
    return ponder_math_to_markup(span->tex, boxed);
}

static void assert_markup(const char *tex, const char *expected)
{
    g_autofree char *markup = ponder_math_to_markup(tex, NULL);
    g_assert_cmpstr(markup, ==, expected);
}

static void assert_no_math(const char *markdown)
{
    g_autoptr(PonderMathText) math = ponder_math_protect(markdown, -1);
    g_assert_cmpuint(math->spans->len, ==, 0);
    g_assert_cmpstr(math->text, ==, markdown);
}

static void test_scripts(void)
{
    g_autofree char *markup = render_only_span("$x_1^2$", PONDER_MATH_INLINE, NULL);
    g_assert_cmpstr(markup, ==, "x₁²");
    assert_markup("a_{ij}^{n+1}", "aᵢⱼⁿ⁺¹");
    // No Unicode subscript comma, no superscript π: Pango's tags instead.
    assert_markup("a_{i,j}", "a<sub>i,j</sub>");
    assert_markup("e^{i\\pi}", "e<sup>iπ</sup>");
    assert_markup("90^\\circ", "90°");
    assert_markup("f'(x)", "f′(x)");
}

static void test_display_fraction(void)
{
    g_autofree char *markup =
        render_only_span("so \\[ \\frac{a}{b} \\] holds", PONDER_MATH_DISPLAY, NULL);
    g_assert_cmpstr(markup, ==, "a/b");
}

static void test_boxed(void)
{
    gboolean boxed = FALSE;
    g_autofree char *bare =
        render_only_span("The answer is \\boxed{42}.", PONDER_MATH_INLINE, &boxed);
    g_assert_cmpstr(bare, ==, "42");
    g_assert_true(boxed);

    g_autoptr(PonderMathText) math = ponder_math_protect("\\[\\boxed{x = \\frac{1}{2}}\\]", -1);
    g_assert_cmpuint(math->spans->len, ==, 1);
    const PonderMathSpan *span = g_ptr_array_index(math->spans, 0);
    g_assert_cmpint(span->layout, ==, PONDER_MATH_DISPLAY);
    boxed = FALSE;
    g_autofree char *display = ponder_math_to_markup(span->tex, &boxed);
    g_assert_cmpstr(display, ==, "x = 1/2");
    g_assert_true(boxed);

    boxed = TRUE;
    g_autofree char *plain = ponder_math_to_markup("x + 1", &boxed);
    g_assert_false(boxed);
}

static void test_sum(void)
{
    g_autofree char *markup = render_only_span("$$\\sum_{i=1}^{n} i$$", PONDER_MATH_DISPLAY, NULL);
    g_assert_cmpstr(markup, ==, "∑ᵢ₌₁ⁿ i");
}

static void test_fraction_parentheses(void)
{
    assert_markup("\\frac{a+b}{2}", "(a+b)/2");
    assert_markup("\\frac{1}{x + 1}", "1/(x + 1)");
    assert_markup("\\frac{x^2}{2}", "x²/2");
    assert_markup("\\dfrac{\\pi}{4}", "π/4");
    // A nested fraction is several terms too; brackets already there are not doubled.
    assert_markup("\\frac{\\frac{1}{2}}{3}", "(1/2)/3");
    assert_markup("\\frac{(a+b)}{c}", "(a+b)/c");
}

static void test_greek_and_operators(void)
{
    assert_markup("\\alpha + \\beta = \\Omega", "α + β = Ω");
    assert_markup("\\pi r^2", "π r²");
    assert_markup("\\Delta\\theta\\lambda\\sigma\\omega", "Δθλσω");
    assert_markup("a \\times b \\cdot c \\leq d \\neq e", "a × b · c ≤ d ≠ e");
    assert_markup("x \\to \\infty", "x → ∞");
    assert_markup("\\pm 1 \\geq 0", "± 1 ≥ 0");
    assert_markup("\\int_0^1 x\\,dx", "∫₀¹ x\u2009dx");
    assert_markup("\\sin x + \\log_2 n", "sin x + log₂ n");
    assert_markup("x \\in \\mathbb{R}", "x ∈ ℝ");
    assert_markup("a \\not= b", "a ≠ b");
}

static void test_sqrt(void)
{
    assert_markup("\\sqrt{2}", "√(2)");
    assert_markup("\\sqrt{x^2 + 1}", "√(x² + 1)");
    assert_markup("\\sqrt[3]{8}", "∛(8)");
}

static void test_text(void)
{
    // \text keeps its own spaces; the markup is escaped.
    assert_markup("\\text{if } x > 0", "if x &gt; 0");
    assert_markup("\\mathrm{d}x", "dx");
    assert_markup("\\text{a & b}", "a &amp; b");
}

static void test_nested_braces_and_brackets(void)
{
    assert_markup("{{a}}^{{2}}", "a²");
    assert_markup("x^{(n+1)}", "x⁽ⁿ⁺¹⁾");
    assert_markup("\\left( \\frac{a}{b} \\right)^2", "(a/b)²");
    assert_markup("\\left\\{ x \\right.", "{x");
    assert_markup("\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}", "(a b; c d)");
}

static void test_unknown_command(void)
{
    assert_markup("\\weird{x} + \\foo", "\\weird{x} + \\foo");
}

static void test_dollars_that_are_not_math(void)
{
    assert_no_math("\\$5 and $3");
    assert_no_math("It costs $5 and $10 today.");
    assert_no_math("$ x $"); // spaces inside the dollars: not TeX, says Pandoc's rule
}

static void test_code_untouched(void)
{
    const char *markdown = "Use `$x_1$` or\n\n```\n$y_1$ and \\[z\\]\n```\n\nthen $w$.";
    g_autoptr(PonderMathText) math = ponder_math_protect(markdown, -1);
    g_assert_cmpuint(math->spans->len, ==, 1);
    g_assert_cmpstr(((PonderMathSpan *)g_ptr_array_index(math->spans, 0))->tex, ==, "w");
    g_assert_nonnull(strstr(math->text, "`$x_1$`"));
    g_assert_nonnull(strstr(math->text, "\n$y_1$ and \\[z\\]\n"));
    // A double-backtick span holding one backtick and a dollar pair.
    assert_no_math("``a ` $b$``");
}

static void test_unbalanced(void)
{
    assert_no_math("$x + 1");
    // The closer must be in the same paragraph.
    assert_no_math("$a\n\nb$");
    g_autoptr(PonderMathText) one = ponder_math_protect("$a$ and $b", -1);
    g_assert_cmpuint(one->spans->len, ==, 1);
    // An unclosed \[ (an answer still streaming) keeps the backslash md4c would take.
    g_autoptr(PonderMathText) open = ponder_math_protect("so \\[ x = 1", -1);
    g_assert_cmpuint(open->spans->len, ==, 0);
    g_assert_cmpstr(open->text, ==, "so \\\\[ x = 1");
}

static void test_inline_parenthesis(void)
{
    g_autofree char *markup =
        render_only_span("where \\(a^2 + b^2\\) holds", PONDER_MATH_INLINE, NULL);
    g_assert_cmpstr(markup, ==, "a² + b²");
}

static void test_placeholders_never_collide(void)
{
    // The user's text holds the first private-use characters, even in the shape of a token
    // (\u takes exactly four hex digits: "\uE0000" is U+E000 then "0").
    const char *markdown = "\uE0000\uE000 and \uE001 then $x^2$ and \\(y\\)";
    g_autoptr(PonderMathText) math = ponder_math_protect(markdown, -1);
    g_assert_cmpuint(math->spans->len, ==, 2);
    g_assert_cmpuint(math->sentinel, !=, 0xE000);
    g_assert_cmpuint(math->sentinel, !=, 0xE001);

    // Exactly two tokens are found, and putting them back gives the input again.
    guint n_tokens = 0;
    const char *p = math->text, *end = math->text + math->length;
    gsize token_length;
    const PonderMathSpan *span;
    const char *token;
    while ((token = ponder_math_text_find(math, p, end - p, &token_length, &span))) {
        n_tokens++;
        p = token + token_length;
    }
    g_assert_cmpuint(n_tokens, ==, 2);
    g_autofree char *restored = ponder_math_text_restore(math, math->text, math->length);
    g_assert_cmpstr(restored, ==, markdown);
    // The user's look-alike token survives as written.
    g_assert_true(g_str_has_prefix(math->text, "\uE0000\uE000 and \uE001"));
}

static void test_restore_source(void)
{
    const char *markdown = "$a$, $$b$$, \\(c\\), \\[d\\] and \\boxed{e}";
    g_autoptr(PonderMathText) math = ponder_math_protect(markdown, -1);
    g_assert_cmpuint(math->spans->len, ==, 5);
    g_assert_cmpstr(((PonderMathSpan *)g_ptr_array_index(math->spans, 1))->source, ==, "$$b$$");
    g_assert_cmpstr(((PonderMathSpan *)g_ptr_array_index(math->spans, 3))->source, ==, "\\[d\\]");
    g_autofree char *restored = ponder_math_text_restore(math, math->text, math->length);
    g_assert_cmpstr(restored, ==, markdown);
    // Markdown syntax that was inside a formula is gone from what md4c will read.
    g_assert_null(strchr(math->text, '$'));
}

static void test_hostile_input(void)
{
    // Deep nesting and endless script chains end without exhausting the stack.
    g_autofree char *braces = g_strnfill(100000, '{');
    g_autofree char *deep = ponder_math_to_markup(braces, NULL);
    g_assert_nonnull(deep);
    g_autofree char *carets = g_strnfill(100000, '^');
    g_autofree char *chain = ponder_math_to_markup(carets, NULL);
    g_assert_nonnull(chain);
    GString *hats = g_string_new(NULL);
    for (int i = 0; i < 20000; i++)
        g_string_append(hats, "\\hat");
    g_autofree char *accents = ponder_math_to_markup(hats->str, NULL);
    g_assert_nonnull(accents);
    g_string_free(hats, TRUE);
    // A lone backslash and a lone brace stay text.
    assert_markup("x\\", "x\\");
    assert_markup("a}", "a}");
    // \mathbb rewrites letters, but not those of the tags and entities in its argument (it made
    // "&𝕝𝕥;" and "<𝕓>", and the label refused the markup).
    assert_markup("\\mathbb{<}", "&lt;");
    assert_markup("\\mathbb{\\mathbf{R}1}", "<b>ℝ</b>𝟙");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/math/scripts", test_scripts);
    g_test_add_func("/math/display-fraction", test_display_fraction);
    g_test_add_func("/math/boxed", test_boxed);
    g_test_add_func("/math/sum", test_sum);
    g_test_add_func("/math/fraction-parentheses", test_fraction_parentheses);
    g_test_add_func("/math/greek-and-operators", test_greek_and_operators);
    g_test_add_func("/math/sqrt", test_sqrt);
    g_test_add_func("/math/text", test_text);
    g_test_add_func("/math/nested-braces-and-brackets", test_nested_braces_and_brackets);
    g_test_add_func("/math/unknown-command", test_unknown_command);
    g_test_add_func("/math/dollars-that-are-not-math", test_dollars_that_are_not_math);
    g_test_add_func("/math/code-untouched", test_code_untouched);
    g_test_add_func("/math/unbalanced", test_unbalanced);
    g_test_add_func("/math/inline-parenthesis", test_inline_parenthesis);
    g_test_add_func("/math/placeholders-never-collide", test_placeholders_never_collide);
    g_test_add_func("/math/restore-source", test_restore_source);
    g_test_add_func("/math/hostile-input", test_hostile_input);
    return g_test_run();
}

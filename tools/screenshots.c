// ponder-screenshots: one picture of the real window for docs/screenshots/, made in-process
// (under Xvfb, see tools/make-screenshots) with the tiny synthetic model on the CPU, GSettings
// in memory and a temporary XDG tree, so it never touches the user's conversations.
//
//   ponder-screenshots [--width=1200] [--height=800] [--po-dir=DIR] STATE OUTPUT.png
//
// STATE is onboarding, chat-thinking, code-block, preferences or chat-zh_CN. One state per
// process: the language is chosen before GTK starts, and each state starts from empty folders.
// The conversations are written through the store API before the application opens them, as
// an earlier session of Ponder would have left them. The window's widget tree is rendered
// offscreen with the window's own renderer, so the picture does not depend on a compositor.
#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <string.h>

#include "app-test-util.h"
#include "chat/ponder-chat-view.h"
#include "chat/ponder-message-row.h"
#include "ui-test-util.h"
#include "window/ponder-conversation-list.h"
#include "window/ponder-preferences-window.h"
#include "window/ponder-ui-application.h"
#include "window/ponder-window.h"

// Generous: the tiny model loads in well under a second, but CI machines are shared.
#define WAIT_TIMEOUT_S 60

// ---- the conversations shown ----------------------------------------------------------

typedef struct {
    const char *title;
    const char *question;
    const char *reasoning; // NULL: none
    const char *answer;
    double total_s, tokens_per_second;
    gint64 completion_tokens;
} Conversation;

#define MARBLES_TITLE "Marbles in a 3 : 4 ratio"
static const Conversation marbles = {
    .title = MARBLES_TITLE,
    .question = "A jar holds red and blue marbles in the ratio 3 : 4. There are 24 blue marbles. "
                "How many marbles are in the jar altogether?",
    .reasoning =
        "Okay, so the ratio of red to blue is 3 : 4. That means the marbles split into 3 + 4 = 7 "
        "equal parts, 3 of them red and 4 of them blue.\n\n"
        "The 24 blue marbles are 4 parts, so one part is 24 / 4 = 6 marbles. Red is 3 parts, "
        "which is 3 × 6 = 18 marbles.\n\n"
        "Altogether that is 18 + 24 = 42. Let me double-check: 18 : 24 divides by 6 to 3 : 4, "
        "which is the ratio I started from. And 7 parts × 6 = 42 as well. So the answer is 42.",
    .answer = "The ratio **3 : 4** splits the jar into 7 equal parts: 3 red and 4 blue.\n\n"
              "| Colour | Parts | Marbles |\n"
              "|:-------|------:|--------:|\n"
              "| Red | 3 | 18 |\n"
              "| Blue | 4 | 24 |\n"
              "| **Total** | **7** | **42** |\n\n"
              "One part is the blue marbles divided by their share of the parts:\n\n"
              "\\[ \\frac{24}{4} = 6 \\]\n\n"
              "so there are 3 × 6 = 18 red marbles, and altogether 18 + 24 marbles:\n\n"
              "\\[ \\boxed{42} \\]\n",
    .total_s = 9.4,
    .tokens_per_second = 38.2,
    .completion_tokens = 352,
};

#define REVERSE_TITLE "Reverse a string in C"
static const Conversation reverse = {
    .title = REVERSE_TITLE,
    .question = "Write a C function that reverses a string in place, and show how to call it.",
    .reasoning = "The user wants an in-place reversal, so no second buffer: swap the first and "
                 "last characters and walk two indices towards the middle. An empty string must "
                 "work too, so I should not compute len - 1 on an unsigned zero.",
    .answer = "Swap characters from both ends towards the middle; it needs no second buffer, "
              "and the empty string works too.\n\n"
              "```c\n"
              "#include <stdio.h>\n"
              "#include <string.h>\n"
              "\n"
              "void reverse(char *s)\n"
              "{\n"
              "    size_t i = 0, j = strlen(s);\n"
              "    while (j > i + 1) {\n"
              "        char c = s[i];\n"
              "        s[i++] = s[--j];\n"
              "        s[j] = c;\n"
              "    }\n"
              "}\n"
              "\n"
              "int main(void)\n"
              "{\n"
              "    char word[] = \"ponder\";\n"
              "    reverse(word);\n"
              "    printf(\"%s\\n\", word); // rednop\n"
              "    return 0;\n"
              "}\n"
              "```\n\n"
              "It is **O(n)** in time and **O(1)** in space. It reverses bytes: a UTF-8 "
              "string with multi-byte characters needs reversing by code point.\n",
    .total_s = 7.1,
    .tokens_per_second = 36.9,
    .completion_tokens = 262,
};

#define MARBLES_ZH_TITLE "按比例求弹珠总数"
static const Conversation marbles_zh = {
    .title = MARBLES_ZH_TITLE,
    .question = "罐子里红弹珠和蓝弹珠的比例是 3 : 4，蓝弹珠有 24 颗。罐子里一共有多少颗弹珠？",
    .reasoning = "好的，红弹珠和蓝弹珠的比例是 3 : 4，也就是把弹珠分成 3 + 4 = 7 份，红的占 3 "
                 "份，蓝的占 4 份。\n\n"
                 "蓝弹珠 24 颗是 4 份，所以每份是 24 ÷ 4 = 6 颗。红弹珠是 3 份，即 3 × 6 = 18 "
                 "颗。\n\n"
                 "一共是 18 + 24 = 42 颗。验证一下：18 : 24 约分后是 3 : 4，没错。所以答案是 "
                 "42。",
    .answer = "比例 **3 : 4** 把弹珠分成 7 等份：红色 3 份，蓝色 4 份。\n\n"
              "| 颜色 | 份数 | 弹珠 |\n"
              "|:-----|-----:|-----:|\n"
              "| 红色 | 3 | 18 |\n"
              "| 蓝色 | 4 | 24 |\n"
              "| **合计** | **7** | **42** |\n\n"
              "每份的数量是蓝弹珠数除以它所占的份数：\n\n"
              "\\[ \\frac{24}{4} = 6 \\]\n\n"
              "所以红弹珠有 3 × 6 = 18 颗，总数为：\n\n"
              "\\[ \\boxed{42} \\]\n",
    .total_s = 8.2,
    .tokens_per_second = 37.5,
    .completion_tokens = 301,
};

// Older conversations in the sidebar, so it looks like a sidebar people use.
static const Conversation older_en[] = {
    {.title = "Why is the sky blue?",
     .question = "Why is the sky blue?",
     .answer = "Sunlight scatters off the molecules of the air, and blue light, with its shorter "
               "wavelength, scatters far more than red (Rayleigh scattering)."},
    {.title = "Big-O of binary search",
     .question = "What is the time complexity of binary search?",
     .answer = "**O(log n)**: every comparison halves the part of the array left to search."},
    {.title = "A haiku about autumn",
     .question = "Write a haiku about autumn.",
     .answer = "Maple leaves let go —\nthe river carries their red\nfurther than I can."},
};

static const Conversation older_zh[] = {
    {.title = "天空为什么是蓝色的？",
     .question = "天空为什么是蓝色的？",
     .answer = "阳光被空气分子散射，波长较短的蓝光比红光散射得多得多（瑞利散射）。"},
    {.title = "二分查找的时间复杂度",
     .question = "二分查找的时间复杂度是多少？",
     .answer = "**O(log n)**：每次比较都把剩下的查找范围减半。"},
};

static gboolean store_conversation(PonderStore *store, const Conversation *conversation,
                                   GError **error)
{
    gint64 id = ponder_store_create_conversation(store, conversation->title, error);
    if (!id)
        return FALSE;
    gint64 question = ponder_store_add_user_message(store, id, 0, conversation->question, error);
    if (!question)
        return FALSE;
    gint64 answer = ponder_store_begin_answer(store, question, "DeepSeek-R1-Distill-Qwen-7B",
                                              "{\"temperature\":0.6,\"top_p\":0.95}", error);
    if (!answer)
        return FALSE;
    // Stats as a 7B model on a laptop GPU gives them; unknown (-1) for the short ones.
    gboolean timed = conversation->total_s > 0;
    PonderAnswerStats stats = {
        .finish = PONDER_FINISH_STOP,
        .prompt_tokens = timed ? 48 : -1,
        .completion_tokens = timed ? conversation->completion_tokens : -1,
        .first_token_s = timed ? 0.18 : -1,
        .total_s = timed ? conversation->total_s : -1,
        .tokens_per_second = timed ? conversation->tokens_per_second : -1,
    };
    return ponder_store_finish_answer(store, answer, conversation->answer, conversation->reasoning,
                                      &stats, error);
}

// Oldest first, so the sidebar (most recently active first) shows SHOWN on top.
static gboolean fill_store(const char *db_path, const Conversation *older, guint n_older,
                           const Conversation *shown, const Conversation *other, GError **error)
{
    g_autoptr(PonderStore) store = ponder_store_new(db_path, error);
    if (!store)
        return FALSE;
    for (guint i = 0; i < n_older; i++)
        if (!store_conversation(store, &older[i], error))
            return FALSE;
    if (other && !store_conversation(store, other, error))
        return FALSE;
    return store_conversation(store, shown, error);
}

// ---- driving the main loop ------------------------------------------------------------

typedef gboolean (*Condition)(gpointer data);

static gboolean keep_awake(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

// Iterates the main context until CONDITION holds; FALSE with an error naming WHAT after
// WAIT_TIMEOUT_S.
static gboolean wait_until(Condition condition, gpointer data, const char *what, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_TIMEOUT_S * G_USEC_PER_SEC;
    guint tick = g_timeout_add(10, keep_awake, NULL);
    gboolean met;
    while (!(met = condition(data)) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(tick);
    if (!met)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "timed out after %d s waiting until %s", WAIT_TIMEOUT_S, what);
    return met;
}

typedef struct {
    GtkWidget *widget;
    gint64 frames_left;
    gint64 last_frame;
} FrameCount;

// Counts frames the widget's clock actually painted, so layout and drawing caught up.
static gboolean after_frames(gpointer data)
{
    FrameCount *count = data;
    GdkFrameClock *clock = gtk_widget_get_frame_clock(count->widget);
    if (!clock)
        return FALSE;
    gint64 frame = gdk_frame_clock_get_frame_counter(clock);
    if (frame != count->last_frame) {
        count->last_frame = frame;
        count->frames_left--;
        gtk_widget_queue_draw(count->widget);
    }
    return count->frames_left <= 0;
}

static gboolean settle(GtkWidget *window, GError **error)
{
    FrameCount count = {window, 10, -1};
    return wait_until(after_frames, &count, "the window drew ten frames", error);
}

// ---- finding widgets ------------------------------------------------------------------

// An answer's row, mapped (the list view keeps unbound rows around).
static gboolean is_answer_row(GtkWidget *widget, gconstpointer data)
{
    if (!PONDER_IS_MESSAGE_ROW(widget) || !gtk_widget_get_mapped(widget))
        return FALSE;
    PonderMessageItem *item = ponder_message_row_get_item(PONDER_MESSAGE_ROW(widget));
    return item && ponder_message_item_get_message(item)->role == PONDER_MESSAGE_ROLE_ASSISTANT &&
           g_strcmp0(ponder_message_item_get_content(item), data) == 0;
}

// ---- the scenes ----------------------------------------------------------------------

typedef struct {
    PonderUiApplication *app;
    GtkWidget *window;
    GtkWidget *dialog; // shown over the window, or NULL
} Scene;

static gboolean engine_ready(gpointer data)
{
    PonderEngine *engine = ponder_core_get_engine(data);
    PonderEngineState state = ponder_engine_get_state(engine);
    return state == PONDER_ENGINE_READY || state == PONDER_ENGINE_FAILED;
}

// Chooses the tiny model as a user would on the onboarding page, and waits for it to load
// (the header then names it instead of "Loading…").
static gboolean choose_model(Scene *scene, GError **error)
{
    PonderCore *core = ponder_ui_application_get_core(scene->app);
    g_autoptr(PonderModelEntry) entry =
        g_list_model_get_item(ponder_model_library_get_models(ponder_core_get_library(core)), 0);
    if (!entry) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "the model library found no model in the temporary models folder");
        return FALSE;
    }
    gtk_widget_activate_action(scene->window, "win.choose-model", "s",
                               ponder_model_entry_get_slug(entry));
    if (!wait_until(engine_ready, core, "the tiny model loaded", error))
        return FALSE;
    PonderEngine *engine = ponder_core_get_engine(core);
    if (ponder_engine_get_state(engine) == PONDER_ENGINE_FAILED) {
        const GError *load_error = ponder_engine_get_last_error(engine);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the tiny model %s failed to load: %s",
                    ponder_model_entry_get_path(entry),
                    load_error ? load_error->message : "no reason given");
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    GtkWidget *view;
    const char *answer;
} AnswerShown;

static gboolean answer_shown(gpointer data)
{
    AnswerShown *shown = data;
    return ui_test_find_widget(shown->view, is_answer_row, shown->answer) != NULL;
}

// The row has the height it asks for (the list view measured it after the thinking opened or
// closed) and the answer below the thinking is drawn.
static gboolean answer_laid_out(gpointer data)
{
    AnswerShown *shown = data;
    GtkWidget *row = ui_test_find_widget(shown->view, is_answer_row, shown->answer);
    if (!row)
        return FALSE;
    GtkWidget *answer_view = ponder_message_row_get_answer_view(PONDER_MESSAGE_ROW(row));
    int natural;
    gtk_widget_measure(row, GTK_ORIENTATION_VERTICAL, gtk_widget_get_width(row), NULL, &natural,
                       NULL, NULL);
    return gtk_widget_get_height(row) >= natural && answer_view &&
           gtk_widget_is_drawable(answer_view) && gtk_widget_get_height(answer_view) > 0;
}

// Opens CONVERSATION from the sidebar (the row a user clicks), waits until its answer is on
// screen, opens or closes its thinking, and scrolls the chat to the top or the bottom.
static gboolean open_conversation(Scene *scene, const Conversation *conversation,
                                  gboolean expand_thinking, gboolean scroll_to_top, GError **error)
{
    if (!choose_model(scene, error))
        return FALSE;
    GtkWidget *list =
        ui_test_find_widget(scene->window, ui_test_is_type_named, "PonderConversationList");
    GtkWidget *title =
        list ? ui_test_find_widget(list, ui_test_is_label_with_text, conversation->title) : NULL;
    GtkWidget *row = title ? gtk_widget_get_ancestor(title, GTK_TYPE_LIST_BOX_ROW) : NULL;
    if (!row) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "the sidebar shows no conversation titled “%s”", conversation->title);
        return FALSE;
    }
    gtk_widget_activate(row);

    GtkWidget *view = ui_test_find_widget(scene->window, ui_test_is_type_named, "PonderChatView");
    AnswerShown shown = {view, conversation->answer};
    if (!wait_until(answer_shown, &shown, "the stored answer is shown", error))
        return FALSE;
    GtkWidget *answer_row = ui_test_find_widget(view, is_answer_row, conversation->answer);
    ponder_thinking_section_set_expanded(
        ponder_message_row_get_thinking_section(PONDER_MESSAGE_ROW(answer_row)), expand_thinking);
    if (!settle(scene->window, error))
        return FALSE;
    // Twice: rows below the first screen get their real height only once they are shown.
    GtkWidget *scrolled = ui_test_find_widget(view, ui_test_is_type_named, "GtkScrolledWindow");
    GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(scrolled));
    for (int pass = 0; pass < 2; pass++) {
        double bottom =
            gtk_adjustment_get_upper(adjustment) - gtk_adjustment_get_page_size(adjustment);
        gtk_adjustment_set_value(adjustment, scroll_to_top ? 0 : bottom);
        if (!settle(scene->window, error))
            return FALSE;
    }
    AnswerShown laid_out = {view, conversation->answer};
    return wait_until(answer_laid_out, &laid_out, "the answer's row took its full height", error);
}

// WINDOW's tree as it was last drawn. GTK keeps the drawing of each widget below a window,
// not of the window itself, so this is the window's background with its children on top.
static GskRenderNode *snapshot_window(GtkWidget *window)
{
    GtkSnapshot *snapshot = gtk_snapshot_new();
    GdkRGBA background = {1, 1, 1, 1};
    gtk_style_context_lookup_color(gtk_widget_get_style_context(window), "window_bg_color",
                                   &background);
    gtk_snapshot_append_color(
        snapshot, &background,
        &GRAPHENE_RECT_INIT(0, 0, gtk_widget_get_width(window), gtk_widget_get_height(window)));
    for (GtkWidget *child = gtk_widget_get_first_child(window); child;
         child = gtk_widget_get_next_sibling(child)) {
        graphene_point_t origin;
        if (GTK_IS_NATIVE(child) || !gtk_widget_get_mapped(child) ||
            !gtk_widget_compute_point(child, window, &GRAPHENE_POINT_INIT(0, 0), &origin))
            continue;
        g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new(child);
        gtk_snapshot_save(snapshot);
        gtk_snapshot_translate(snapshot, &origin);
        gdk_paintable_snapshot(paintable, snapshot, gtk_widget_get_width(child),
                               gtk_widget_get_height(child));
        gtk_snapshot_restore(snapshot);
    }
    return gtk_snapshot_free_to_node(snapshot);
}

// The preferences over the chat, centred as a window manager places a dialog (under Xvfb
// there is none, and each window is drawn on its own), with a compositor's shadow.
static GskRenderNode *compose_dialog(GtkWidget *window, GtkWidget *dialog)
{
    int width = gtk_widget_get_width(window), height = gtk_widget_get_height(window);
    int dialog_width = MIN(gtk_widget_get_width(dialog), width - 80);
    int dialog_height = MIN(gtk_widget_get_height(dialog), height - 80);
    GskRoundedRect outline;
    gsk_rounded_rect_init_from_rect(&outline,
                                    &GRAPHENE_RECT_INIT(0, 0, dialog_width, dialog_height), 12);
    GskRenderNode *window_node = snapshot_window(window);
    GskRenderNode *dialog_node = snapshot_window(dialog);

    GtkSnapshot *snapshot = gtk_snapshot_new();
    gtk_snapshot_append_node(snapshot, window_node);
    gtk_snapshot_translate(snapshot, &GRAPHENE_POINT_INIT((width - dialog_width) / 2.0f,
                                                          (height - dialog_height) / 2.0f));
    // The shadow a compositor would draw, so the dialog stands out from the window.
    gtk_snapshot_append_outset_shadow(snapshot, &outline, &(GdkRGBA){0, 0, 0, 0.35}, 0, 6, 2, 24);
    gtk_snapshot_push_rounded_clip(snapshot, &outline);
    gtk_snapshot_append_node(snapshot, dialog_node);
    gtk_snapshot_pop(snapshot);
    gsk_render_node_unref(window_node);
    gsk_render_node_unref(dialog_node);
    return gtk_snapshot_free_to_node(snapshot);
}

static GdkTexture *render(Scene *scene)
{
    GskRenderNode *node = scene->dialog ? compose_dialog(scene->window, scene->dialog)
                                        : snapshot_window(scene->window);
    GskRenderer *renderer = gtk_native_get_renderer(GTK_NATIVE(scene->window));
    graphene_rect_t viewport = GRAPHENE_RECT_INIT(0, 0, gtk_widget_get_width(scene->window),
                                                  gtk_widget_get_height(scene->window));
    GdkTexture *texture = gsk_renderer_render_texture(renderer, node, &viewport);
    gsk_render_node_unref(node);
    return texture;
}

static gboolean same_pixels(GdkTexture *a, GdkTexture *b)
{
    int width = gdk_texture_get_width(a), height = gdk_texture_get_height(a);
    if (width != gdk_texture_get_width(b) || height != gdk_texture_get_height(b))
        return FALSE;
    gsize stride = (gsize)width * 4;
    g_autofree guchar *pixels_a = g_malloc(stride * height);
    g_autofree guchar *pixels_b = g_malloc(stride * height);
    gdk_texture_download(a, pixels_a, stride);
    gdk_texture_download(b, pixels_b, stride);
    return memcmp(pixels_a, pixels_b, stride * height) == 0;
}

// The picture once it stays the same for ten frames: a row that was still being rebuilt or
// measured would otherwise come out half drawn.
static GdkTexture *capture(Scene *scene, GError **error)
{
    enum { ATTEMPTS = 10 };
    g_autoptr(GdkTexture) previous = render(scene);
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (!settle(scene->window, error) || (scene->dialog && !settle(scene->dialog, error)))
            return NULL;
        g_autoptr(GdkTexture) current = render(scene);
        if (same_pixels(previous, current))
            return g_steal_pointer(&current);
        g_set_object(&previous, current);
    }
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the window still changed after %d tries of ten frames", ATTEMPTS);
    return NULL;
}

static GdkTexture *shoot_onboarding(Scene *scene, GError **error)
{
    GtkWidget *onboarding =
        ui_test_find_widget(scene->window, ui_test_is_type_named, "PonderOnboardingPage");
    if (!onboarding || !gtk_widget_get_mapped(onboarding)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the window shows no onboarding page without a model");
        return NULL;
    }
    return capture(scene, error);
}

static GdkTexture *shoot_chat_thinking(Scene *scene, GError **error)
{
    if (!open_conversation(scene, &marbles, TRUE, TRUE, error))
        return NULL;
    return capture(scene, error);
}

static GdkTexture *shoot_code_block(Scene *scene, GError **error)
{
    if (!open_conversation(scene, &reverse, FALSE, FALSE, error))
        return NULL;
    return capture(scene, error);
}

static GdkTexture *shoot_chat_zh(Scene *scene, GError **error)
{
    if (!open_conversation(scene, &marbles_zh, TRUE, TRUE, error))
        return NULL;
    return capture(scene, error);
}

static GdkTexture *shoot_preferences(Scene *scene, GError **error)
{
    if (!open_conversation(scene, &marbles, FALSE, FALSE, error))
        return NULL;
    g_action_group_activate_action(G_ACTION_GROUP(scene->app), "preferences", NULL);
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(scene->app)); l; l = l->next)
        if (PONDER_IS_PREFERENCES_WINDOW(l->data))
            scene->dialog = l->data;
    if (!scene->dialog) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the app.preferences action opened no preferences window");
        return NULL;
    }
    GdkTexture *texture = capture(scene, error);
    gtk_window_destroy(GTK_WINDOW(scene->dialog));
    return texture;
}

typedef GdkTexture *(*Shoot)(Scene *scene, GError **error);

typedef struct {
    const char *name;
    const char *language; // LANGUAGE for the translations
    gboolean with_model;  // the tiny model in Ponder's folder (else onboarding lists none)
    const Conversation *older;
    guint n_older;
    const Conversation *shown, *other;
    Shoot shoot;
} State;

static const State states[] = {
    {"onboarding", "en", FALSE, NULL, 0, NULL, NULL, shoot_onboarding},
    {"chat-thinking", "en", TRUE, older_en, G_N_ELEMENTS(older_en), &marbles, &reverse,
     shoot_chat_thinking},
    {"code-block", "en", TRUE, older_en, G_N_ELEMENTS(older_en), &reverse, &marbles,
     shoot_code_block},
    {"preferences", "en", TRUE, older_en, G_N_ELEMENTS(older_en), &marbles, &reverse,
     shoot_preferences},
    {"chat-zh_CN", "zh_CN", TRUE, older_zh, G_N_ELEMENTS(older_zh), &marbles_zh, NULL,
     shoot_chat_zh},
};

// ---- running the application ----------------------------------------------------------

typedef struct {
    PonderUiApplication *app;
    const State *state;
    const char *output;
    int width, height;
    gboolean started;
    GError *error;
} Run;

typedef struct {
    GtkWidget *window;
    int width, height;
} Size;

static gboolean has_size(gpointer data)
{
    Size *size = data;
    return gtk_widget_get_width(size->window) == size->width &&
           gtk_widget_get_height(size->window) == size->height;
}

// The window's default size counts the frame GTK draws around it (the resize border without
// a window manager), the picture does not: grow the default size by the difference.
static gboolean fit_window(GtkWidget *window, int width, int height, GError **error)
{
    if (!settle(window, error))
        return FALSE;
    int default_width, default_height;
    gtk_window_get_default_size(GTK_WINDOW(window), &default_width, &default_height);
    gtk_window_set_default_size(GTK_WINDOW(window),
                                default_width + width - gtk_widget_get_width(window),
                                default_height + height - gtk_widget_get_height(window));
    Size size = {window, width, height};
    return wait_until(has_size, &size, "the window took the size asked for", error);
}

static gboolean run_scene(gpointer data)
{
    Run *run = data;
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(run->app));
    if (!PONDER_IS_WINDOW(window)) {
        g_set_error(&run->error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the application opened no Ponder window (is the core able to start?)");
    } else {
        Scene scene = {run->app, GTK_WIDGET(window), NULL};
        g_autoptr(GdkTexture) texture =
            fit_window(scene.window, run->width, run->height, &run->error)
                ? run->state->shoot(&scene, &run->error)
                : NULL;
        if (texture && !gdk_texture_save_to_png(texture, run->output))
            g_set_error(&run->error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not write %s",
                        run->output);
    }
    g_action_group_activate_action(G_ACTION_GROUP(run->app), "quit", NULL);
    return G_SOURCE_REMOVE;
}

static void on_activate(GApplication *app, Run *run)
{
    if (run->started)
        return;
    run->started = TRUE;
    g_idle_add(run_scene, run);
}

static gboolean run_app(const State *state, const char *output, int width, int height,
                        GError **error)
{
    PonderUiApplication *app = ponder_ui_application_new();
    // Never hand the command line to a Ponder that runs in this session.
    g_application_set_flags(G_APPLICATION(app),
                            g_application_get_flags(G_APPLICATION(app)) | G_APPLICATION_NON_UNIQUE);
    Run run = {.app = app, .state = state, .output = output, .width = width, .height = height};
    g_signal_connect_after(app, "activate", G_CALLBACK(on_activate), &run);
    char *argv[] = {"ponder", NULL};
    int status = g_application_run(G_APPLICATION(app), 1, argv);
    g_object_unref(app);
    if (run.error) {
        g_propagate_error(error, run.error);
        return FALSE;
    }
    if (status != 0 || !run.started) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the application exited with status %d before showing a window", status);
        return FALSE;
    }
    return TRUE;
}

// ---- set-up ---------------------------------------------------------------------------

// Compiles PO_DIR/LANGUAGE.po into LOCALE_DIR/LANGUAGE/LC_MESSAGES/ponder.mo.
static gboolean compile_translation(const char *po_dir, const char *language,
                                    const char *locale_dir, GError **error)
{
    g_autofree char *po_name = g_strconcat(language, ".po", NULL);
    g_autofree char *po = g_build_filename(po_dir, po_name, NULL);
    g_autofree char *messages_dir = g_build_filename(locale_dir, language, "LC_MESSAGES", NULL);
    g_autofree char *mo = g_build_filename(messages_dir, GETTEXT_PACKAGE ".mo", NULL);
    if (g_mkdir_with_parents(messages_dir, 0700) != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot create %s: %s",
                    messages_dir, g_strerror(errno));
        return FALSE;
    }
    const char *argv[] = {"msgfmt", "--check", "-o", mo, po, NULL};
    int wait_status;
    g_autofree char *errors = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &errors,
                      &wait_status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(wait_status, NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "msgfmt could not compile %s: %s", po,
                    errors);
        return FALSE;
    }
    return TRUE;
}

static void set_default_env(const char *name, const char *value)
{
    g_setenv(name, value, FALSE);
}

// What a fresh GNOME session would show, the same on every machine: light style, no
// animations caught half-way, GNOME's font when it is installed.
static void configure_look(void)
{
    g_object_set(gtk_settings_get_default(), "gtk-enable-animations", FALSE, "gtk-font-name",
                 "Cantarell 11", "gtk-cursor-blink", FALSE, NULL);
    adw_style_manager_set_color_scheme(adw_style_manager_get_default(),
                                       ADW_COLOR_SCHEME_FORCE_LIGHT);
}

static gboolean shoot(const State *state, const char *output, const char *po_dir, int width,
                      int height, const char *tmp_dir, GError **error)
{
    g_autofree char *data = g_build_filename(tmp_dir, "data", NULL);
    g_autofree char *config = g_build_filename(tmp_dir, "config", NULL);
    g_autofree char *cache = g_build_filename(tmp_dir, "cache", NULL);
    g_autofree char *home = g_build_filename(tmp_dir, "home", NULL);
    g_autofree char *locale_dir = g_build_filename(tmp_dir, "locale", NULL);
    g_autofree char *models_dir = g_build_filename(data, "ponder", "models", NULL);
    g_autofree char *db_path = g_build_filename(data, "ponder", "ponder.db", NULL);
    // Before GTK or GLib reads any of them (g_get_user_data_dir() caches its answer).
    g_setenv("XDG_DATA_HOME", data, TRUE);
    g_setenv("XDG_CONFIG_HOME", config, TRUE);
    g_setenv("XDG_CACHE_HOME", cache, TRUE);
    g_setenv("HOME", home, TRUE);
    g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
    g_setenv("LANGUAGE", state->language, TRUE);
    g_unsetenv("OLLAMA_MODELS");
    g_unsetenv("HF_HOME");
    g_unsetenv("HF_HUB_CACHE");
    set_default_env("GSETTINGS_SCHEMA_DIR", PONDER_SCHEMA_DIR);
    set_default_env("PONDER_SHARED", PONDER_SHARED_DIR);
    set_default_env("GDK_BACKEND", "x11");
    set_default_env("NO_AT_BRIDGE", "1");
    set_default_env("GTK_A11Y", "none");
    g_mkdir_with_parents(models_dir, 0700);
    g_mkdir_with_parents(home, 0700);

    // LANGUAGE is ignored in the C locale; C.UTF-8 keeps numbers the same on every machine.
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "C.utf8"))
        setlocale(LC_ALL, "");
    // LOCALEDIR is where an installed Ponder keeps its translations: not there yet.
    if (!g_str_equal(state->language, "en") &&
        !compile_translation(po_dir, state->language, locale_dir, error))
        return FALSE;
    bindtextdomain(GETTEXT_PACKAGE, locale_dir);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);

    if (!gtk_init_check()) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "no display (run it under xvfb-run, as tools/make-screenshots does)");
        return FALSE;
    }
    adw_init();
    configure_look();
    g_autoptr(GSettings) settings = ponder_ui_settings_new();
    if (!settings) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "the settings schema %s is not compiled in %s", PONDER_SETTINGS_SCHEMA_ID,
                    g_getenv("GSETTINGS_SCHEMA_DIR"));
        return FALSE;
    }
    // One CPU thread: nothing is generated, the model only has to load.
    g_settings_set_enum(settings, "backend", PONDER_BACKEND_CHOICE_CPU);
    g_settings_set_int(settings, "cpu-threads", 1);
    // All the tiny model has (the chat's context line shows it).
    g_settings_set_int(settings, "context-length", 512);
    g_settings_set_int(settings, "parallel", 1);
    g_settings_set_int(settings, "idle-unload-seconds", 0);
    g_settings_set_int(settings, "window-width", width);
    g_settings_set_int(settings, "window-height", height);
    g_settings_set_boolean(settings, "window-maximized", FALSE);

    if (state->with_model) {
        g_autofree char *model = app_test_make_tiny_model(models_dir, 7);
        if (!model) {
            g_autofree char *tokenizer =
                app_test_shared_path("tokenizers/deepseek-r1-distill-qwen/tokenizer.json");
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                        "the R1 tokenizer %s is missing (set PONDER_SHARED)", tokenizer);
            return FALSE;
        }
    }
    if (state->shown &&
        !fill_store(db_path, state->older, state->n_older, state->shown, state->other, error))
        return FALSE;
    return run_app(state, output, width, height, error);
}

int main(int argc, char **argv)
{
    int width = 1200, height = 800;
    g_autofree char *po_dir = NULL;
    const GOptionEntry entries[] = {
        {"width", 0, 0, G_OPTION_ARG_INT, &width, "Window width in pixels (1200)", "N"},
        {"height", 0, 0, G_OPTION_ARG_INT, &height, "Window height in pixels (800)", "N"},
        {"po-dir", 0, 0, G_OPTION_ARG_FILENAME, &po_dir, "Where LANGUAGE.po files are (po/)",
         "DIR"},
        {NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("STATE OUTPUT.png");
    g_autoptr(GString) summary =
        g_string_new("Renders the Ponder window to a PNG. STATE is one of:");
    for (guint i = 0; i < G_N_ELEMENTS(states); i++)
        g_string_append_printf(summary, " %s", states[i].name);
    g_option_context_set_summary(context, summary->str);
    g_option_context_add_main_entries(context, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("ponder-screenshots: %s\n", error->message);
        return 2;
    }
    if (argc != 3) {
        g_printerr("ponder-screenshots: expected STATE OUTPUT.png (see --help)\n");
        return 2;
    }
    if (width < 360 || height < 360 || width > 8192 || height > 8192) {
        g_printerr("ponder-screenshots: a window of %d×%d pixels is outside 360–8192\n", width,
                   height);
        return 2;
    }
    const State *state = NULL;
    for (guint i = 0; i < G_N_ELEMENTS(states); i++)
        if (g_str_equal(argv[1], states[i].name))
            state = &states[i];
    if (!state) {
        g_printerr("ponder-screenshots: no state named “%s” (see --help)\n", argv[1]);
        return 2;
    }

    g_autofree char *tmp_dir = g_dir_make_tmp("ponder-screenshots-XXXXXX", &error);
    if (!tmp_dir) {
        g_printerr("ponder-screenshots: %s\n", error->message);
        return 1;
    }
    gboolean ok =
        shoot(state, argv[2], po_dir ? po_dir : PONDER_PO_DIR, width, height, tmp_dir, &error);
    app_test_remove_tree(tmp_dir);
    if (!ok) {
        g_printerr("ponder-screenshots: %s: %s\n", state->name, error->message);
        return 1;
    }
    return 0;
}

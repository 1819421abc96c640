// Streaming contract: the item collects every delta (a string append) and says so; the row
// only marks itself dirty and redraws from a frame-clock tick, so however fast the deltas
// come the Markdown view gets at most one new text per frame, and the reasoning is appended
// (never re-set) to its text view.
#include "ponder-message-row.h"

#include <glib/gi18n.h>

#include "ponder-chat-resources.h"

#include "markdown/ponder-markdown-view.h"

struct _PonderMessageRow {
    GtkWidget parent_instance;

    // Template widgets.
    GtkWidget *box;
    GtkLabel *author_label;
    GtkStack *question_stack;
    GtkLabel *question_label;
    GtkTextView *edit_view;
    PonderThinkingSection *thinking;
    GtkWidget *answer_view;
    GtkLabel *status_label;
    GtkWidget *actions_box;
    GtkWidget *branch_box;
    GtkWidget *previous_button;
    GtkLabel *branch_label;
    GtkWidget *next_button;
    GtkWidget *copy_button;
    GtkWidget *edit_button;
    GtkWidget *regenerate_button;
    GtkWidget *continue_button;

    // Owned references.
    PonderMessageItem *item;
    gulong changed_handler, text_changed_handler;

    gboolean show_thinking;
    guint refresh_tick;
    // What the widgets show of the item's texts, so a refresh adds only what is new.
    guint shown_generation;
    gsize shown_reasoning_length;
    gsize shown_content_length;
    guint answer_updates;
};

G_DEFINE_FINAL_TYPE(PonderMessageRow, ponder_message_row, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SHOW_THINKING, N_PROPS };
static GParamSpec *properties[N_PROPS];

static gboolean is_answer(PonderMessageRow *self)
{
    return self->item &&
           ponder_message_item_get_message(self->item)->role == PONDER_MESSAGE_ROLE_ASSISTANT;
}

static gboolean answer_started(PonderMessageRow *self)
{
    return ponder_message_item_get_content_length(self->item) > 0;
}

// Why an answer's reasoning never reached its answer, or NULL when it did (or is still going).
static const char *thinking_interruption(const PonderMessage *m, gboolean streaming,
                                         gboolean started)
{
    if (streaming || started)
        return NULL;
    switch (m->finish) {
    case PONDER_FINISH_LENGTH: return _("Stopped at the length limit while thinking — Continue");
    case PONDER_FINISH_CANCELLED: return _("Stopped while thinking");
    case PONDER_FINISH_ERROR: return _("Failed while thinking");
    case PONDER_FINISH_NONE: return _("Interrupted while thinking — Continue");
    case PONDER_FINISH_STOP: break;
    }
    return NULL;
}

static char *format_status(const PonderMessage *m)
{
    g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
    if (m->completion_tokens >= 0)
        g_ptr_array_add(parts, g_strdup_printf(ngettext("%lld token", "%lld tokens",
                                                        (gulong)m->completion_tokens),
                                               (long long)m->completion_tokens));
    if (m->tokens_per_second >= 0)
        g_ptr_array_add(parts, g_strdup_printf(_("%.1f tokens/s"), m->tokens_per_second));
    if (m->first_token_s >= 0)
        g_ptr_array_add(parts, g_strdup_printf(_("%.2f s to first token"), m->first_token_s));
    switch (m->finish) {
    case PONDER_FINISH_STOP: break;
    case PONDER_FINISH_LENGTH:
        g_ptr_array_add(parts, g_strdup(_("Stopped at the length limit — Continue")));
        break;
    case PONDER_FINISH_CANCELLED: g_ptr_array_add(parts, g_strdup(_("Stopped"))); break;
    case PONDER_FINISH_NONE:
        g_ptr_array_add(parts, g_strdup(_("Interrupted before it finished — Continue")));
        break;
    case PONDER_FINISH_ERROR:
        g_ptr_array_add(parts, m->error ? g_strdup_printf(_("Failed: %s"), m->error)
                                        : g_strdup(_("Failed")));
        break;
    }
    g_ptr_array_add(parts, NULL);
    return g_strjoinv(" · ", (char **)parts->pdata);
}

// The texts, from a frame-clock tick (or at once when the row is bound to a new item).
static void refresh_text(PonderMessageRow *self)
{
    PonderMessageItem *item = self->item;
    if (!item)
        return;
    gboolean replaced = self->shown_generation != ponder_message_item_get_text_generation(item);
    if (!is_answer(self)) {
        if (replaced)
            gtk_label_set_text(self->question_label, ponder_message_item_get_content(item));
        self->shown_generation = ponder_message_item_get_text_generation(item);
        return;
    }
    gsize reasoning_length = ponder_message_item_get_reasoning_length(item);
    if (replaced || reasoning_length < self->shown_reasoning_length)
        ponder_thinking_section_set_text(self->thinking, ponder_message_item_get_reasoning(item));
    else if (reasoning_length > self->shown_reasoning_length)
        ponder_thinking_section_append(
            self->thinking, ponder_message_item_get_reasoning(item) + self->shown_reasoning_length,
            (gssize)(reasoning_length - self->shown_reasoning_length));
    self->shown_reasoning_length = reasoning_length;

    gsize content_length = ponder_message_item_get_content_length(item);
    if (replaced || content_length != self->shown_content_length) {
        ponder_markdown_view_set_text(PONDER_MARKDOWN_VIEW(self->answer_view),
                                      ponder_message_item_get_content(item));
        self->answer_updates++;
    }
    self->shown_content_length = content_length;
    gtk_widget_set_visible(self->answer_view, content_length > 0);
    self->shown_generation = ponder_message_item_get_text_generation(item);
}

static void update_thinking_visibility(PonderMessageRow *self)
{
    gboolean visible = FALSE;
    if (is_answer(self))
        visible = self->show_thinking &&
                  (ponder_message_item_get_reasoning_length(self->item) > 0 ||
                   (ponder_message_item_get_streaming(self->item) && !answer_started(self)));
    gtk_widget_set_visible(GTK_WIDGET(self->thinking), visible);
}

// Everything but the texts: cheap, and only on "changed" (a handful of times per answer).
static void refresh_state(PonderMessageRow *self)
{
    PonderMessageItem *item = self->item;
    if (!item)
        return;
    const PonderMessage *m = ponder_message_item_get_message(item);
    gboolean answer = is_answer(self);
    gboolean streaming = ponder_message_item_get_streaming(item);
    gboolean started = answer_started(self);

    gtk_widget_remove_css_class(self->box, answer ? "user" : "assistant");
    gtk_widget_add_css_class(self->box, answer ? "assistant" : "user");
    gtk_label_set_text(self->author_label, answer ? (m->model ? m->model : _("Answer")) : _("You"));
    gtk_widget_set_visible(GTK_WIDGET(self->question_stack), !answer);
    gtk_widget_set_visible(self->answer_view, answer && started);

    ponder_thinking_section_set_streaming(self->thinking, answer && streaming && !started);
    ponder_thinking_section_set_seconds(self->thinking,
                                        ponder_message_item_get_thinking_seconds(item));
    ponder_thinking_section_set_interruption(
        self->thinking, answer ? thinking_interruption(m, streaming, started) : NULL);
    update_thinking_visibility(self);

    if (answer && !streaming) {
        g_autofree char *status = format_status(m);
        gtk_label_set_text(self->status_label, status);
        gtk_widget_set_visible(GTK_WIDGET(self->status_label), *status != '\0');
    } else
        gtk_widget_set_visible(GTK_WIDGET(self->status_label), FALSE);
    if (m->finish == PONDER_FINISH_ERROR)
        gtk_widget_add_css_class(GTK_WIDGET(self->status_label), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(self->status_label), "error");

    gtk_widget_set_visible(self->actions_box, !streaming);
    gtk_widget_set_visible(self->edit_button, !answer);
    gtk_widget_set_visible(self->regenerate_button, answer);
    gtk_widget_set_visible(self->continue_button, answer && (m->finish == PONDER_FINISH_LENGTH ||
                                                             m->finish == PONDER_FINISH_NONE));
    // Regenerating answers the question again, beside this answer.
    // Targets first: an action name without its target would be activated without one.
    gtk_actionable_set_action_target(GTK_ACTIONABLE(self->regenerate_button), "x", m->id);
    gtk_actionable_set_action_name(GTK_ACTIONABLE(self->regenerate_button), "chat.regenerate");
    gtk_actionable_set_action_target(GTK_ACTIONABLE(self->continue_button), "x", m->id);
    gtk_actionable_set_action_name(GTK_ACTIONABLE(self->continue_button), "chat.continue");

    guint sibling_index, sibling_count;
    gint64 previous_sibling_id, next_sibling_id;
    ponder_message_item_get_siblings(item, &sibling_index, &sibling_count, &previous_sibling_id,
                                     &next_sibling_id);
    gboolean branches = ponder_message_item_has_siblings_info(item) && sibling_count > 1;
    gtk_widget_set_visible(self->branch_box, branches);
    if (branches) {
        g_autofree char *text = g_strdup_printf("%u/%u", sibling_index + 1, sibling_count);
        gtk_label_set_text(self->branch_label, text);
        g_autofree char *description =
            g_strdup_printf(_("Version %u of %u"), sibling_index + 1, sibling_count);
        gtk_accessible_update_property(GTK_ACCESSIBLE(self->branch_label),
                                       GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
        struct {
            GtkWidget *button;
            gint64 target;
        } neighbours[] = {{self->previous_button, previous_sibling_id},
                          {self->next_button, next_sibling_id}};
        for (guint i = 0; i < G_N_ELEMENTS(neighbours); i++) {
            GtkActionable *button = GTK_ACTIONABLE(neighbours[i].button);
            if (neighbours[i].target) {
                gtk_actionable_set_action_target(button, "x", neighbours[i].target);
                gtk_actionable_set_action_name(button, "chat.select-branch");
            } else {
                gtk_actionable_set_action_name(button, NULL);
                gtk_widget_set_sensitive(neighbours[i].button, FALSE);
            }
        }
    }
}

static gboolean on_refresh_tick(GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
    PonderMessageRow *self = PONDER_MESSAGE_ROW(widget);
    self->refresh_tick = 0;
    refresh_text(self);
    return G_SOURCE_REMOVE;
}

static void schedule_refresh(PonderMessageRow *self)
{
    if (!self->refresh_tick)
        self->refresh_tick =
            gtk_widget_add_tick_callback(GTK_WIDGET(self), on_refresh_tick, NULL, NULL);
}

static void on_item_text_changed(PonderMessageItem *item, PonderMessageRow *self)
{
    schedule_refresh(self);
}

static void on_item_changed(PonderMessageItem *item, PonderMessageRow *self)
{
    refresh_state(self);
    schedule_refresh(self);
}

static void end_edit(PonderMessageRow *self)
{
    gtk_stack_set_visible_child_name(self->question_stack, "view");
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->edit_view), "", 0);
}

static void on_copy_clicked(GtkButton *button, PonderMessageRow *self)
{
    if (self->item)
        gdk_clipboard_set_text(gtk_widget_get_clipboard(GTK_WIDGET(self)),
                               ponder_message_item_get_content(self->item));
}

static void on_edit_clicked(GtkButton *button, PonderMessageRow *self)
{
    ponder_message_row_begin_edit(self);
}

static void on_edit_cancel_clicked(GtkButton *button, PonderMessageRow *self)
{
    end_edit(self);
}

static void on_edit_save_clicked(GtkButton *button, PonderMessageRow *self)
{
    ponder_message_row_save_edit(self, NULL);
}

static gboolean on_edit_key_pressed(GtkEventControllerKey *controller, guint keyval, guint keycode,
                                    GdkModifierType state, PonderMessageRow *self)
{
    if (keyval == GDK_KEY_Escape) {
        end_edit(self);
        return TRUE;
    }
    // Ctrl+Enter saves; a plain Enter is a new line, as questions can have several.
    if ((keyval == GDK_KEY_Return || keyval == GDK_KEY_KP_Enter) && (state & GDK_CONTROL_MASK)) {
        ponder_message_row_save_edit(self, NULL);
        return TRUE;
    }
    return FALSE;
}

static void ponder_message_row_get_property(GObject *object, guint prop_id, GValue *value,
                                            GParamSpec *pspec)
{
    PonderMessageRow *self = PONDER_MESSAGE_ROW(object);
    switch (prop_id) {
    case PROP_SHOW_THINKING: g_value_set_boolean(value, self->show_thinking); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_message_row_set_property(GObject *object, guint prop_id, const GValue *value,
                                            GParamSpec *pspec)
{
    PonderMessageRow *self = PONDER_MESSAGE_ROW(object);
    switch (prop_id) {
    case PROP_SHOW_THINKING:
        ponder_message_row_set_show_thinking(self, g_value_get_boolean(value));
        break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_message_row_dispose(GObject *object)
{
    PonderMessageRow *self = PONDER_MESSAGE_ROW(object);
    ponder_message_row_set_item(self, NULL);
    gtk_widget_dispose_template(GTK_WIDGET(object), PONDER_TYPE_MESSAGE_ROW);
    G_OBJECT_CLASS(ponder_message_row_parent_class)->dispose(object);
}

static void ponder_message_row_class_init(PonderMessageRowClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->get_property = ponder_message_row_get_property;
    object_class->set_property = ponder_message_row_set_property;
    object_class->dispose = ponder_message_row_dispose;

    properties[PROP_SHOW_THINKING] =
        g_param_spec_boolean("show-thinking", NULL, NULL, TRUE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, properties);

    g_type_ensure(PONDER_TYPE_THINKING_SECTION);
    g_type_ensure(PONDER_TYPE_MARKDOWN_VIEW);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    // The bundle registers itself from a constructor; naming it keeps the linker from
    // dropping it out of the static library.
    ponder_chat_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/chat/ponder-message-row.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, box);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, author_label);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, question_stack);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, question_label);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, edit_view);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, thinking);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, answer_view);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, status_label);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, actions_box);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, branch_box);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, previous_button);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, branch_label);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, next_button);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, copy_button);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, edit_button);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, regenerate_button);
    gtk_widget_class_bind_template_child(widget_class, PonderMessageRow, continue_button);
    gtk_widget_class_bind_template_callback(widget_class, on_copy_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_edit_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_edit_cancel_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_edit_save_clicked);
}

static void ponder_message_row_init(PonderMessageRow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->show_thinking = TRUE;
    GtkEventController *keys = gtk_event_controller_key_new();
    g_signal_connect(keys, "key-pressed", G_CALLBACK(on_edit_key_pressed), self);
    gtk_widget_add_controller(GTK_WIDGET(self->edit_view), keys);
}

GtkWidget *ponder_message_row_new(void)
{
    return g_object_new(PONDER_TYPE_MESSAGE_ROW, NULL);
}

void ponder_message_row_set_item(PonderMessageRow *self, PonderMessageItem *item)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ROW(self));
    if (self->item == item)
        return;
    if (self->item) {
        g_clear_signal_handler(&self->changed_handler, self->item);
        g_clear_signal_handler(&self->text_changed_handler, self->item);
        g_clear_object(&self->item);
    }
    if (self->refresh_tick) {
        gtk_widget_remove_tick_callback(GTK_WIDGET(self), self->refresh_tick);
        self->refresh_tick = 0;
    }
    end_edit(self);
    if (!item)
        return;
    self->item = g_object_ref(item);
    self->changed_handler = g_signal_connect(item, "changed", G_CALLBACK(on_item_changed), self);
    self->text_changed_handler =
        g_signal_connect(item, "text-changed", G_CALLBACK(on_item_text_changed), self);
    // A recycled row shows another message: everything is drawn anew, now.
    self->shown_generation = ponder_message_item_get_text_generation(item) - 1;
    self->shown_reasoning_length = self->shown_content_length = 0;
    refresh_state(self);
    refresh_text(self);
}

PonderMessageItem *ponder_message_row_get_item(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), NULL);
    return self->item;
}

void ponder_message_row_set_show_thinking(PonderMessageRow *self, gboolean show_thinking)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ROW(self));
    show_thinking = !!show_thinking;
    if (self->show_thinking == show_thinking)
        return;
    self->show_thinking = show_thinking;
    update_thinking_visibility(self);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_SHOW_THINKING]);
}

gboolean ponder_message_row_get_show_thinking(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), FALSE);
    return self->show_thinking;
}

PonderThinkingSection *ponder_message_row_get_thinking_section(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), NULL);
    return self->thinking;
}

GtkWidget *ponder_message_row_get_answer_view(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), NULL);
    return self->answer_view;
}

const char *ponder_message_row_get_status_text(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), NULL);
    return gtk_widget_get_visible(GTK_WIDGET(self->status_label))
               ? gtk_label_get_text(self->status_label)
               : "";
}

const char *ponder_message_row_get_branch_text(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), NULL);
    return gtk_widget_get_visible(self->branch_box) ? gtk_label_get_text(self->branch_label) : NULL;
}

guint ponder_message_row_get_answer_updates(PonderMessageRow *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ROW(self), 0);
    return self->answer_updates;
}

void ponder_message_row_begin_edit(PonderMessageRow *self)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ROW(self));
    if (!self->item || is_answer(self))
        return;
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->edit_view);
    gtk_text_buffer_set_text(buffer, ponder_message_item_get_content(self->item), -1);
    gtk_stack_set_visible_child_name(self->question_stack, "edit");
    gtk_widget_grab_focus(GTK_WIDGET(self->edit_view));
}

void ponder_message_row_save_edit(PonderMessageRow *self, const char *text)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ROW(self));
    if (!self->item || is_answer(self))
        return;
    g_autofree char *edited = NULL;
    if (!text) {
        GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->edit_view);
        GtkTextIter start, end;
        gtk_text_buffer_get_bounds(buffer, &start, &end);
        edited = gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
        text = edited;
    }
    g_autofree char *trimmed = g_strstrip(g_strdup(text));
    if (!*trimmed)
        return;
    // The editor closes when the new branch replaces this message in the list (the row is
    // bound to the new one); when the view refuses (an answer is being generated, the disk
    // is full) it stays open, so the edited text is not lost.
    gtk_widget_activate_action(GTK_WIDGET(self), "chat.edit", "(xs)",
                               ponder_message_item_get_id(self->item), text);
}

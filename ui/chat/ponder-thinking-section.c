// The reasoning lives in a read-only GtkTextView rather than a GtkLabel: appending to a
// buffer lays out only the new lines, where a label would lay out the whole reasoning (R1
// can think for tens of thousands of tokens) on every frame.
#include "ponder-thinking-section.h"

#include <glib/gi18n.h>

#include "ponder-chat-resources.h"

struct _PonderThinkingSection {
    GtkWidget parent_instance;

    // Template widgets.
    GtkWidget *box;
    GtkToggleButton *toggle;
    GtkImage *arrow;
    GtkSpinner *spinner;
    GtkLabel *title_label;
    GtkTextView *text_view;
    GtkLabel *note_label;
    GtkRevealer *revealer;

    gboolean streaming;
    double seconds;
    char *interruption;
};

G_DEFINE_FINAL_TYPE(PonderThinkingSection, ponder_thinking_section, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_STREAMING, PROP_EXPANDED, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void update_title(PonderThinkingSection *self)
{
    g_autofree char *title = NULL;
    if (self->streaming)
        title = g_strdup(_("Thinking…"));
    else if (self->interruption)
        title = g_strdup(self->interruption);
    else if (self->seconds >= 0) {
        // Under a second still reads as one: "Thought for 0 seconds" would look broken.
        int seconds = MAX(1, (int)(self->seconds + 0.5));
        title = g_strdup_printf(
            ngettext("Thought for %d second", "Thought for %d seconds", seconds), seconds);
    } else
        title = g_strdup(_("Thoughts"));
    gtk_label_set_text(self->title_label, title);
    gtk_widget_set_visible(GTK_WIDGET(self->spinner), self->streaming);
    gtk_spinner_set_spinning(self->spinner, self->streaming);
    gtk_label_set_text(self->note_label, self->interruption ? self->interruption : "");
    gtk_widget_set_visible(GTK_WIDGET(self->note_label), !self->streaming && self->interruption);
}

static void on_toggled(GtkToggleButton *toggle, PonderThinkingSection *self)
{
    gboolean expanded = gtk_toggle_button_get_active(toggle);
    gtk_revealer_set_reveal_child(self->revealer, expanded);
    gtk_image_set_from_icon_name(self->arrow, expanded ? "pan-down-symbolic" : "pan-end-symbolic");
    gtk_accessible_update_state(GTK_ACCESSIBLE(toggle), GTK_ACCESSIBLE_STATE_EXPANDED, expanded,
                                -1);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_EXPANDED]);
}

static void on_copy_clicked(GtkButton *button, PonderThinkingSection *self)
{
    g_autofree char *text = ponder_thinking_section_get_text(self);
    gdk_clipboard_set_text(gtk_widget_get_clipboard(GTK_WIDGET(self)), text);
}

static void ponder_thinking_section_get_property(GObject *object, guint prop_id, GValue *value,
                                                 GParamSpec *pspec)
{
    PonderThinkingSection *self = PONDER_THINKING_SECTION(object);
    switch (prop_id) {
    case PROP_STREAMING: g_value_set_boolean(value, self->streaming); break;
    case PROP_EXPANDED:
        g_value_set_boolean(value, ponder_thinking_section_get_expanded(self));
        break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_thinking_section_set_property(GObject *object, guint prop_id,
                                                 const GValue *value, GParamSpec *pspec)
{
    PonderThinkingSection *self = PONDER_THINKING_SECTION(object);
    switch (prop_id) {
    case PROP_STREAMING:
        ponder_thinking_section_set_streaming(self, g_value_get_boolean(value));
        break;
    case PROP_EXPANDED:
        ponder_thinking_section_set_expanded(self, g_value_get_boolean(value));
        break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_thinking_section_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), PONDER_TYPE_THINKING_SECTION);
    G_OBJECT_CLASS(ponder_thinking_section_parent_class)->dispose(object);
}

static void ponder_thinking_section_finalize(GObject *object)
{
    g_free(PONDER_THINKING_SECTION(object)->interruption);
    G_OBJECT_CLASS(ponder_thinking_section_parent_class)->finalize(object);
}

static void ponder_thinking_section_class_init(PonderThinkingSectionClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->get_property = ponder_thinking_section_get_property;
    object_class->set_property = ponder_thinking_section_set_property;
    object_class->dispose = ponder_thinking_section_dispose;
    object_class->finalize = ponder_thinking_section_finalize;

    properties[PROP_STREAMING] =
        g_param_spec_boolean("streaming", NULL, NULL, FALSE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    properties[PROP_EXPANDED] =
        g_param_spec_boolean("expanded", NULL, NULL, FALSE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, properties);

    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    // The bundle registers itself from a constructor; naming it keeps the linker from
    // dropping it out of the static library.
    ponder_chat_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/chat/ponder-thinking-section.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, box);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, toggle);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, arrow);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, spinner);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, title_label);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, text_view);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, note_label);
    gtk_widget_class_bind_template_child(widget_class, PonderThinkingSection, revealer);
    gtk_widget_class_bind_template_callback(widget_class, on_copy_clicked);
}

static void ponder_thinking_section_init(PonderThinkingSection *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->seconds = -1;
    g_signal_connect(self->toggle, "toggled", G_CALLBACK(on_toggled), self);
    update_title(self);
}

GtkWidget *ponder_thinking_section_new(void)
{
    return g_object_new(PONDER_TYPE_THINKING_SECTION, NULL);
}

void ponder_thinking_section_set_text(PonderThinkingSection *self, const char *text)
{
    g_return_if_fail(PONDER_IS_THINKING_SECTION(self));
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->text_view), text ? text : "", -1);
}

void ponder_thinking_section_append(PonderThinkingSection *self, const char *delta, gssize length)
{
    g_return_if_fail(PONDER_IS_THINKING_SECTION(self));
    if (!delta || length == 0)
        return;
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->text_view);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(buffer, &end);
    gtk_text_buffer_insert(buffer, &end, delta, (int)length);
}

char *ponder_thinking_section_get_text(PonderThinkingSection *self)
{
    g_return_val_if_fail(PONDER_IS_THINKING_SECTION(self), NULL);
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->text_view);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    return gtk_text_buffer_get_text(buffer, &start, &end, TRUE);
}

void ponder_thinking_section_set_streaming(PonderThinkingSection *self, gboolean streaming)
{
    g_return_if_fail(PONDER_IS_THINKING_SECTION(self));
    streaming = !!streaming;
    if (self->streaming == streaming)
        return;
    self->streaming = streaming;
    // Live reasoning is worth watching; once the answer starts it is in the way.
    ponder_thinking_section_set_expanded(self, streaming);
    update_title(self);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STREAMING]);
}

gboolean ponder_thinking_section_get_streaming(PonderThinkingSection *self)
{
    g_return_val_if_fail(PONDER_IS_THINKING_SECTION(self), FALSE);
    return self->streaming;
}

void ponder_thinking_section_set_seconds(PonderThinkingSection *self, double seconds)
{
    g_return_if_fail(PONDER_IS_THINKING_SECTION(self));
    self->seconds = seconds;
    update_title(self);
}

void ponder_thinking_section_set_interruption(PonderThinkingSection *self, const char *reason)
{
    g_return_if_fail(PONDER_IS_THINKING_SECTION(self));
    if (g_strcmp0(self->interruption, reason) == 0)
        return;
    g_free(self->interruption);
    self->interruption = g_strdup(reason);
    update_title(self);
}

void ponder_thinking_section_set_expanded(PonderThinkingSection *self, gboolean expanded)
{
    g_return_if_fail(PONDER_IS_THINKING_SECTION(self));
    // The toggle's "toggled" handler does the rest and notifies.
    gtk_toggle_button_set_active(self->toggle, expanded);
}

gboolean ponder_thinking_section_get_expanded(PonderThinkingSection *self)
{
    g_return_val_if_fail(PONDER_IS_THINKING_SECTION(self), FALSE);
    return gtk_toggle_button_get_active(self->toggle);
}

const char *ponder_thinking_section_get_title(PonderThinkingSection *self)
{
    g_return_val_if_fail(PONDER_IS_THINKING_SECTION(self), NULL);
    return gtk_label_get_text(self->title_label);
}

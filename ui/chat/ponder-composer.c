// Enter is caught in the capture phase, before the text view would insert a line break
// (unless an input method is composing: then Enter is the input method's);
// Shift+Enter inserts the break itself (through the view's own "insert-at-cursor" keybinding
// signal, so undo and scrolling behave as for typed text) so both keys work the same when
// the key comes from an input method, the keyboard, or a test.
#include "ponder-composer.h"

#include <glib/gi18n.h>

#include "ponder-chat-resources.h"

struct _PonderComposer {
    GtkWidget parent_instance;

    // Template widgets.
    GtkWidget *box;
    GtkTextView *text_view;
    GtkButton *send_button;

    gboolean busy;
    gboolean composing; // an input method has text in preedit: Enter is its, not ours
};

G_DEFINE_FINAL_TYPE(PonderComposer, ponder_composer, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_BUSY, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_SEND, SIGNAL_STOP, N_SIGNALS };
static guint signals[N_SIGNALS];

static void update_button(PonderComposer *self)
{
    GtkWidget *button = GTK_WIDGET(self->send_button);
    const char *label = self->busy ? _("Stop") : _("Send");
    gtk_button_set_icon_name(self->send_button,
                             self->busy ? "media-playback-stop-symbolic" : "go-up-symbolic");
    gtk_widget_set_tooltip_text(button, label);
    gtk_accessible_update_property(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                   -1);
    if (self->busy) {
        gtk_widget_remove_css_class(button, "suggested-action");
        gtk_widget_add_css_class(button, "destructive-action");
    } else {
        gtk_widget_remove_css_class(button, "destructive-action");
        gtk_widget_add_css_class(button, "suggested-action");
    }
}

static void on_send_clicked(GtkButton *button, PonderComposer *self)
{
    if (self->busy)
        g_signal_emit(self, signals[SIGNAL_STOP], 0);
    else
        ponder_composer_submit(self);
}

static void on_preedit_changed(GtkTextView *view, const char *preedit, PonderComposer *self)
{
    self->composing = preedit && *preedit;
}

static gboolean on_key_pressed(GtkEventControllerKey *controller, guint keyval, guint keycode,
                               GdkModifierType state, PonderComposer *self)
{
    if (keyval == GDK_KEY_Escape && self->busy) {
        g_signal_emit(self, signals[SIGNAL_STOP], 0);
        return TRUE;
    }
    if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
        return FALSE;
    // Enter picks an input method's candidate; it must not send a half-composed message.
    if (self->composing)
        return FALSE;
    if (state & GDK_SHIFT_MASK) {
        g_signal_emit_by_name(self->text_view, "insert-at-cursor", "\n");
        return TRUE;
    }
    // Ctrl/Alt+Enter belong to other shortcuts; a busy composer keeps Enter from sending
    // (and from inserting a line break the user did not ask for).
    if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK))
        return FALSE;
    ponder_composer_submit(self);
    return TRUE;
}

static void ponder_composer_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec)
{
    PonderComposer *self = PONDER_COMPOSER(object);
    switch (prop_id) {
    case PROP_BUSY: g_value_set_boolean(value, self->busy); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_composer_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec)
{
    PonderComposer *self = PONDER_COMPOSER(object);
    switch (prop_id) {
    case PROP_BUSY: ponder_composer_set_busy(self, g_value_get_boolean(value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_composer_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), PONDER_TYPE_COMPOSER);
    G_OBJECT_CLASS(ponder_composer_parent_class)->dispose(object);
}

static gboolean ponder_composer_grab_focus(GtkWidget *widget)
{
    return gtk_widget_grab_focus(GTK_WIDGET(PONDER_COMPOSER(widget)->text_view));
}

static void ponder_composer_class_init(PonderComposerClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->get_property = ponder_composer_get_property;
    object_class->set_property = ponder_composer_set_property;
    object_class->dispose = ponder_composer_dispose;
    widget_class->grab_focus = ponder_composer_grab_focus;

    properties[PROP_BUSY] =
        g_param_spec_boolean("busy", NULL, NULL, FALSE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, properties);
    signals[SIGNAL_SEND] = g_signal_new("send", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
    signals[SIGNAL_STOP] = g_signal_new("stop", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 0);

    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    // The bundle registers itself from a constructor; naming it keeps the linker from
    // dropping it out of the static library.
    ponder_chat_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/chat/ponder-composer.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderComposer, box);
    gtk_widget_class_bind_template_child(widget_class, PonderComposer, text_view);
    gtk_widget_class_bind_template_child(widget_class, PonderComposer, send_button);
    gtk_widget_class_bind_template_callback(widget_class, on_send_clicked);
}

static void ponder_composer_init(PonderComposer *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    GtkEventController *keys = gtk_event_controller_key_new();
    gtk_event_controller_set_propagation_phase(keys, GTK_PHASE_CAPTURE);
    g_signal_connect(keys, "key-pressed", G_CALLBACK(on_key_pressed), self);
    gtk_widget_add_controller(GTK_WIDGET(self->text_view), keys);
    g_signal_connect(self->text_view, "preedit-changed", G_CALLBACK(on_preedit_changed), self);
    update_button(self);
}

GtkWidget *ponder_composer_new(void)
{
    return g_object_new(PONDER_TYPE_COMPOSER, NULL);
}

char *ponder_composer_get_text(PonderComposer *self)
{
    g_return_val_if_fail(PONDER_IS_COMPOSER(self), NULL);
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->text_view);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    return gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
}

void ponder_composer_set_text(PonderComposer *self, const char *text)
{
    g_return_if_fail(PONDER_IS_COMPOSER(self));
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->text_view), text ? text : "", -1);
}

GtkTextView *ponder_composer_get_text_view(PonderComposer *self)
{
    g_return_val_if_fail(PONDER_IS_COMPOSER(self), NULL);
    return self->text_view;
}

void ponder_composer_set_busy(PonderComposer *self, gboolean busy)
{
    g_return_if_fail(PONDER_IS_COMPOSER(self));
    busy = !!busy;
    if (self->busy == busy)
        return;
    self->busy = busy;
    update_button(self);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_BUSY]);
}

gboolean ponder_composer_get_busy(PonderComposer *self)
{
    g_return_val_if_fail(PONDER_IS_COMPOSER(self), FALSE);
    return self->busy;
}

gboolean ponder_composer_submit(PonderComposer *self)
{
    g_return_val_if_fail(PONDER_IS_COMPOSER(self), FALSE);
    if (self->busy)
        return FALSE;
    g_autofree char *text = ponder_composer_get_text(self);
    g_autofree char *trimmed = g_strstrip(g_strdup(text));
    if (!*trimmed)
        return FALSE;
    // Surrounding blank lines are noise; the text as typed stays in the view until the
    // chat view clears it.
    g_signal_emit(self, signals[SIGNAL_SEND], 0, trimmed);
    return TRUE;
}

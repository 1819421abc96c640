// The item collects every delta of a streaming answer (a string append, so a delta costs
// its own size) and says so with "text-changed"; everything else that changes (the stored
// message, the streaming state, the siblings) is "changed". Texts replaced rather than
// appended to bump the text generation, so a view can tell the two apart and draw only
// what is new (ponder-message-row.c).
#include "ponder-message-item.h"

struct _PonderMessageItem {
    GObject parent_instance;

    PonderMessage *message; // owned
    GString *content;
    GString *reasoning;
    guint text_generation; // bumped when the texts are replaced rather than appended to

    gboolean streaming;
    gint64 first_reasoning_us;
    gint64 first_answer_us;

    gboolean has_siblings_info;
    guint sibling_index, sibling_count;
    gint64 previous_sibling_id, next_sibling_id;
};

G_DEFINE_FINAL_TYPE(PonderMessageItem, ponder_message_item, G_TYPE_OBJECT)

enum { ITEM_SIGNAL_CHANGED, ITEM_SIGNAL_TEXT_CHANGED, N_ITEM_SIGNALS };
static guint item_signals[N_ITEM_SIGNALS];

static void ponder_message_item_finalize(GObject *object)
{
    PonderMessageItem *self = PONDER_MESSAGE_ITEM(object);
    g_clear_pointer(&self->message, ponder_message_free);
    g_string_free(self->content, TRUE);
    g_string_free(self->reasoning, TRUE);
    G_OBJECT_CLASS(ponder_message_item_parent_class)->finalize(object);
}

static void ponder_message_item_class_init(PonderMessageItemClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = ponder_message_item_finalize;
    // Anything but the texts: finish, stats, streaming state, siblings.
    item_signals[ITEM_SIGNAL_CHANGED] =
        g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 0);
    item_signals[ITEM_SIGNAL_TEXT_CHANGED] =
        g_signal_new("text-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 0);
}

static void ponder_message_item_init(PonderMessageItem *self)
{
    self->content = g_string_new(NULL);
    self->reasoning = g_string_new(NULL);
}

static void item_take_texts(PonderMessageItem *self, const PonderMessage *message)
{
    g_string_assign(self->content, message->content ? message->content : "");
    g_string_assign(self->reasoning, message->reasoning ? message->reasoning : "");
    self->text_generation++;
}

PonderMessageItem *ponder_message_item_new(PonderMessage *message)
{
    g_return_val_if_fail(message != NULL, NULL);
    PonderMessageItem *self = g_object_new(PONDER_TYPE_MESSAGE_ITEM, NULL);
    self->message = message;
    item_take_texts(self, message);
    return self;
}

const PonderMessage *ponder_message_item_get_message(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), NULL);
    return self->message;
}

gint64 ponder_message_item_get_id(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), 0);
    return self->message->id;
}

void ponder_message_item_set_message(PonderMessageItem *self, PonderMessage *message)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    g_return_if_fail(message != NULL && message->id == self->message->id);
    gboolean same_text =
        g_strcmp0(message->content, self->content->str) == 0 &&
        g_strcmp0(message->reasoning ? message->reasoning : "", self->reasoning->str) == 0;
    ponder_message_free(self->message);
    self->message = message;
    if (!same_text)
        item_take_texts(self, message);
    g_signal_emit(self, item_signals[ITEM_SIGNAL_CHANGED], 0);
    if (!same_text)
        g_signal_emit(self, item_signals[ITEM_SIGNAL_TEXT_CHANGED], 0);
}

const char *ponder_message_item_get_content(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), NULL);
    return self->content->str;
}

const char *ponder_message_item_get_reasoning(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), NULL);
    return self->reasoning->str;
}

gsize ponder_message_item_get_content_length(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), 0);
    return self->content->len;
}

gsize ponder_message_item_get_reasoning_length(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), 0);
    return self->reasoning->len;
}

guint ponder_message_item_get_text_generation(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), 0);
    return self->text_generation;
}

void ponder_message_item_set_texts(PonderMessageItem *self, const char *content,
                                   const char *reasoning)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    g_string_assign(self->content, content ? content : "");
    g_string_assign(self->reasoning, reasoning ? reasoning : "");
    self->text_generation++;
    g_signal_emit(self, item_signals[ITEM_SIGNAL_CHANGED], 0);
    g_signal_emit(self, item_signals[ITEM_SIGNAL_TEXT_CHANGED], 0);
}

void ponder_message_item_begin_streaming(PonderMessageItem *self)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    self->streaming = TRUE;
    self->first_reasoning_us = self->first_answer_us = 0;
    g_signal_emit(self, item_signals[ITEM_SIGNAL_CHANGED], 0);
}

void ponder_message_item_append_reasoning(PonderMessageItem *self, const char *delta)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    if (!delta || !*delta)
        return;
    if (!self->first_reasoning_us)
        self->first_reasoning_us = g_get_monotonic_time();
    g_string_append(self->reasoning, delta);
    g_signal_emit(self, item_signals[ITEM_SIGNAL_TEXT_CHANGED], 0);
}

void ponder_message_item_append_answer(PonderMessageItem *self, const char *delta)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    if (!delta || !*delta)
        return;
    gboolean first = !self->first_answer_us;
    if (first)
        self->first_answer_us = g_get_monotonic_time();
    g_string_append(self->content, delta);
    // The first answer text ends the thinking: the row's section collapses.
    if (first)
        g_signal_emit(self, item_signals[ITEM_SIGNAL_CHANGED], 0);
    g_signal_emit(self, item_signals[ITEM_SIGNAL_TEXT_CHANGED], 0);
}

void ponder_message_item_end_streaming(PonderMessageItem *self, PonderMessage *final)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    self->streaming = FALSE;
    if (final)
        ponder_message_item_set_message(self, final);
    else
        g_signal_emit(self, item_signals[ITEM_SIGNAL_CHANGED], 0);
}

gboolean ponder_message_item_get_streaming(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), FALSE);
    return self->streaming;
}

double ponder_message_item_get_thinking_seconds(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), -1);
    if (!self->first_reasoning_us || !self->first_answer_us)
        return -1;
    return (self->first_answer_us - self->first_reasoning_us) / 1e6;
}

void ponder_message_item_set_siblings(PonderMessageItem *self, guint index, guint count,
                                      gint64 previous_id, gint64 next_id)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    self->has_siblings_info = TRUE;
    self->sibling_index = index;
    self->sibling_count = count;
    self->previous_sibling_id = previous_id;
    self->next_sibling_id = next_id;
    g_signal_emit(self, item_signals[ITEM_SIGNAL_CHANGED], 0);
}

gboolean ponder_message_item_has_siblings_info(PonderMessageItem *self)
{
    g_return_val_if_fail(PONDER_IS_MESSAGE_ITEM(self), FALSE);
    return self->has_siblings_info;
}

void ponder_message_item_get_siblings(PonderMessageItem *self, guint *index, guint *count,
                                      gint64 *previous_id, gint64 *next_id)
{
    g_return_if_fail(PONDER_IS_MESSAGE_ITEM(self));
    *index = self->sibling_index;
    *count = self->sibling_count;
    *previous_id = self->previous_sibling_id;
    *next_id = self->next_sibling_id;
}

// Plain pthread locks rather than GMutex (a futex on Linux): ThreadSanitizer understands
// them, so its CI run checks this hand-over for real.
//
// The engine thread pushes text, progress and the end into `pending` under `lock`; one
// source on the submitter's main context drains it at most once per frame (16 ms), so a
// model producing 1,000 tokens/s costs the UI ~60 updates a second, not 1,000.
#include "ponder-generation-private.h"

#include <pthread.h>

#define FRAME_MS 16

typedef struct {
    GString *reasoning;
    GString *answer;
    gboolean started;
    gboolean has_progress;
    guint progress_done, progress_total;
    gboolean finished;
} PendingEvents;

struct _PonderGeneration {
    GObject parent_instance;

    PonderGenerationRequest request;
    gboolean submitted;
    gint cancelled;  // atomic
    gint answer_now; // atomic
    GMainContext *main_context;

    // Shared with the engine thread, under lock.
    pthread_mutex_t lock;
    PendingEvents pending;
    gboolean flush_scheduled;
    PonderGenerationStats stats;
    gint64 submitted_us, started_us, first_token_us, finished_us;
    PonderFinishReason finish_reason;
    gboolean in_reasoning;
    GError *error;

    // Main context only: what the signals delivered.
    GString *reasoning;
    GString *answer;
    gboolean finished;
    guint deltas_emitted;
};

G_DEFINE_FINAL_TYPE(PonderGeneration, ponder_generation, G_TYPE_OBJECT)

enum {
    SIGNAL_STARTED,
    SIGNAL_PROGRESS,
    SIGNAL_REASONING_DELTA,
    SIGNAL_ANSWER_DELTA,
    SIGNAL_FINISHED,
    N_SIGNALS
};
static guint signals[N_SIGNALS];

static void ponder_generation_finalize(GObject *object)
{
    PonderGeneration *self = PONDER_GENERATION(object);
    PonderGenerationRequest *r = &self->request;
    for (gsize i = 0; i < r->n_messages; i++)
        g_free((char *)r->messages[i].text);
    g_free(r->messages);
    g_free((char *)r->partial.reasoning);
    g_free((char *)r->partial.answer);
    g_free(r->raw_text);
    g_strfreev(r->stop);
    g_string_free(self->pending.reasoning, TRUE);
    g_string_free(self->pending.answer, TRUE);
    g_string_free(self->reasoning, TRUE);
    g_string_free(self->answer, TRUE);
    g_clear_error(&self->error);
    g_clear_pointer(&self->main_context, g_main_context_unref);
    pthread_mutex_destroy(&self->lock);
    G_OBJECT_CLASS(ponder_generation_parent_class)->finalize(object);
}

static void ponder_generation_class_init(PonderGenerationClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = ponder_generation_finalize;
    // Admitted to a sequence; the prompt's token counts are known.
    signals[SIGNAL_STARTED] = g_signal_new("started", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
    // Prefill progress of a long prompt: tokens done, tokens in all.
    signals[SIGNAL_PROGRESS] =
        g_signal_new("progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT);
    signals[SIGNAL_REASONING_DELTA] =
        g_signal_new("reasoning-delta", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
    signals[SIGNAL_ANSWER_DELTA] =
        g_signal_new("answer-delta", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
    signals[SIGNAL_FINISHED] = g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void ponder_generation_init(PonderGeneration *self)
{
    pthread_mutex_init(&self->lock, NULL);
    self->pending.reasoning = g_string_new(NULL);
    self->pending.answer = g_string_new(NULL);
    self->reasoning = g_string_new(NULL);
    self->answer = g_string_new(NULL);
    self->request.priority = PONDER_PRIORITY_INTERACTIVE;
    self->request.sampling = sampler_default_params();
    self->request.reasoning_budget = -1;
}

PonderGeneration *ponder_generation_new_chat(const ChatMessage *messages, gsize n_messages,
                                             const PonderPartialAnswer *partial)
{
    PonderGeneration *self = g_object_new(PONDER_TYPE_GENERATION, NULL);
    PonderGenerationRequest *r = &self->request;
    r->kind = PONDER_GENERATION_CHAT;
    r->messages = g_new0(ChatMessage, MAX(n_messages, 1));
    r->n_messages = n_messages;
    for (gsize i = 0; i < n_messages; i++) {
        r->messages[i].role = messages[i].role;
        r->messages[i].text = g_strdup(messages[i].text ? messages[i].text : "");
    }
    if (partial) {
        r->has_partial = TRUE;
        r->partial.reasoning = g_strdup(partial->reasoning ? partial->reasoning : "");
        r->partial.answer = g_strdup(partial->answer);
    }
    return self;
}

PonderGeneration *ponder_generation_new_raw(const char *text)
{
    PonderGeneration *self = g_object_new(PONDER_TYPE_GENERATION, NULL);
    self->request.kind = PONDER_GENERATION_RAW;
    self->request.raw_text = g_strdup(text ? text : "");
    return self;
}

void ponder_generation_set_priority(PonderGeneration *self, PonderPriority priority)
{
    g_return_if_fail(!self->submitted);
    self->request.priority = priority;
}

void ponder_generation_set_sampling(PonderGeneration *self, const SamplerParams *params)
{
    g_return_if_fail(!self->submitted);
    self->request.sampling = *params;
}

void ponder_generation_set_max_tokens(PonderGeneration *self, guint max_tokens)
{
    g_return_if_fail(!self->submitted);
    self->request.max_tokens = max_tokens;
}

void ponder_generation_set_stop(PonderGeneration *self, const char *const *stop)
{
    g_return_if_fail(!self->submitted);
    g_strfreev(self->request.stop);
    // Empty stop strings would match everywhere: leave them out.
    GStrvBuilder *builder = g_strv_builder_new();
    for (gsize i = 0; stop && stop[i]; i++)
        if (*stop[i])
            g_strv_builder_add(builder, stop[i]);
    self->request.stop = g_strv_builder_end(builder);
    g_strv_builder_unref(builder);
}

void ponder_generation_set_ignore_eos(PonderGeneration *self, gboolean ignore_eos)
{
    g_return_if_fail(!self->submitted);
    self->request.ignore_eos = ignore_eos;
}

void ponder_generation_set_reasoning_budget(PonderGeneration *self, gint budget)
{
    g_return_if_fail(!self->submitted);
    self->request.reasoning_budget = budget < 0 ? -1 : budget;
}

void ponder_generation_set_reasoning_effort(PonderGeneration *self, PonderReasoningEffort effort)
{
    g_return_if_fail(!self->submitted);
    self->request.reasoning_effort = effort;
}

void ponder_generation_set_loop_guard(PonderGeneration *self, gboolean loop_guard)
{
    g_return_if_fail(!self->submitted);
    self->request.loop_guard = loop_guard;
}

gint ponder_reasoning_effort_budget(PonderReasoningEffort effort, guint n_ctx, guint n_prompt)
{
    gint preset;
    switch (effort) {
    case PONDER_REASONING_EFFORT_DEFAULT: return -1;
    case PONDER_REASONING_EFFORT_NONE: return 0;
    case PONDER_REASONING_EFFORT_MINIMAL: preset = 256; break;
    case PONDER_REASONING_EFFORT_LOW: preset = 1024; break;
    case PONDER_REASONING_EFFORT_MEDIUM: preset = 4096; break;
    case PONDER_REASONING_EFFORT_HIGH: preset = 12288; break;
    default: preset = G_MAXINT; break;
    }
    // what stays of the context after the prompt and the answer's share
    gint64 room = (gint64)n_ctx - n_prompt - PONDER_ANSWER_RESERVE;
    return (gint)CLAMP(room, 0, preset);
}

void ponder_generation_cancel(PonderGeneration *self)
{
    g_atomic_int_set(&self->cancelled, 1);
}

void ponder_generation_answer_now(PonderGeneration *self)
{
    g_atomic_int_set(&self->answer_now, 1);
}

gboolean ponder_generation_is_finished(PonderGeneration *self)
{
    return self->finished;
}

PonderFinishReason ponder_generation_get_finish_reason(PonderGeneration *self)
{
    pthread_mutex_lock(&self->lock);
    PonderFinishReason reason = self->finished ? self->finish_reason : PONDER_FINISH_NONE;
    pthread_mutex_unlock(&self->lock);
    return reason;
}

const GError *ponder_generation_get_error(PonderGeneration *self)
{
    return self->finished ? self->error : NULL;
}

gboolean ponder_generation_ended_in_reasoning(PonderGeneration *self)
{
    return self->finished && self->in_reasoning;
}

const char *ponder_generation_get_reasoning(PonderGeneration *self)
{
    return self->reasoning->str;
}

const char *ponder_generation_get_answer(PonderGeneration *self)
{
    return self->answer->str;
}

void ponder_generation_get_stats(PonderGeneration *self, PonderGenerationStats *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->stats;
    gint64 end = self->finished_us ? self->finished_us : g_get_monotonic_time();
    if (self->started_us)
        out->queued_us = self->started_us - self->submitted_us;
    if (self->first_token_us) {
        out->prefill_us = self->first_token_us - self->started_us;
        out->decode_us = end - self->first_token_us;
    }
    out->total_us = end - self->submitted_us;
    pthread_mutex_unlock(&self->lock);
    out->deltas_emitted = self->deltas_emitted;
}

// ---- for the engine ------------------------------------------------------------------

const PonderGenerationRequest *ponder_generation_get_request(PonderGeneration *self)
{
    return &self->request;
}

void ponder_generation_mark_submitted(PonderGeneration *self)
{
    self->submitted = TRUE;
    self->submitted_us = g_get_monotonic_time();
    self->main_context = g_main_context_ref_thread_default();
}

gboolean ponder_generation_is_cancelled(PonderGeneration *self)
{
    return g_atomic_int_get(&self->cancelled) != 0;
}

gboolean ponder_generation_answer_now_requested(PonderGeneration *self)
{
    return g_atomic_int_get(&self->answer_now) != 0;
}

// Main context: delivers everything pending, in the order the UI needs (start, progress,
// text, end).
static gboolean flush_pending(gpointer data)
{
    PonderGeneration *self = data;
    pthread_mutex_lock(&self->lock);
    PendingEvents events = self->pending;
    self->pending = (PendingEvents){.reasoning = g_string_new(NULL), .answer = g_string_new(NULL)};
    self->flush_scheduled = FALSE;
    pthread_mutex_unlock(&self->lock);

    if (events.started)
        g_signal_emit(self, signals[SIGNAL_STARTED], 0);
    if (events.has_progress)
        g_signal_emit(self, signals[SIGNAL_PROGRESS], 0, events.progress_done,
                      events.progress_total);
    if (events.reasoning->len) {
        g_string_append_len(self->reasoning, events.reasoning->str, (gssize)events.reasoning->len);
        self->deltas_emitted++;
        g_signal_emit(self, signals[SIGNAL_REASONING_DELTA], 0, events.reasoning->str);
    }
    if (events.answer->len) {
        g_string_append_len(self->answer, events.answer->str, (gssize)events.answer->len);
        self->deltas_emitted++;
        g_signal_emit(self, signals[SIGNAL_ANSWER_DELTA], 0, events.answer->str);
    }
    g_string_free(events.reasoning, TRUE);
    g_string_free(events.answer, TRUE);
    if (events.finished) {
        self->finished = TRUE;
        g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
        g_object_unref(self); // the engine's reference, handed over by push_finished
    }
    return G_SOURCE_REMOVE;
}

// Under lock: makes sure one flush is on its way (at once for the end, else next frame).
static void schedule_flush_locked(PonderGeneration *self, gboolean now)
{
    if (self->flush_scheduled)
        return;
    self->flush_scheduled = TRUE;
    GSource *source = now ? g_idle_source_new() : g_timeout_source_new(FRAME_MS);
    g_source_set_callback(source, flush_pending, g_object_ref(self), g_object_unref);
    g_source_set_static_name(source, "[ponder] generation flush");
    g_source_attach(source, self->main_context);
    g_source_unref(source);
}

void ponder_generation_push_started(PonderGeneration *self, guint prompt_tokens,
                                    guint cached_tokens, guint dropped_messages, gint64 load_us)
{
    pthread_mutex_lock(&self->lock);
    self->started_us = g_get_monotonic_time();
    self->stats.prompt_tokens = prompt_tokens;
    self->stats.cached_tokens = cached_tokens;
    self->stats.prefill_tokens = prompt_tokens - cached_tokens;
    self->stats.dropped_messages = dropped_messages;
    self->stats.load_us = load_us;
    self->pending.started = TRUE;
    schedule_flush_locked(self, FALSE);
    pthread_mutex_unlock(&self->lock);
}

void ponder_generation_push_progress(PonderGeneration *self, guint done, guint total)
{
    pthread_mutex_lock(&self->lock);
    self->pending.has_progress = TRUE;
    self->pending.progress_done = done;
    self->pending.progress_total = total;
    schedule_flush_locked(self, FALSE);
    pthread_mutex_unlock(&self->lock);
}

void ponder_generation_push_text(PonderGeneration *self, gboolean reasoning, const char *text,
                                 gsize len)
{
    if (!len)
        return;
    pthread_mutex_lock(&self->lock);
    g_string_append_len(reasoning ? self->pending.reasoning : self->pending.answer, text,
                        (gssize)len);
    schedule_flush_locked(self, FALSE);
    pthread_mutex_unlock(&self->lock);
}

void ponder_generation_push_token(PonderGeneration *self, gboolean reasoning)
{
    pthread_mutex_lock(&self->lock);
    if (self->stats.completion_tokens++ == 0)
        self->first_token_us = g_get_monotonic_time();
    self->stats.reasoning_tokens += reasoning != FALSE;
    pthread_mutex_unlock(&self->lock);
}

void ponder_generation_push_reasoning_end(PonderGeneration *self, PonderReasoningEnd end)
{
    pthread_mutex_lock(&self->lock);
    self->stats.reasoning_end = end;
    pthread_mutex_unlock(&self->lock);
}

void ponder_generation_push_usage(PonderGeneration *self, guint prompt_tokens,
                                  guint completion_tokens)
{
    pthread_mutex_lock(&self->lock);
    self->stats.prompt_tokens = prompt_tokens;
    self->stats.prefill_tokens = prompt_tokens - MIN(self->stats.cached_tokens, prompt_tokens);
    if (completion_tokens)
        self->stats.completion_tokens = completion_tokens;
    pthread_mutex_unlock(&self->lock);
}

void ponder_generation_push_finished(PonderGeneration *self, PonderFinishReason reason,
                                     gboolean in_reasoning, GError *error)
{
    pthread_mutex_lock(&self->lock);
    self->finished_us = g_get_monotonic_time();
    if (!self->started_us)
        self->started_us = self->finished_us;
    self->finish_reason = reason;
    self->in_reasoning = in_reasoning;
    g_clear_error(&self->error);
    self->error = error;
    self->pending.finished = TRUE;
    schedule_flush_locked(self, TRUE);
    pthread_mutex_unlock(&self->lock);
}

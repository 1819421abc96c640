// The engine thread. Everything under `lock` is shared with the main thread (the queue, the
// requested model, the state shown to the UI); everything in the "engine thread only" group
// is touched by the engine thread alone, so a forward step runs without holding any lock.
//
// Scheduling, once per forward step:
//   1. take commands (load, eject, quit) and admit waiting requests into free sequence
//      slots — interactive ones before API ones, each group first come first served;
//   2. one step for all admitted requests: one token for each that is generating, and
//      prompt tokens for those still prefilling, at most `step_tokens` of them, so a
//      pasted file neither starves the others nor delays a cancel by more than a step;
//   3. sample, stream, finish what ended (EOS, stop string, length limit, cancel).
// Slots double as the prefix cache: a finished request leaves its tokens in its slot's KV
// cache, and the next request takes the free slot sharing the longest prefix with its
// prompt (the LRU slot when none does), so the next turn of a conversation prefills only
// its new tokens.
#include "ponder-engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ponder-generation-private.h"
#include "ponder-remote-provider.h"

// clang-format off
G_DEFINE_QUARK(ponder-engine-error-quark, ponder_engine_error)
// clang-format on

typedef struct Active Active;

typedef struct {
    int32_t seq;      // the context's sequence id
    GArray *tokens;   // gint32 ids held in its KV cache
    guint prompt_len; // of those, the prompt of the request that filled it
    guint64 last_used;
    Active *active; // the request running in it, or NULL
} Slot;

struct Active {
    PonderGeneration *generation; // owned
    const PonderGenerationRequest *request;
    Slot *slot;
    gint32 *prompt;
    guint n_prompt;
    guint n_fed; // prompt tokens in the KV cache
    gboolean generating;
    gint32 next_token;
    guint n_generated, max_tokens;
    Sampler *sampler;
    TokenDecoder decoder;
    ReasoningParser parser;
    GString *held_answer; // answer text that may be the start of a stop string
    gboolean stopped;     // a stop string matched: the rest is dropped
    float *logits;        // [n_vocab]
    char *piece;          // decoder output buffer

    // The reasoning: what closes it, and what it has been.
    gint budget;             // reasoning tokens before the engine closes it; -1: never
    gboolean reasoning_over; // closed, or there is none (raw text, an answer at once)
    guint n_reasoning;
    GArray *thought;      // its token ids, for the loop guard (NULL: no guard)
    const GArray *forced; // the closing being fed instead of samples, or NULL
    guint n_forced_fed;
    PonderReasoningEnd closing_reason;
};

struct _PonderEngine {
    GObject parent_instance;

    GMainContext *main_context;
    GThread *thread;

    // Shared, under lock.
    pthread_mutex_t lock;
    pthread_cond_t wake; // on CLOCK_MONOTONIC, the clock of g_get_monotonic_time
    PonderEngineSettings settings;
    gboolean settings_changed;
    char *model_path;
    gboolean load_requested, eject_requested, quit;
    GQueue waiting[2]; // by PonderPriority
    PonderEngineState state;
    char *backend_name, *backend_note;
    GError *last_error;
    gboolean notify_scheduled;
    char *remote_url; // the remote provider's, shown as the backend note of a remote model

    // Main context only: the remote provider that runs "remote:ID" models, or NULL.
    PonderRemoteProvider *remote;
    // Main context only: copies of the shared state, refreshed by each notification.
    PonderEngineState main_state;
    char *main_model_path, *main_backend_name, *main_backend_note;
    GError *main_last_error;

    // Engine thread only.
    PonderModel *model;
    PonderContext *ctx;
    PonderEngineSettings loaded_settings;
    // What the engine appends to close a reasoning ("\n</think>\n\n" as the template writes
    // it), and with R1-0528's "<think>\n" in front where the model had not opened one yet.
    // NULL when the vocabulary lacks R1's markers (raw text only).
    GArray *closing, *open_and_close;
    Slot *slots;
    guint n_slots;
    guint64 lru_clock;
    GPtrArray *active; // Active *
    gint64 idle_since_us;
    gint n_running; // atomic: active->len, for other threads
};

G_DEFINE_FINAL_TYPE(PonderEngine, ponder_engine, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };
static GParamSpec *properties[N_PROPS];

void ponder_engine_settings_init(PonderEngineSettings *s)
{
    *s = (PonderEngineSettings){
        .backend = PONDER_BACKEND_CHOICE_AUTO,
        .gpu_layers = -1,
        .gpu_device = -1,
        .n_ctx = 0,
        .n_parallel = 4,
        .kv_type = PONDER_KV_F16,
        .n_threads = 0,
        .max_answer_tokens = 16384,
        .max_queued = 32,
        .idle_unload_seconds = 600,
        .step_tokens = 256,
    };
}

// ---- state shown to the main context ---------------------------------------------------

static gboolean notify_state_on_main(gpointer data)
{
    PonderEngine *self = data;
    pthread_mutex_lock(&self->lock);
    self->notify_scheduled = FALSE;
    self->main_state = self->state;
    g_free(self->main_model_path);
    self->main_model_path = g_strdup(self->model_path);
    g_free(self->main_backend_name);
    self->main_backend_name = g_strdup(self->backend_name);
    g_free(self->main_backend_note);
    self->main_backend_note = g_strdup(self->backend_note);
    g_clear_error(&self->main_last_error);
    self->main_last_error = self->last_error ? g_error_copy(self->last_error) : NULL;
    pthread_mutex_unlock(&self->lock);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STATE]);
    return G_SOURCE_REMOVE;
}

// Under lock.
static void schedule_notify_locked(PonderEngine *self)
{
    if (self->notify_scheduled)
        return;
    self->notify_scheduled = TRUE;
    GSource *source = g_idle_source_new();
    g_source_set_callback(source, notify_state_on_main, g_object_ref(self), g_object_unref);
    g_source_set_static_name(source, "[ponder] engine state");
    g_source_attach(source, self->main_context);
    g_source_unref(source);
}

// Engine thread. Takes ERROR.
static void set_state(PonderEngine *self, PonderEngineState state, const char *backend,
                      const char *note, GError *error)
{
    pthread_mutex_lock(&self->lock);
    self->state = state;
    g_free(self->backend_name);
    self->backend_name = g_strdup(backend);
    g_free(self->backend_note);
    self->backend_note = g_strdup(note);
    g_clear_error(&self->last_error);
    self->last_error = error;
    schedule_notify_locked(self);
    pthread_mutex_unlock(&self->lock);
}

// Engine thread. With a remote model chosen nothing is loaded here, yet it is ready.
static void show_unloaded(PonderEngine *self, const char *model_path)
{
    if (!g_str_has_prefix(model_path ? model_path : "", PONDER_REMOTE_MODEL_PREFIX)) {
        set_state(self, PONDER_ENGINE_UNLOADED, NULL, NULL, NULL);
        return;
    }
    pthread_mutex_lock(&self->lock);
    g_autofree char *url = g_strdup(self->remote_url);
    pthread_mutex_unlock(&self->lock);
    set_state(self, PONDER_ENGINE_READY, "remote", url, NULL);
}

// ---- requests ------------------------------------------------------------------------

static void active_free(Active *a)
{
    g_clear_object(&a->generation);
    g_free(a->prompt);
    if (a->sampler)
        sampler_free(a->sampler);
    if (a->held_answer)
        g_string_free(a->held_answer, TRUE);
    g_free(a->logits);
    g_free(a->piece);
    if (a->thought)
        g_array_unref(a->thought);
    g_free(a);
}

// Answer text goes out at once unless it could be the beginning of a stop string.
static void feed_answer(Active *a, const char *text, size_t len)
{
    if (a->stopped || !len)
        return;
    GStrv stop = a->request->stop;
    if (!stop || !stop[0]) {
        ponder_generation_push_text(a->generation, FALSE, text, len);
        return;
    }
    g_string_append_len(a->held_answer, text, (gssize)len);
    const char *held = a->held_answer->str;
    gsize first = a->held_answer->len;
    for (gsize i = 0; stop[i]; i++) {
        const char *hit = strstr(held, stop[i]);
        if (hit && (gsize)(hit - held) < first) {
            first = (gsize)(hit - held);
            a->stopped = TRUE;
        }
    }
    gsize keep = 0;
    if (!a->stopped) {
        // The longest tail of the held text that a stop string starts with.
        for (gsize i = 0; stop[i]; i++) {
            gsize n = MIN(strlen(stop[i]) - 1, a->held_answer->len);
            for (; n > keep; n--)
                if (memcmp(held + a->held_answer->len - n, stop[i], n) == 0)
                    break;
            keep = MAX(keep, n);
        }
        first = a->held_answer->len - keep;
    }
    ponder_generation_push_text(a->generation, FALSE, held, first);
    g_string_erase(a->held_answer, 0, (gssize)(a->stopped ? a->held_answer->len : first));
}

static void emit_phase(void *user, ReasoningPhase phase, const char *text, size_t len)
{
    Active *a = user;
    if (phase == REASONING_PHASE_THINKING) {
        if (!a->stopped)
            ponder_generation_push_text(a->generation, TRUE, text, len);
    } else {
        feed_answer(a, text, len);
    }
}

static void feed_text(Active *a, const char *text, size_t len)
{
    if (a->request->kind == PONDER_GENERATION_RAW)
        feed_answer(a, text, len);
    else
        reasoning_parser_push(&a->parser, text, len, emit_phase, a);
}

// Ends A's generation (flushing held text) and frees its slot for the next request.
static void finish_active(PonderEngine *self, Active *a, PonderFinishReason reason, GError *error)
{
    const Tokenizer *tok = ponder_model_tokenizer(self->model);
    gboolean in_reasoning = FALSE;
    if (a->piece && tok) {
        int n = token_decoder_finish(&a->decoder, a->piece, tokenizer_max_token_bytes(tok) + 16);
        if (n > 0)
            feed_text(a, a->piece, (size_t)n);
        if (a->request->kind == PONDER_GENERATION_CHAT)
            in_reasoning = reasoning_parser_finish(&a->parser, emit_phase, a);
    }
    if (a->held_answer && a->held_answer->len && !a->stopped)
        ponder_generation_push_text(a->generation, FALSE, a->held_answer->str, a->held_answer->len);
    ponder_generation_push_finished(g_steal_pointer(&a->generation), reason, in_reasoning, error);
    if (a->slot) {
        a->slot->active = NULL;
        a->slot->last_used = ++self->lru_clock;
    }
    g_ptr_array_remove_fast(self->active, a);
    g_atomic_int_set(&self->n_running, (gint)self->active->len);
    active_free(a);
    if (self->active->len == 0)
        self->idle_since_us = g_get_monotonic_time();
}

// Finishes a generation that never reached a slot.
static void finish_unstarted(PonderGeneration *generation, PonderFinishReason reason, GError *error)
{
    ponder_generation_push_finished(generation, reason, FALSE, error);
}

// ---- model loading -------------------------------------------------------------------

static void unload_model(PonderEngine *self)
{
    while (self->active->len) {
        Active *a = g_ptr_array_index(self->active, 0);
        finish_active(self, a, PONDER_FINISH_CANCELLED,
                      g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_EJECTED,
                                  "the model was unloaded while answering"));
    }
    for (guint i = 0; i < self->n_slots; i++)
        g_array_unref(self->slots[i].tokens);
    g_clear_pointer(&self->slots, g_free);
    self->n_slots = 0;
    g_clear_pointer(&self->ctx, ponder_context_free);
    g_clear_pointer(&self->closing, g_array_unref);
    g_clear_pointer(&self->open_and_close, g_array_unref);
    g_clear_pointer(&self->model, ponder_model_free);
}

static void append_plain(GArray *ids, const Tokenizer *tok, const char *text)
{
    int32_t *out = NULL;
    int64_t n = tokenizer_encode(tok, text, strlen(text), false, &out);
    if (n > 0)
        g_array_append_vals(ids, out, (guint)n);
    free(out);
}

// The closing tokens of TOK's chat format (markers by their text, never by id).
static void make_closings(PonderEngine *self, const Tokenizer *tok)
{
    ChatMarkers markers;
    char err[256];
    if (!chat_find_markers(tok, &markers, err, sizeof err))
        return;
    self->closing = g_array_new(FALSE, FALSE, sizeof(gint32));
    append_plain(self->closing, tok, "\n");
    g_array_append_val(self->closing, markers.end_think);
    append_plain(self->closing, tok, "\n\n");
    self->open_and_close = g_array_new(FALSE, FALSE, sizeof(gint32));
    g_array_append_val(self->open_and_close, markers.think);
    append_plain(self->open_and_close, tok, "\n");
    g_array_append_vals(self->open_and_close, self->closing->data, self->closing->len);
}

static gboolean load_model(PonderEngine *self, const char *path,
                           const PonderEngineSettings *settings, GError **error)
{
    unload_model(self);
    set_state(self, PONDER_ENGINE_LOADING, NULL, NULL, NULL);
    PonderError err = {0};
    PonderModel *model = ponder_model_load(path, &err);
    if (!model) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_LOAD, "could not load %s: %s",
                    path, err.message);
        set_state(self, PONDER_ENGINE_FAILED, NULL, NULL, g_error_copy(*error));
        return FALSE;
    }
    if (!ponder_model_tokenizer(model)) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_LOAD,
                    "could not load %s: the file has no tokenizer", path);
        ponder_model_free(model);
        set_state(self, PONDER_ENGINE_FAILED, NULL, NULL, g_error_copy(*error));
        return FALSE;
    }
    const PonderModelInfo *info = ponder_model_info(model);
    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = ponder_context_length(settings->n_ctx, info->n_ctx_train);
    params.n_seq = MAX(settings->n_parallel, 1);
    params.n_threads = settings->n_threads;
    params.gpu_layers = settings->gpu_layers;
    params.gpu_device = settings->gpu_device;
    params.kv_type = settings->kv_type;
    params.prefill_chunk = MAX(settings->step_tokens, 1);

    // Auto tries the GPU backends first; a machine without their drivers still runs.
    PonderBackend order[3];
    guint n_order = 0;
    switch (settings->backend) {
    case PONDER_BACKEND_CHOICE_AUTO:
        order[n_order++] = PONDER_BACKEND_CUDA;
        order[n_order++] = PONDER_BACKEND_VULKAN;
        order[n_order++] = PONDER_BACKEND_CPU;
        break;
    case PONDER_BACKEND_CHOICE_CUDA: order[n_order++] = PONDER_BACKEND_CUDA; break;
    case PONDER_BACKEND_CHOICE_VULKAN: order[n_order++] = PONDER_BACKEND_VULKAN; break;
    case PONDER_BACKEND_CHOICE_CPU: order[n_order++] = PONDER_BACKEND_CPU; break;
    }
    g_autoptr(GString) note = g_string_new(NULL);
    PonderContext *ctx = NULL;
    for (guint i = 0; i < n_order && !ctx; i++) {
        params.backend = order[i];
        ctx = ponder_context_new(model, &params, &err);
        if (ctx)
            break;
        // A model too big for the GPU is the user's choice to make (fewer layers, or the
        // CPU), not a silent fall-back to something twenty times slower.
        if (err.status == PONDER_ERR_NO_MEMORY) {
            g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_NO_GPU_MEMORY,
                        "%s does not fit on the %s backend: %s. Choose fewer GPU layers or the "
                        "CPU backend.",
                        path, ponder_backend_name(order[i]), err.message);
            break;
        }
        if (i + 1 == n_order)
            g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND, "%s: %s",
                        ponder_backend_name(order[i]), err.message);
        else
            g_string_append_printf(note, "%s%s: %s", note->len ? "; " : "",
                                   ponder_backend_name(order[i]), err.message);
    }
    if (!ctx) {
        ponder_model_free(model);
        set_state(self, PONDER_ENGINE_FAILED, NULL, NULL, g_error_copy(*error));
        return FALSE;
    }
    self->model = model;
    self->ctx = ctx;
    make_closings(self, ponder_model_tokenizer(model));
    self->loaded_settings = *settings;
    self->n_slots = params.n_seq;
    self->slots = g_new0(Slot, self->n_slots);
    for (guint i = 0; i < self->n_slots; i++) {
        self->slots[i].seq = ponder_seq_new(ctx);
        self->slots[i].tokens = g_array_new(FALSE, FALSE, sizeof(gint32));
    }
    self->idle_since_us = g_get_monotonic_time();
    set_state(self, PONDER_ENGINE_READY, ponder_backend_name(params.backend),
              note->len ? note->str : NULL, NULL);
    return TRUE;
}

// ---- admitting a request -------------------------------------------------------------

static guint common_prefix(const GArray *cached, const gint32 *prompt, guint n_prompt)
{
    guint n = MIN(cached->len, n_prompt);
    const gint32 *ids = (const gint32 *)cached->data;
    guint i = 0;
    while (i < n && ids[i] == prompt[i])
        i++;
    return i;
}

// The free slot to run PROMPT in. A slot continues a conversation when the prompt shares at
// least half of the prompt that slot last ran (the next turn shares all of it, up to the
// answer, whose reasoning is never sent back); among those, the longest shared prefix wins.
// Otherwise the least recently used slot is evicted — not one that merely shares the first
// marker tokens, which would throw away a conversation for nothing.
static Slot *choose_slot(PonderEngine *self, const gint32 *prompt, guint n_prompt, guint *prefix)
{
    Slot *best = NULL, *lru = NULL;
    guint best_prefix = 0;
    for (guint i = 0; i < self->n_slots; i++) {
        Slot *s = &self->slots[i];
        if (s->active)
            continue;
        if (!lru || s->last_used < lru->last_used)
            lru = s;
        guint p = common_prefix(s->tokens, prompt, n_prompt);
        if (s->prompt_len && 2 * p >= s->prompt_len && p > best_prefix) {
            best = s;
            best_prefix = p;
        }
    }
    if (!best) {
        best = lru;
        best_prefix = lru ? common_prefix(lru->tokens, prompt, n_prompt) : 0;
    }
    *prefix = best_prefix;
    return best;
}

static gboolean build_prompt(PonderEngine *self, const PonderGenerationRequest *r, guint max_tokens,
                             PonderChatPrompt *out, GError **error)
{
    const Tokenizer *tok = ponder_model_tokenizer(self->model);
    guint n_ctx = ponder_context_n_ctx(self->ctx);
    // Room kept for the answer: its limit, but at most a quarter of the context, so that a
    // long conversation still gets most of it.
    guint reserve = MIN(max_tokens, n_ctx / 4);
    if (r->kind == PONDER_GENERATION_CHAT) {
        g_autoptr(GError) local = NULL;
        if (ponder_chat_prompt_build(tok, r->messages, r->n_messages,
                                     r->has_partial ? &r->partial : NULL, n_ctx - reserve, out,
                                     &local))
            return TRUE;
        gboolean too_long =
            g_error_matches(local, PONDER_CHAT_PROMPT_ERROR, PONDER_CHAT_PROMPT_ERROR_TOO_LONG);
        g_set_error_literal(error, PONDER_ENGINE_ERROR,
                            too_long ? PONDER_ENGINE_ERROR_PROMPT_TOO_LONG
                                     : PONDER_ENGINE_ERROR_INVALID,
                            local->message);
        return FALSE;
    }
    int32_t *ids = NULL;
    int64_t n = tokenizer_encode(tok, r->raw_text, strlen(r->raw_text), false, &ids);
    if (n < 0) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_INVALID,
                    "the prompt could not be tokenized");
        return FALSE;
    }
    gboolean bos = tokenizer_add_bos(tok) && tokenizer_bos(tok) >= 0;
    guint total = (guint)n + bos;
    if (total == 0 || total > n_ctx - reserve) {
        g_set_error(
            error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_PROMPT_TOO_LONG,
            total ? "the prompt is too long: it needs %u tokens, but the context leaves room for %u"
                  : "the prompt is empty",
            total, n_ctx - reserve);
        free(ids);
        return FALSE;
    }
    out->ids = g_new(gint32, total);
    if (bos)
        out->ids[0] = tokenizer_bos(tok);
    memcpy(out->ids + bos, ids, (size_t)n * sizeof(gint32));
    out->n_ids = total;
    out->n_dropped_messages = 0;
    free(ids);
    return TRUE;
}

// Takes GENERATION. Loads the model when none is (after an eject or an idle unload).
static void admit(PonderEngine *self, PonderGeneration *generation, const char *model_path,
                  const PonderEngineSettings *settings)
{
    if (ponder_generation_is_cancelled(generation)) {
        finish_unstarted(generation, PONDER_FINISH_CANCELLED, NULL);
        return;
    }
    gint64 load_us = 0;
    if (!self->model) {
        GError *error = NULL;
        gint64 t0 = g_get_monotonic_time();
        if (!model_path) {
            finish_unstarted(generation, PONDER_FINISH_ERROR,
                             g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_NO_MODEL,
                                         "no model is chosen"));
            return;
        }
        if (g_str_has_prefix(model_path, PONDER_REMOTE_MODEL_PREFIX)) {
            finish_unstarted(generation, PONDER_FINISH_CANCELLED,
                             g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_EJECTED,
                                         "a remote model was chosen before this request ran"));
            return;
        }
        if (!load_model(self, model_path, settings, &error)) {
            finish_unstarted(generation, PONDER_FINISH_ERROR, error);
            return;
        }
        load_us = g_get_monotonic_time() - t0;
    }
    const PonderGenerationRequest *r = ponder_generation_get_request(generation);
    guint max_tokens = r->max_tokens ? r->max_tokens : self->loaded_settings.max_answer_tokens;
    PonderChatPrompt prompt = {0};
    GError *error = NULL;
    if (!build_prompt(self, r, max_tokens, &prompt, &error)) {
        finish_unstarted(generation, PONDER_FINISH_ERROR, error);
        return;
    }
    guint prefix = 0;
    Slot *slot = choose_slot(self, prompt.ids, prompt.n_ids, &prefix);
    g_assert(slot); // admit is only called with a free slot
    // The last prompt token is always computed: its logits choose the first answer token.
    guint keep = MIN(prefix, prompt.n_ids - 1);
    ponder_seq_truncate(self->ctx, slot->seq, keep);
    g_array_set_size(slot->tokens, keep);
    slot->prompt_len = prompt.n_ids;

    const Tokenizer *tok = ponder_model_tokenizer(self->model);
    uint32_t n_vocab = ponder_model_info(self->model)->n_vocab;
    Active *a = g_new0(Active, 1);
    a->generation = generation;
    a->request = r;
    a->slot = slot;
    a->prompt = prompt.ids;
    a->n_prompt = prompt.n_ids;
    a->n_fed = keep;
    a->max_tokens = max_tokens;
    a->sampler = sampler_new(&r->sampling, (int32_t)n_vocab);
    for (guint i = 0; i < a->n_prompt; i++)
        sampler_accept(a->sampler, a->prompt[i]);
    token_decoder_init(&a->decoder);
    reasoning_parser_init_for(&a->parser, tok);
    if (r->has_partial && r->partial.answer) {
        // Continuing after "</think>": the new text belongs to the answer.
        a->parser.phase = REASONING_PHASE_ANSWER;
        a->parser.seen_text = true;
    }
    a->reasoning_over =
        r->kind == PONDER_GENERATION_RAW || a->parser.phase == REASONING_PHASE_ANSWER;
    a->budget = r->reasoning_budget;
    gint effort_budget = ponder_reasoning_effort_budget(
        r->reasoning_effort, ponder_context_n_ctx(self->ctx), prompt.n_ids);
    if (effort_budget >= 0 && (a->budget < 0 || effort_budget < a->budget))
        a->budget = effort_budget;
    if (a->budget >= (gint)max_tokens || !self->closing)
        a->budget = -1; // the length limit comes first (or there is no closing to write)
    if (r->loop_guard && self->closing)
        a->thought = g_array_new(FALSE, FALSE, sizeof(gint32));
    a->held_answer = g_string_new(NULL);
    a->logits = g_new(float, n_vocab);
    a->piece = g_malloc(tokenizer_max_token_bytes(tok) + 16);
    slot->active = a;
    g_ptr_array_add(self->active, a);
    g_atomic_int_set(&self->n_running, (gint)self->active->len);
    ponder_generation_push_started(generation, prompt.n_ids, keep, prompt.n_dropped_messages,
                                   load_us);
}

// ---- one forward step ----------------------------------------------------------------

// Whether the last reasoning tokens are one span of 16-64 tokens written 4 times in a row.
static gboolean thought_repeats(const GArray *thought)
{
    const gint32 *end = (const gint32 *)thought->data + thought->len;
    for (guint span = 16; span <= 64 && 4 * span <= thought->len; span++) {
        guint i = 1;
        while (i <= 3 * span && end[-(gint)i] == end[-(gint)(i + span)])
            i++;
        if (i > 3 * span)
            return TRUE;
    }
    return FALSE;
}

// Whether A's reasoning must be closed now, and why (the budget, the user, the loop guard).
static gboolean closing_due(Active *a, PonderReasoningEnd *why)
{
    if (a->reasoning_over || a->forced)
        return FALSE;
    if (a->budget >= 0 && a->n_reasoning >= (guint)a->budget)
        *why = PONDER_REASONING_END_BUDGET;
    else if (ponder_generation_answer_now_requested(a->generation))
        *why = PONDER_REASONING_END_ANSWER_NOW;
    else if (a->thought && thought_repeats(a->thought))
        *why = PONDER_REASONING_END_LOOP;
    else
        return FALSE;
    return TRUE;
}

// The next token: the closing's while one is being fed, else the sampler's.
static int32_t next_token(PonderEngine *self, Active *a)
{
    PonderReasoningEnd why;
    if (closing_due(a, &why)) {
        // R1-0528 opens "<think>" itself: before it has, the closing opens it too.
        gboolean unopened = !a->parser.seen_text && a->parser.answer_unless_think;
        a->forced = unopened ? self->open_and_close : self->closing;
        a->n_forced_fed = 0;
        a->closing_reason = why;
    }
    if (a->forced) {
        int32_t token = g_array_index(a->forced, gint32, a->n_forced_fed++);
        if (a->n_forced_fed == a->forced->len)
            a->forced = NULL;
        return token;
    }
    return sampler_sample(a->sampler, a->logits);
}

// Whether TOKEN (just fed to the parser while the reasoning was open) is one of the
// reasoning's: all of them through the one that closes it; an R1-0528 answer that never
// opened "<think>" had none.
static gboolean count_reasoning(Active *a, int32_t token, gboolean was_unopened)
{
    gboolean thinking = a->parser.phase == REASONING_PHASE_THINKING;
    if (!thinking && was_unopened && a->parser.answer_unless_think && !a->closing_reason) {
        a->reasoning_over = TRUE; // the answer began at once
        return FALSE;
    }
    a->n_reasoning++;
    if (a->thought)
        g_array_append_val(a->thought, token);
    if (!thinking) {
        a->reasoning_over = TRUE;
        ponder_generation_push_reasoning_end(
            a->generation, a->closing_reason ? a->closing_reason : PONDER_REASONING_END_MODEL);
    }
    return TRUE;
}

static void after_logits(PonderEngine *self, Active *a)
{
    const Tokenizer *tok = ponder_model_tokenizer(self->model);
    int32_t token = next_token(self, a);
    if (!a->request->ignore_eos && token == tokenizer_eos(tok)) {
        finish_active(self, a, PONDER_FINISH_STOP, NULL);
        return;
    }
    sampler_accept(a->sampler, token);
    a->n_generated++;
    gboolean was_open = !a->reasoning_over, was_unopened = !a->parser.seen_text;
    int n =
        token_decoder_push(&a->decoder, tok, token, a->piece, tokenizer_max_token_bytes(tok) + 16);
    if (n > 0)
        feed_text(a, a->piece, (size_t)n);
    ponder_generation_push_token(a->generation,
                                 was_open && count_reasoning(a, token, was_unopened));
    if (a->stopped)
        finish_active(self, a, PONDER_FINISH_STOP, NULL);
    else if (a->n_generated >= a->max_tokens)
        finish_active(self, a, PONDER_FINISH_LENGTH, NULL);
    else {
        a->next_token = token;
        a->generating = TRUE;
    }
}

static void run_step(PonderEngine *self)
{
    guint n_ctx = ponder_context_n_ctx(self->ctx);
    // A cancelled request leaves before the step, so its slot is free for the next one.
    for (guint i = self->active->len; i-- > 0;) {
        Active *a = g_ptr_array_index(self->active, i);
        if (ponder_generation_is_cancelled(a->generation))
            finish_active(self, a, PONDER_FINISH_CANCELLED, NULL);
        else if (a->generating && a->slot->tokens->len + 1 > n_ctx)
            finish_active(self, a, PONDER_FINISH_LENGTH, NULL); // the context is full
    }
    if (!self->active->len)
        return;

    guint n = self->active->len;
    g_autofree PonderBatchEntry *entries = g_new0(PonderBatchEntry, n);
    g_autofree Active **owners = g_new0(Active *, n);
    guint n_entries = 0;
    guint budget = MAX(self->loaded_settings.step_tokens, 1);
    for (guint i = 0; i < n; i++) {
        Active *a = g_ptr_array_index(self->active, i);
        if (!a->generating)
            continue;
        entries[n_entries] = (PonderBatchEntry){
            .seq = a->slot->seq, .tokens = &a->next_token, .n_tokens = 1, .logits = a->logits};
        owners[n_entries++] = a;
    }
    for (guint i = 0; i < n && budget > 0; i++) {
        Active *a = g_ptr_array_index(self->active, i);
        if (a->generating)
            continue;
        guint take = MIN(a->n_prompt - a->n_fed, budget);
        budget -= take;
        gboolean last = a->n_fed + take == a->n_prompt;
        entries[n_entries] = (PonderBatchEntry){.seq = a->slot->seq,
                                                .tokens = a->prompt + a->n_fed,
                                                .n_tokens = take,
                                                .logits = last ? a->logits : NULL};
        owners[n_entries++] = a;
    }

    PonderError err = {0};
    PonderStatus status = ponder_decode(self->ctx, entries, n_entries, &err);
    if (status != PONDER_OK) {
        // The sequences' caches are in an unknown state: empty them, fail their requests.
        for (guint i = 0; i < n_entries; i++) {
            Active *a = owners[i];
            ponder_seq_truncate(self->ctx, a->slot->seq, 0);
            g_array_set_size(a->slot->tokens, 0);
            a->slot->prompt_len = 0;
            finish_active(
                self, a, PONDER_FINISH_ERROR,
                g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND, "%s", err.message));
        }
        return;
    }
    for (guint i = 0; i < n_entries; i++) {
        Active *a = owners[i];
        g_array_append_vals(a->slot->tokens, entries[i].tokens, entries[i].n_tokens);
        if (!a->generating) {
            a->n_fed += entries[i].n_tokens;
            if (a->n_prompt > self->loaded_settings.step_tokens)
                ponder_generation_push_progress(a->generation, a->n_fed, a->n_prompt);
        }
        if (entries[i].logits)
            after_logits(self, a);
    }
}

// ---- the thread ----------------------------------------------------------------------

static gboolean has_waiting_locked(PonderEngine *self)
{
    return !g_queue_is_empty(&self->waiting[0]) || !g_queue_is_empty(&self->waiting[1]);
}

// Under lock: requests cancelled while waiting leave the queue at once.
static void drop_cancelled_locked(PonderEngine *self)
{
    for (guint q = 0; q < 2; q++)
        for (GList *l = self->waiting[q].head; l;) {
            GList *next = l->next;
            if (ponder_generation_is_cancelled(l->data)) {
                finish_unstarted(l->data, PONDER_FINISH_CANCELLED, NULL);
                g_queue_delete_link(&self->waiting[q], l);
            }
            l = next;
        }
}

static gpointer engine_thread(gpointer data)
{
    PonderEngine *self = data;
    for (;;) {
        pthread_mutex_lock(&self->lock);
        gboolean idle_timeout = FALSE;
        while (!self->quit && !self->eject_requested && !self->load_requested &&
               !self->active->len && !has_waiting_locked(self)) {
            guint idle = self->settings.idle_unload_seconds;
            if (self->model && idle) {
                gint64 deadline = self->idle_since_us + (gint64)idle * G_USEC_PER_SEC;
                struct timespec until = {.tv_sec = deadline / G_USEC_PER_SEC,
                                         .tv_nsec = (deadline % G_USEC_PER_SEC) * 1000};
                pthread_cond_timedwait(&self->wake, &self->lock, &until);
                if (g_get_monotonic_time() >= deadline) {
                    idle_timeout = TRUE;
                    break;
                }
            } else {
                pthread_cond_wait(&self->wake, &self->lock);
            }
        }
        gboolean quit = self->quit, eject = self->eject_requested || idle_timeout;
        gboolean load = self->load_requested;
        self->eject_requested = self->load_requested = FALSE;
        PonderEngineSettings settings = self->settings;
        g_autofree char *model_path = g_strdup(self->model_path);
        drop_cancelled_locked(self);
        // New settings apply by reloading, once nothing runs on the old ones.
        gboolean reload = self->settings_changed && !self->active->len;
        if (reload)
            self->settings_changed = FALSE;
        // Admit as many as there are free slots (before a load: as many as it will make).
        guint n_slots = self->model && !reload ? self->n_slots : MAX(settings.n_parallel, 1);
        g_autoptr(GPtrArray) admitted = g_ptr_array_new();
        while (!quit && self->active->len + admitted->len < n_slots && has_waiting_locked(self)) {
            GQueue *q = g_queue_is_empty(&self->waiting[PONDER_PRIORITY_INTERACTIVE])
                            ? &self->waiting[PONDER_PRIORITY_API]
                            : &self->waiting[PONDER_PRIORITY_INTERACTIVE];
            g_ptr_array_add(admitted, g_queue_pop_head(q));
        }
        pthread_mutex_unlock(&self->lock);

        if (quit)
            break;
        if (eject || load || (reload && self->model)) {
            unload_model(self);
            if (!load)
                show_unloaded(self, model_path);
        }
        if (load && model_path) {
            GError *error = NULL;
            if (!load_model(self, model_path, &settings, &error))
                g_clear_error(&error); // shown through the state; requests get it when they run
        }
        for (guint i = 0; i < admitted->len; i++)
            admit(self, g_ptr_array_index(admitted, i), model_path, &settings);
        if (self->active->len)
            run_step(self);
    }
    unload_model(self);
    return NULL;
}

// ---- the object ----------------------------------------------------------------------

static void ponder_engine_get_property(GObject *object, guint prop_id, GValue *value,
                                       GParamSpec *pspec)
{
    PonderEngine *self = PONDER_ENGINE(object);
    switch (prop_id) {
    case PROP_STATE: g_value_set_int(value, self->main_state); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_engine_dispose(GObject *object)
{
    PonderEngine *self = PONDER_ENGINE(object);
    if (self->thread) {
        pthread_mutex_lock(&self->lock);
        self->quit = TRUE;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        g_thread_join(g_steal_pointer(&self->thread));
        GError *error = NULL;
        for (guint q = 0; q < 2; q++)
            while (!g_queue_is_empty(&self->waiting[q])) {
                error = g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_EJECTED,
                                    "Ponder is shutting down");
                finish_unstarted(g_queue_pop_head(&self->waiting[q]), PONDER_FINISH_CANCELLED,
                                 error);
            }
    }
    G_OBJECT_CLASS(ponder_engine_parent_class)->dispose(object);
}

static void ponder_engine_finalize(GObject *object)
{
    PonderEngine *self = PONDER_ENGINE(object);
    g_ptr_array_unref(self->active);
    g_clear_object(&self->remote);
    g_free(self->remote_url);
    g_free(self->model_path);
    g_free(self->backend_name);
    g_free(self->backend_note);
    g_clear_error(&self->last_error);
    g_free(self->main_model_path);
    g_free(self->main_backend_name);
    g_free(self->main_backend_note);
    g_clear_error(&self->main_last_error);
    g_main_context_unref(self->main_context);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    G_OBJECT_CLASS(ponder_engine_parent_class)->finalize(object);
}

static void ponder_engine_class_init(PonderEngineClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->get_property = ponder_engine_get_property;
    object_class->dispose = ponder_engine_dispose;
    object_class->finalize = ponder_engine_finalize;
    properties[PROP_STATE] =
        g_param_spec_int("state", NULL, NULL, PONDER_ENGINE_UNLOADED, PONDER_ENGINE_FAILED,
                         PONDER_ENGINE_UNLOADED, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void ponder_engine_init(PonderEngine *self)
{
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    g_queue_init(&self->waiting[0]);
    g_queue_init(&self->waiting[1]);
    self->active = g_ptr_array_new();
    self->main_context = g_main_context_ref_thread_default();
    ponder_engine_settings_init(&self->settings);
}

PonderEngine *ponder_engine_new(const PonderEngineSettings *settings)
{
    PonderEngine *self = g_object_new(PONDER_TYPE_ENGINE, NULL);
    if (settings)
        self->settings = *settings;
    // The thread does not hold a reference: dispose stops and joins it.
    self->thread = g_thread_new("ponder-engine", engine_thread, self);
    return self;
}

void ponder_engine_set_settings(PonderEngine *self, const PonderEngineSettings *settings)
{
    pthread_mutex_lock(&self->lock);
    self->settings = *settings;
    self->settings_changed = TRUE;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
}

void ponder_engine_get_settings(PonderEngine *self, PonderEngineSettings *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->settings;
    pthread_mutex_unlock(&self->lock);
}

void ponder_engine_set_model(PonderEngine *self, const char *path)
{
    // A remote model frees the GPU: the local one is unloaded, and nothing loaded instead.
    gboolean remote = g_str_has_prefix(path ? path : "", PONDER_REMOTE_MODEL_PREFIX);
    pthread_mutex_lock(&self->lock);
    g_free(self->model_path);
    self->model_path = g_strdup(path);
    self->load_requested = path != NULL && !remote;
    self->eject_requested = path == NULL || remote;
    schedule_notify_locked(self);
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
}

void ponder_engine_eject(PonderEngine *self)
{
    pthread_mutex_lock(&self->lock);
    self->eject_requested = TRUE;
    self->load_requested = FALSE;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
}

PonderEngineState ponder_engine_get_state(PonderEngine *self)
{
    return self->main_state;
}

const char *ponder_engine_get_model_path(PonderEngine *self)
{
    return self->main_model_path;
}

const char *ponder_engine_get_backend_name(PonderEngine *self)
{
    return self->main_backend_name;
}

const char *ponder_engine_get_backend_note(PonderEngine *self)
{
    return self->main_backend_note;
}

const GError *ponder_engine_get_last_error(PonderEngine *self)
{
    return self->main_last_error;
}

guint ponder_engine_get_queue_depth(PonderEngine *self)
{
    pthread_mutex_lock(&self->lock);
    guint depth = self->waiting[0].length + self->waiting[1].length;
    pthread_mutex_unlock(&self->lock);
    return depth;
}

guint ponder_engine_get_running(PonderEngine *self)
{
    // The provider is swapped on the main context, so another thread holds it under the lock.
    pthread_mutex_lock(&self->lock);
    PonderRemoteProvider *remote = self->remote ? g_object_ref(self->remote) : NULL;
    pthread_mutex_unlock(&self->lock);
    guint n = (guint)g_atomic_int_get(&self->n_running);
    if (remote) {
        n += ponder_remote_provider_get_running(remote);
        g_object_unref(remote);
    }
    return n;
}

void ponder_engine_set_remote_provider(PonderEngine *self, PonderRemoteProvider *provider)
{
    PonderRemoteProvider *old = NULL;
    pthread_mutex_lock(&self->lock);
    old = self->remote;
    self->remote = provider ? g_object_ref(provider) : NULL;
    g_free(self->remote_url);
    self->remote_url = provider ? g_strdup(ponder_remote_provider_get_base_url(provider)) : NULL;
    // A remote model already chosen shows the new provider's address.
    if (g_str_has_prefix(self->model_path ? self->model_path : "", PONDER_REMOTE_MODEL_PREFIX))
        self->eject_requested = TRUE;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    // Dropped outside the lock: its last requests may still be finishing on this context.
    g_clear_object(&old);
}

PonderRemoteProvider *ponder_engine_get_remote_provider(PonderEngine *self)
{
    return self->remote;
}

// Main context: a remote model's requests go to the provider, outside the engine's queue.
static gboolean submit_remote(PonderEngine *self, const char *model_path,
                              PonderGeneration *generation, GError **error)
{
    if (!self->remote) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_NO_MODEL,
                    "the chosen model is on a remote server, but no remote server is set up: "
                    "add one in Preferences or choose a local model");
        return FALSE;
    }
    g_autofree char *model_id = ponder_remote_model_id(model_path);
    return ponder_remote_provider_submit(self->remote, model_id, generation, error);
}

gboolean ponder_engine_submit(PonderEngine *self, PonderGeneration *generation, GError **error)
{
    g_return_val_if_fail(PONDER_IS_GENERATION(generation), FALSE);
    pthread_mutex_lock(&self->lock);
    if (g_str_has_prefix(self->model_path ? self->model_path : "", PONDER_REMOTE_MODEL_PREFIX)) {
        g_autofree char *path = g_strdup(self->model_path);
        pthread_mutex_unlock(&self->lock);
        return submit_remote(self, path, generation, error);
    }
    guint depth = self->waiting[0].length + self->waiting[1].length;
    gboolean ok = FALSE;
    if (!self->model_path)
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_NO_MODEL,
                    "no model is chosen: open a GGUF file or download one first");
    else if (depth >= self->settings.max_queued)
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BUSY,
                    "Ponder is busy: %u requests are already waiting; try again shortly", depth);
    else {
        ponder_generation_mark_submitted(generation);
        const PonderGenerationRequest *r = ponder_generation_get_request(generation);
        g_queue_push_tail(&self->waiting[r->priority == PONDER_PRIORITY_API],
                          g_object_ref(generation));
        pthread_cond_signal(&self->wake);
        ok = TRUE;
    }
    pthread_mutex_unlock(&self->lock);
    return ok;
}

// libFuzzer target for the whole model load: bytes → GGUF reader → hyperparameters, weights
// and tokenizer (ponder_model_load_memory) → a CPU context of 4 tokens on 1 thread → the
// tokenizer and the chat format on a short conversation → a forward step of the prompt's first
// token, then one of the token the sampler picks from its logits. The hostile shapes live past
// the reader: hyperparameters that disagree with the tensors, vocabularies that disagree with
// the embedding, random grids and scales for every weight type. Anything inconsistent must be
// refused with a message; anything accepted must run without a bad read.
//
// Build and run as fuzz-gguf.c says, with the seeds of tests/fuzz/corpus-model (tiny models of
// every weight type family and two of odd shapes, written by tools/make-hostile-gguf.py):
//   build-fuzz/tests/fuzz/fuzz-model -max_total_time=60 -timeout=10 -rss_limit_mb=2048
//       -dict=tests/fuzz/model.dict CORPUS tests/fuzz/corpus-model
//
// tests/inference/test-fuzz-replay.c links this file and runs the seeds, every past finding
// (tests/fuzz/regress-model/) and the hostile models of tests/data/model-hostile/ through
// fuzz_model_run.
#include "runtime/model.h"
#include "ponder-infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fuzz_model_run(const uint8_t *data, size_t size, PonderError *err);

// An accepted model broke a promise of the library: stop so the fuzzer records it.
static void broken(const char *what)
{
    fprintf(stderr, "model invariant broken: %s\n", what);
    abort();
}

static void check_rejection(const PonderError *err)
{
    if (err->status == PONDER_OK || err->message[0] == '\0')
        broken("a failure without a status or a message");
}

// Tokenizes and formats a short conversation with the model's tokenizer; returns the
// prompt's first token (or 0 when the vocabulary cannot build one).
static int32_t exercise_tokenizer(const PonderModel *model)
{
    const Tokenizer *tok = ponder_model_tokenizer(model);
    if (!tok)
        return 0;
    uint32_t n_vocab = ponder_model_info(model)->n_vocab;
    static const char text[] = "Hi <think>x</think> 12 é 世界\n";
    int32_t *ids = NULL;
    int64_t n = tokenizer_encode(tok, text, sizeof text - 1, true, &ids);
    int32_t first = 0;
    if (n > 0) {
        for (int64_t i = 0; i < n; i++)
            if (ids[i] < 0 || (uint32_t)ids[i] >= n_vocab)
                broken("the tokenizer gave an id outside the embedding");
        first = ids[0];
        free(tokenizer_decode(tok, ids, (size_t)n));
    }
    free(ids);

    ChatMarkers markers;
    char err[256];
    if (chat_find_markers(tok, &markers, err, sizeof err)) {
        const ChatMessage messages[] = {
            {CHAT_ROLE_SYSTEM, "Be brief."},
            {CHAT_ROLE_USER, "2+2?"},
            {CHAT_ROLE_ASSISTANT, "<think>\nfour\n</think>\n\n4"},
            {CHAT_ROLE_USER, "and 3+3?"},
        };
        int32_t *prompt = NULL;
        int64_t n_prompt = chat_build_prompt(tok, messages, 4, true, &prompt, err, sizeof err);
        if (n_prompt > 0) {
            for (int64_t i = 0; i < n_prompt; i++)
                if (prompt[i] < 0 || (uint32_t)prompt[i] >= n_vocab)
                    broken("the chat prompt holds an id outside the embedding");
            first = prompt[0];
        }
        free(prompt);
    }
    return first;
}

bool fuzz_model_run(const uint8_t *data, size_t size, PonderError *err)
{
    memset(err, 0, sizeof *err);
    PonderModel *model = ponder_model_load_memory(data, size, "fuzz.gguf", err);
    if (!model) {
        check_rejection(err);
        return false;
    }
    const PonderModelInfo *info = ponder_model_info(model);
    if (!info->architecture || !info->name || !info->file_type || info->n_vocab == 0)
        broken("model info incomplete");
    int32_t token = exercise_tokenizer(model);

    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = info->n_ctx_train < 4 ? info->n_ctx_train : 4;
    params.n_threads = 1;
    params.prefill_chunk = 1;
    PonderContext *ctx = ponder_context_new(model, &params, err);
    if (!ctx) {
        check_rejection(err);
        ponder_model_free(model);
        return false;
    }
    bool ok = false;
    float *logits = malloc((size_t)info->n_vocab * sizeof(float));
    int32_t seq = ponder_seq_new(ctx);
    SamplerParams sampling = sampler_default_params();
    sampling.repetition_penalty = 1.1f;
    Sampler *sampler = sampler_new(&sampling, (int32_t)info->n_vocab);
    if (!logits || seq < 0 || !sampler) {
        snprintf(err->message, sizeof err->message, "no memory or no sequence");
        err->status = PONDER_ERR_NO_MEMORY;
        goto done;
    }
    for (uint32_t step = 0; step < 2 && step < params.n_ctx; step++) {
        PonderBatchEntry entry = {.seq = seq, .tokens = &token, .n_tokens = 1, .logits = logits};
        if (ponder_decode(ctx, &entry, 1, err) != PONDER_OK) {
            check_rejection(err);
            goto done;
        }
        // Random weights (or hostile scales) give any logits, NaN and infinities included:
        // the sampler must still pick a token of the vocabulary.
        int32_t greedy = sampler_argmax(logits, (int32_t)info->n_vocab);
        token = sampler_sample(sampler, logits);
        if (greedy < 0 || (uint32_t)greedy >= info->n_vocab || token < 0 ||
            (uint32_t)token >= info->n_vocab)
            broken("the sampler picked a token outside the vocabulary");
        sampler_accept(sampler, token);
    }
    ok = ponder_seq_length(ctx, seq) == (params.n_ctx < 2 ? params.n_ctx : 2);
    if (!ok)
        broken("the sequence did not grow by the tokens decoded");
done:
    sampler_free(sampler);
    free(logits);
    ponder_context_free(ctx);
    ponder_model_free(model);
    return ok;
}

#ifndef PONDER_FUZZ_REPLAY // tests/inference/test-fuzz-replay.c links several targets
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PonderError err;
    fuzz_model_run(data, size, &err);
    return 0;
}
#endif

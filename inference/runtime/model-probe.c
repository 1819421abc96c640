// What a file's header says before anything is loaded, and the memory a context needs:
// the model library lists files with this, and the onboarding page and the catalog plan
// with it, so the rules live here once (the loader's own hyperparameter checks decide
// whether a file runs).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

// The allowance for what a context allocates beside weights and KV cache: CUDA's own
// allocations and the cuBLAS workspace (the 256 MiB + 32 MiB the CUDA plan reserves), plus
// the f32 buffers of one SCRATCH_STEP_TOKENS-token prefill step: logits (n_vocab), hidden
// state, normed copy, attention in and out (4 x n_embd) and the feed-forward pair (2 x n_ff).
enum { SCRATCH_STEP_TOKENS = 256 };
static const uint64_t SCRATCH_FIXED_BYTES = 288ull << 20;

// Without a context length of its own a file gets the loader's fallback (4096); contexts
// default to at most 8192 tokens (R1's long thinking needs room, memory is not free).
enum { UNKNOWN_TRAINED_CONTEXT = 4096, DEFAULT_CONTEXT_CAP = 8192 };

uint32_t ponder_context_length(uint32_t requested, uint32_t n_ctx_train)
{
    if (requested)
        return requested;
    uint32_t trained = n_ctx_train ? n_ctx_train : UNKNOWN_TRAINED_CONTEXT;
    return trained < DEFAULT_CONTEXT_CAP ? trained : DEFAULT_CONTEXT_CAP;
}

PonderType ponder_kv_element_type(PonderKvType kv)
{
    switch (kv) {
    case PONDER_KV_F16: return PONDER_TYPE_F16;
    case PONDER_KV_Q8_0: return PONDER_TYPE_Q8_0;
    case PONDER_KV_F32: break;
    }
    return PONDER_TYPE_F32;
}

// ASCII only: a locale's case rules (Turkish i) must not change a type name.
static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

// When general.file_type is absent or unknown: the type holding most of the matrix bytes,
// upper case as users know it ("Q4_K").
static void dominant_tensor_type(const GgufFile *file, char *out, size_t size)
{
    uint64_t bytes_by_type[PONDER_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        const GgufTensor *t = &file->tensors[i];
        if (t->n_dims >= 2 && t->type < PONDER_TYPE_COUNT)
            bytes_by_type[t->type] += t->n_bytes;
    }
    uint32_t best = PONDER_TYPE_COUNT;
    for (uint32_t type = 0; type < PONDER_TYPE_COUNT; type++)
        if (bytes_by_type[type] > 0 &&
            (best == PONDER_TYPE_COUNT || bytes_by_type[type] > bytes_by_type[best]))
            best = type;
    const PonderTypeTraits *traits = best < PONDER_TYPE_COUNT ? ponder_type_traits(best) : NULL;
    size_t n = 0;
    for (const char *p = traits ? traits->name : ""; *p && n + 1 < size; p++)
        out[n++] = ascii_upper(*p);
    out[n] = '\0';
}

void model_file_type_name(const GgufFile *file, char *out, size_t size)
{
    uint32_t file_type;
    const char *name = gguf_get_u32(file, "general.file_type", &file_type)
                           ? ponder_file_type_name(file_type)
                           : NULL;
    if (name)
        snprintf(out, size, "%s", name);
    else
        dominant_tensor_type(file, out, size);
}

static void probe_file(GgufFile *file, PonderModelProbe *out)
{
    GgufString s;
    if (gguf_get_string(file, "general.name", &s))
        gguf_string_copy(s, out->name, sizeof out->name);
    model_file_type_name(file, out->file_type, sizeof out->file_type);
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        out->n_params += file->tensors[i].n_elements;
        out->tensor_bytes += file->tensors[i].n_bytes;
    }
    const GgufTensor *embd = gguf_find_tensor(file, "token_embd.weight");
    if (embd && embd->n_dims >= 2 && embd->ne[1] <= UINT32_MAX)
        out->n_vocab = (uint32_t)embd->ne[1];
    if (!gguf_get_string(file, "general.architecture", &s)) {
        snprintf(out->unusable, sizeof out->unusable,
                 "metadata key 'general.architecture' is missing");
        return;
    }
    gguf_string_copy(s, out->architecture, sizeof out->architecture);
    // the context length even of a file Ponder cannot run: the library shows it
    char key[160];
    snprintf(key, sizeof key, "%s.context_length", out->architecture);
    if (!gguf_get_u32(file, key, &out->n_ctx_train))
        out->n_ctx_train = 0;

    // The loader's verdict on the hyperparameters, with its words.
    PonderModel *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(out->unusable, sizeof out->unusable, "out of memory");
        return;
    }
    m->file = file;
    PonderError err = {0};
    if (model_read_hparams(m, &err)) {
        const ModelHparams *hp = &m->hp;
        out->n_layer = hp->n_layer;
        out->n_embd = hp->n_embd;
        out->n_head = hp->n_head;
        out->n_head_kv = hp->n_head_kv;
        out->head_dim = hp->head_dim;
        out->n_ff = hp->n_ff;
        char *template_text = NULL;
        if (gguf_get_string(file, "tokenizer.chat_template", &s) &&
            (template_text = malloc(s.len + 1))) {
            gguf_string_copy(s, template_text, s.len + 1);
            const char *reason = chat_template_unsupported_reason(template_text);
            if (reason)
                snprintf(out->unusable, sizeof out->unusable, "%s", reason);
        }
        free(template_text);
    } else {
        snprintf(out->unusable, sizeof out->unusable, "%s", err.message);
    }
    free(m);
}

PonderStatus ponder_model_probe(const char *path, PonderModelProbe *out, PonderError *err)
{
    memset(out, 0, sizeof *out);
    char msg[sizeof err->message];
    GgufFile *file = gguf_open(path, msg, sizeof msg);
    if (!file)
        return ponder_set_error(err, PONDER_ERR_FORMAT, "%s", msg);
    probe_file(file, out);
    gguf_close(file);
    return PONDER_OK;
}

bool ponder_estimate_memory(const PonderModelProbe *probe, uint32_t n_ctx, PonderKvType kv_type,
                            PonderMemoryEstimate *out, PonderError *err)
{
    memset(out, 0, sizeof *out);
    if (probe->n_layer == 0 || probe->head_dim == 0) {
        ponder_set_error(err, PONDER_ERR_INVALID, "%s",
                         probe->unusable[0] ? probe->unusable : "the header has no layer sizes");
        return false;
    }
    if (n_ctx == 0)
        n_ctx = probe->n_ctx_train ? probe->n_ctx_train : UNKNOWN_TRAINED_CONTEXT;
    uint64_t head_row;
    if (!ponder_row_bytes(ponder_kv_element_type(kv_type), probe->head_dim, &head_row)) {
        ponder_set_error(err, PONDER_ERR_INVALID, "KV cache type %d does not fit head size %u",
                         (int)kv_type, probe->head_dim);
        return false;
    }
    // K and V, for every layer, token and KV head
    out->weights = probe->tensor_bytes;
    out->kv_cache = 2ull * probe->n_layer * n_ctx * probe->n_head_kv * head_row;
    uint64_t step_floats = (uint64_t)probe->n_vocab + 4ull * probe->n_embd + 2ull * probe->n_ff;
    out->scratch =
        SCRATCH_FIXED_BYTES + (uint64_t)SCRATCH_STEP_TOKENS * sizeof(float) * step_floats;
    out->total = out->weights + out->kv_cache + out->scratch;
    return true;
}

static bool ascii_equal_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_upper(*a) != ascii_upper(*b))
            return false;
    return *a == *b;
}

double ponder_file_type_bits_per_weight(const char *file_type)
{
    // llama.cpp's published averages for its mixes (the embedding and head included)
    static const struct {
        const char *name;
        double bits;
    } table[] = {
        {"Q2_K", 2.96},
        {"Q3_K_S", 3.5},
        {"Q3_K_M", 3.91},
        {"Q3_K_L", 4.27},
        {"Q4_0", 4.55},
        {"Q4_K_S", 4.58},
        {"Q4_K_M", 4.85},
        {"Q5_K_S", 5.54},
        {"Q5_K_M", 5.69},
        {"Q6_K", 6.56},
        {"Q8_0", 8.5},
        {"F16", 16.0},
        {"BF16", 16.0},
        {"F32", 32.0},
        // and as its quantize tool describes the IQ types and mixes
        {"IQ1_S", 1.56},
        {"IQ1_M", 1.75},
        {"IQ2_XXS", 2.06},
        {"IQ2_XS", 2.31},
        {"IQ2_S", 2.5},
        {"IQ2_M", 2.7},
        {"IQ3_XXS", 3.06},
        {"IQ3_XS", 3.3},
        {"IQ3_S", 3.44},
        {"IQ3_M", 3.66},
        {"IQ4_XS", 4.25},
        {"IQ4_NL", 4.5},
    };
    for (size_t i = 0; file_type && i < sizeof table / sizeof table[0]; i++)
        if (ascii_equal_ci(file_type, table[i].name))
            return table[i].bits;
    return 0;
}

// `info` and `tokenize`: commands that read a GGUF file's metadata and vocabulary (they
// also work on vocabulary-only files with no tensors).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "quant/quant.h"
#include "tokenizer/tokenizer.h"
#include "tool.h"

static GgufFile *open_gguf(const char *path)
{
    char err[512];
    GgufFile *file = gguf_open(path, err, sizeof err);
    if (!file)
        fprintf(stderr, "ponder-infer: %s\n", err);
    return file;
}

static void print_kv_string(const GgufFile *file, const char *label, const char *key)
{
    GgufString s;
    if (gguf_get_string(file, key, &s))
        printf("%-22s %.*s\n", label, (int)(s.len > 200 ? 200 : s.len), s.data);
}

static void print_shape(const GgufTensor *t)
{
    printf("[");
    for (uint32_t d = 0; d < t->n_dims; d++)
        printf(d ? ", %llu" : "%llu", (unsigned long long)t->ne[d]);
    printf("]");
}

int cmd_info(int argc, char **argv)
{
    if (argc != 2)
        return usage_error("usage: ponder-infer info MODEL");
    GgufFile *file = open_gguf(argv[1]);
    if (!file)
        return 1;

    printf("file                   %s (GGUF v%u, %.2f MiB)\n", argv[1], file->version,
           file->map_size / 1048576.0);
    print_kv_string(file, "name", "general.name");
    print_kv_string(file, "architecture", "general.architecture");

    PonderError err = {0};
    PonderModel *model = file->n_tensors ? ponder_model_load(argv[1], &err) : NULL;
    if (model) {
        const PonderModelInfo *mi = ponder_model_info(model);
        printf("file type              %s\n", mi->file_type);
        printf("parameters             %.3f B (%llu)\n", mi->n_params / 1e9,
               (unsigned long long)mi->n_params);
        printf("layers                 %u\n", mi->n_layer);
        printf("embedding              %u\n", mi->n_embd);
        printf("heads                  %u (KV heads %u, head size %u)\n", mi->n_head, mi->n_head_kv,
               mi->head_dim);
        printf("feed-forward           %u\n", mi->n_ff);
        printf("vocabulary rows        %u\n", mi->n_vocab);
        printf("context (trained)      %u\n", mi->n_ctx_train);
        printf("rope base              %g\n", mi->rope_theta);
        char key[96];
        GgufString scaling;
        snprintf(key, sizeof key, "%s.rope.scaling.type", mi->architecture);
        if (gguf_get_string(file, key, &scaling)) {
            float factor = 0;
            uint32_t orig = 0;
            snprintf(key, sizeof key, "%s.rope.scaling.factor", mi->architecture);
            gguf_get_f32(file, key, &factor);
            snprintf(key, sizeof key, "%s.rope.scaling.original_context_length", mi->architecture);
            gguf_get_u32(file, key, &orig);
            printf("rope scaling           %.*s, factor %g, original context %u\n",
                   (int)scaling.len, scaling.data, factor, orig);
        }
        printf("rms epsilon            %g\n", mi->rms_eps);
        printf("output head            %s\n", mi->tied_output ? "tied to the embedding" : "own");
    } else if (file->n_tensors) {
        printf("runs                   no: %s\n", err.message);
    } else {
        printf("tensors                none (vocabulary-only file)\n");
    }

    char msg[512];
    Tokenizer *tok = tokenizer_from_gguf(file, msg, sizeof msg);
    if (tok) {
        GgufString pre = {"?", 1};
        gguf_get_string(file, "tokenizer.ggml.pre", &pre);
        printf("tokenizer              byte-level BPE, pre-tokenizer %.*s, %u tokens, BOS %d, EOS "
               "%d%s\n",
               (int)pre.len, pre.data, tokenizer_vocab_size(tok), tokenizer_bos(tok),
               tokenizer_eos(tok), tokenizer_add_bos(tok) ? ", adds BOS" : "");
        ChatMarkers markers;
        const Tokenizer *model_tok = model ? ponder_model_tokenizer(model) : NULL;
        bool r1_0528 = model_tok && !tokenizer_generation_opens_think(model_tok);
        if (chat_find_markers(tok, &markers, msg, sizeof msg))
            printf("chat format            DeepSeek-R1%s (User %d, Assistant %d, think %d/%d)\n",
                   r1_0528 ? "-0528, the model opens <think>" : "", markers.user, markers.assistant,
                   markers.think, markers.end_think);
        else
            printf("chat format            not R1: %s\n", msg);
        tokenizer_free(tok);
    } else {
        printf("tokenizer              none: %s\n", msg);
    }
    GgufString tmpl;
    if (gguf_get_string(file, "tokenizer.chat_template", &tmpl))
        printf("chat template          present (%llu bytes; used as data only)\n",
               (unsigned long long)tmpl.len);

    // Per-tensor types: a K-quant mix shows which tensors got which type.
    uint64_t count_by_type[PONDER_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < file->n_tensors; i++)
        count_by_type[file->tensors[i].type]++;
    if (file->n_tensors) {
        printf("tensor types          ");
        for (uint32_t t = 0; t < PONDER_TYPE_COUNT; t++)
            if (count_by_type[t])
                printf(" %s:%llu", ponder_type_traits(t)->name,
                       (unsigned long long)count_by_type[t]);
        printf("\ntensors (%llu):\n", (unsigned long long)file->n_tensors);
    }
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        const GgufTensor *t = &file->tensors[i];
        printf("  %-32.*s %-5s ", (int)t->name.len, t->name.data,
               ponder_type_traits(t->type)->name);
        print_shape(t);
        printf("\n");
    }
    ponder_model_free(model);
    gguf_close(file);
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model_path = NULL, *text = NULL, *file_path = NULL;
    bool special = false, bos = false;
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        const char *arg = argv[args.i];
        if (strcmp(arg, "--model") == 0 || strcmp(arg, "-m") == 0) {
            if (!(model_path = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "--text") == 0) {
            if (!(text = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "--file") == 0) {
            if (!(file_path = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "--special") == 0) {
            special = true;
        } else if (strcmp(arg, "--bos") == 0) {
            bos = true;
        } else {
            return usage_error("tokenize: unknown option '%s'", arg);
        }
    }
    if (!model_path || (!text) == (!file_path))
        return usage_error(
            "usage: ponder-infer tokenize --model M (--text T | --file F) [--special] [--bos]");

    size_t len = 0;
    char *owned = NULL;
    if (file_path) {
        // The file's bytes exactly: nothing stripped.
        FILE *f = fopen(file_path, "rb");
        if (!f) {
            perror(file_path);
            return 1;
        }
        size_t cap = 0;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 65536;
                char *grown = realloc(owned, cap);
                if (!grown) {
                    fclose(f);
                    free(owned);
                    return usage_error("out of memory reading %s", file_path);
                }
                owned = grown;
            }
            size_t got = fread(owned + len, 1, cap - len, f);
            if (got == 0)
                break;
            len += got;
        }
        fclose(f);
        text = owned ? owned : "";
    } else {
        len = strlen(text);
    }

    GgufFile *file = open_gguf(model_path);
    if (!file) {
        free(owned);
        return 1;
    }
    char msg[512];
    Tokenizer *tok = tokenizer_from_gguf(file, msg, sizeof msg);
    if (!tok) {
        fprintf(stderr, "ponder-infer: %s: %s\n", model_path, msg);
        gguf_close(file);
        free(owned);
        return 1;
    }
    int32_t *ids = NULL;
    int64_t n = tokenizer_encode(tok, text, len, special, &ids);
    int status = 0;
    if (n < 0) {
        fprintf(stderr, "ponder-infer: tokenization failed\n");
        status = 1;
    } else {
        bool first = true;
        if (bos && tokenizer_bos(tok) >= 0) {
            printf("%d", tokenizer_bos(tok));
            first = false;
        }
        for (int64_t i = 0; i < n; i++) {
            printf(first ? "%d" : " %d", ids[i]);
            first = false;
        }
        printf("\n");
    }
    free(ids);
    tokenizer_free(tok);
    gguf_close(file);
    free(owned);
    return status;
}

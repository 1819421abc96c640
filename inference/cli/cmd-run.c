// `run` (generate text) and `logits` (print the logits for given ids).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

typedef struct RunOptions {
    CommonOptions common;
    const char *prompt;
    const char *chat;
    uint32_t n_predict;
    bool greedy, print_ids, ignore_eos, special;
    SamplerParams sampling;
} RunOptions;

static int parse_run_options(int argc, char **argv, RunOptions *o)
{
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        int common = parse_common_option(&args, &o->common);
        if (common < 0)
            return 2;
        if (common)
            continue;
        const char *arg = argv[args.i];
        const char *v;
        if (strcmp(arg, "--prompt") == 0 || strcmp(arg, "-p") == 0) {
            if (!(o->prompt = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "--chat") == 0) {
            if (!(o->chat = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "-n") == 0) {
            if (!(v = option_value(&args, arg)) || !parse_u32(v, &o->n_predict))
                return usage_error("-n needs a number of tokens");
        } else if (strcmp(arg, "--temp") == 0) {
            if (!(v = option_value(&args, arg)) || !parse_float(v, &o->sampling.temperature))
                return usage_error("--temp needs a number");
        } else if (strcmp(arg, "--top-p") == 0) {
            if (!(v = option_value(&args, arg)) || !parse_float(v, &o->sampling.top_p))
                return usage_error("--top-p needs a number");
        } else if (strcmp(arg, "--seed") == 0) {
            if (!(v = option_value(&args, arg)) || !parse_u64(v, &o->sampling.seed))
                return usage_error("--seed needs a number");
        } else if (strcmp(arg, "--greedy") == 0) {
            o->greedy = true;
        } else if (strcmp(arg, "--ids") == 0) {
            o->print_ids = true;
        } else if (strcmp(arg, "--ignore-eos") == 0) {
            o->ignore_eos = true;
        } else if (strcmp(arg, "--special") == 0) {
            o->special = true;
        } else {
            return usage_error("run: unknown option '%s'", arg);
        }
    }
    if ((!o->prompt) == (!o->chat))
        return usage_error("run needs exactly one of --prompt and --chat");
    return 0;
}

// The prompt's ids: raw text (plain unless --special; BOS when the model adds one), or
// the R1 chat format around one user message.
static int64_t build_prompt(const Tokenizer *tok, const RunOptions *o, int32_t **ids)
{
    char msg[512];
    if (o->chat) {
        ChatMessage message = {CHAT_ROLE_USER, o->chat};
        int64_t n = chat_build_prompt(tok, &message, 1, true, ids, msg, sizeof msg);
        if (n < 0)
            fprintf(stderr, "ponder-infer: %s\n", msg);
        return n;
    }
    int32_t *text_ids = NULL;
    int64_t n = tokenizer_encode(tok, o->prompt, strlen(o->prompt), o->special, &text_ids);
    if (n < 0)
        return -1;
    bool bos = tokenizer_add_bos(tok) && tokenizer_bos(tok) >= 0;
    *ids = malloc(((size_t)n + 1) * sizeof(int32_t));
    if (!*ids) {
        free(text_ids);
        return -1;
    }
    if (bos)
        (*ids)[0] = tokenizer_bos(tok);
    if (n)
        memcpy(*ids + bos, text_ids, (size_t)n * sizeof(int32_t));
    free(text_ids);
    return n + bos;
}

int cmd_run(int argc, char **argv)
{
    RunOptions o = {.n_predict = 256, .sampling = sampler_default_params()};
    int status = parse_run_options(argc, argv, &o);
    if (status)
        return status;
    if (o.greedy)
        o.sampling.temperature = 0;

    PonderModel *model;
    PonderContext *ctx;
    if (!open_model(&o.common, 1, &model, &ctx))
        return 1;
    const Tokenizer *tok = ponder_model_tokenizer(model);
    if (!tok) {
        fprintf(stderr, "ponder-infer: the model file has no tokenizer\n");
        ponder_context_free(ctx);
        ponder_model_free(model);
        return 1;
    }
    int32_t *prompt = NULL;
    int64_t n_prompt = build_prompt(tok, &o, &prompt);
    uint32_t n_vocab = ponder_model_info(model)->n_vocab;
    float *logits = malloc(n_vocab * sizeof(float));
    char *piece = malloc(tokenizer_max_token_bytes(tok) + 16);
    Sampler *sampler = sampler_new(&o.sampling, (int32_t)n_vocab);
    if (n_prompt <= 0 || !logits || !piece || !sampler) {
        fprintf(stderr, "ponder-infer: could not prepare the prompt\n");
        status = 1;
        goto done;
    }
    for (int64_t i = 0; i < n_prompt; i++)
        sampler_accept(sampler, prompt[i]);

    PonderError err = {0};
    int32_t seq = ponder_seq_new(ctx);
    double t0 = now_seconds();
    PonderBatchEntry entry = {
        .seq = seq, .tokens = prompt, .n_tokens = (uint32_t)n_prompt, .logits = logits};
    if (ponder_decode(ctx, &entry, 1, &err) != PONDER_OK) {
        fprintf(stderr, "ponder-infer: %s\n", err.message);
        status = 1;
        goto done;
    }
    double t_prompt = now_seconds() - t0;

    TokenDecoder decoder;
    token_decoder_init(&decoder);
    uint32_t generated = 0;
    double t1 = now_seconds();
    const char *separator = "";
    while (generated < o.n_predict) {
        int32_t token = sampler_sample(sampler, logits);
        if (!o.ignore_eos && token == tokenizer_eos(tok))
            break;
        sampler_accept(sampler, token);
        generated++;
        if (o.print_ids) {
            printf("%s%d", separator, token);
            separator = " ";
        } else {
            int len = token_decoder_push(&decoder, tok, token, piece,
                                         tokenizer_max_token_bytes(tok) + 16);
            if (len > 0)
                fwrite(piece, 1, (size_t)len, stdout);
        }
        fflush(stdout);
        if (generated == o.n_predict)
            break;
        entry = (PonderBatchEntry){.seq = seq, .tokens = &token, .n_tokens = 1, .logits = logits};
        if (ponder_decode(ctx, &entry, 1, &err) != PONDER_OK) {
            fprintf(stderr, "\nponder-infer: %s\n", err.message);
            status = 1;
            break;
        }
    }
    if (!o.print_ids) {
        int len = token_decoder_finish(&decoder, piece, tokenizer_max_token_bytes(tok) + 16);
        if (len > 0)
            fwrite(piece, 1, (size_t)len, stdout);
    }
    printf("\n");
    double t_gen = now_seconds() - t1;
    fprintf(
        stderr,
        "prompt %lld tokens in %.3f s (%.2f tok/s), generated %u tokens in %.3f s (%.2f tok/s)\n",
        (long long)n_prompt, t_prompt, n_prompt / (t_prompt > 0 ? t_prompt : 1e-9), generated,
        t_gen, generated / (t_gen > 0 ? t_gen : 1e-9));

done:
    sampler_free(sampler);
    free(piece);
    free(logits);
    free(prompt);
    ponder_context_free(ctx);
    ponder_model_free(model);
    return status;
}

// Parses "i1 i2 ..." (spaces or commas) into a malloc'd array.
static int64_t parse_ids(const char *text, int32_t **out)
{
    size_t cap = 16, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids)
        return -1;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX) {
            free(ids);
            return -1;
        }
        if (n == cap) {
            cap *= 2;
            int32_t *grown = realloc(ids, cap * sizeof *ids);
            if (!grown) {
                free(ids);
                return -1;
            }
            ids = grown;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    *out = ids;
    return (int64_t)n;
}

int cmd_logits(int argc, char **argv)
{
    CommonOptions common = {.gpu_layers = -1};
    const char *ids_text = NULL;
    bool all = false;
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        int c = parse_common_option(&args, &common);
        if (c < 0)
            return 2;
        if (c)
            continue;
        if (strcmp(argv[args.i], "--ids") == 0) {
            if (!(ids_text = option_value(&args, "--ids")))
                return 2;
        } else if (strcmp(argv[args.i], "--all") == 0) {
            all = true;
        } else {
            return usage_error("logits: unknown option '%s'", argv[args.i]);
        }
    }
    int32_t *ids = NULL;
    int64_t n = ids_text ? parse_ids(ids_text, &ids) : -1;
    if (n <= 0) {
        free(ids);
        return usage_error("logits needs --ids with one or more token ids");
    }
    PonderModel *model;
    PonderContext *ctx;
    if (!open_model(&common, 1, &model, &ctx)) {
        free(ids);
        return 1;
    }
    uint32_t n_vocab = ponder_model_info(model)->n_vocab;
    uint64_t rows = all ? (uint64_t)n : 1;
    float *logits = malloc(rows * n_vocab * sizeof(float));
    int status = 0;
    PonderError err = {0};
    PonderBatchEntry entry = {.seq = ponder_seq_new(ctx),
                              .tokens = ids,
                              .n_tokens = (uint32_t)n,
                              .logits = logits,
                              .all_logits = all};
    if (!logits) {
        fprintf(stderr, "ponder-infer: out of memory\n");
        status = 1;
    } else if (ponder_decode(ctx, &entry, 1, &err) != PONDER_OK) {
        fprintf(stderr, "ponder-infer: %s\n", err.message);
        status = 1;
    } else {
        for (uint64_t r = 0; r < rows; r++) {
            const float *row = logits + r * n_vocab;
            for (uint32_t i = 0; i < n_vocab; i++)
                printf(i ? " %.9g" : "%.9g", row[i]);
            printf("\n");
        }
    }
    free(logits);
    free(ids);
    ponder_context_free(ctx);
    ponder_model_free(model);
    return status;
}

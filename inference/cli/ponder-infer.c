#include "tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: ponder-infer COMMAND [OPTIONS]\n"
    "\n"
    "  info MODEL\n"
    "  tokenize --model M (--text T | --file F) [--special] [--bos]\n"
    "  run --model M (--prompt P | --chat MSG) [-n N] [--greedy] [--temp T] [--top-p P]\n"
    "      [--seed S] [--ids] [--ignore-eos] [--special]\n"
    "  logits --model M --ids \"i1 i2 ...\" [--all]\n"
    "  bench --model M [-p 512] [-n 128] [--depth D] [--parallel P] [--reps R] [--json]\n"
    "  convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0]\n"
    "  quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] [--threads N]\n"
    "      TYPE: q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k_m q4_k_m q5_k_m q6_k iq4_nl iq4_xs\n"
    "            f32 f16 bf16\n"
    "      FILE: llama.cpp's importance matrix of the model (llama-imatrix's .dat or GGUF),\n"
    "            weighing the scale searches of the 4/5-bit, K-quant and IQ4 types\n"
    "  synth --preset NAME --type TYPE --tokenizer tokenizer.json -o OUT.gguf [--seed S]\n"
    "      NAME: r1-distill-qwen-1.5b r1-distill-qwen-7b r1-distill-qwen-14b\n"
    "            r1-distill-llama-8b r1-0528-qwen3-8b tiny-qwen2 tiny-llama tiny-qwen3\n"
    "\n"
    "Common options of run, logits and bench:\n"
    "  --backend cpu|cuda|vulkan  --gpu-layers N  --kv-type f32|f16|q8_0  --ctx C  --threads N  "
    "--chunk N (prefill tokens per step)\n";

int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ponder-infer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text || *text == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool parse_u32(const char *text, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(text, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool parse_i32(const char *text, int32_t *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

bool parse_float(const char *text, float *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    float v = strtof(text, &end);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

const char *option_value(ArgCursor *args, const char *name)
{
    if (args->i + 1 >= args->argc) {
        usage_error("option %s needs a value", name);
        return NULL;
    }
    return args->argv[++args->i];
}

int parse_common_option(ArgCursor *args, CommonOptions *opts)
{
    const char *arg = args->argv[args->i];
    const char *value;
    if (strcmp(arg, "--model") == 0 || strcmp(arg, "-m") == 0) {
        if (!(opts->model_path = option_value(args, arg)))
            return -1;
    } else if (strcmp(arg, "--backend") == 0) {
        if (!(value = option_value(args, arg)))
            return -1;
        if (strcmp(value, "cpu") == 0)
            opts->backend = PONDER_BACKEND_CPU;
        else if (strcmp(value, "cuda") == 0)
            opts->backend = PONDER_BACKEND_CUDA;
        else if (strcmp(value, "vulkan") == 0)
            opts->backend = PONDER_BACKEND_VULKAN;
        else
            return usage_error("unknown backend '%s' (cpu, cuda or vulkan)", value), -1;
    } else if (strcmp(arg, "--gpu-layers") == 0 || strcmp(arg, "-ngl") == 0) {
        if (!(value = option_value(args, arg)) || !parse_i32(value, &opts->gpu_layers))
            return usage_error("--gpu-layers needs a number"), -1;
    } else if (strcmp(arg, "--kv-type") == 0) {
        if (!(value = option_value(args, arg)))
            return -1;
        if (strcmp(value, "f32") == 0)
            opts->kv_type = PONDER_KV_F32;
        else if (strcmp(value, "f16") == 0)
            opts->kv_type = PONDER_KV_F16;
        else if (strcmp(value, "q8_0") == 0)
            opts->kv_type = PONDER_KV_Q8_0;
        else
            return usage_error("unknown KV type '%s' (f32, f16 or q8_0)", value), -1;
    } else if (strcmp(arg, "--ctx") == 0 || strcmp(arg, "-c") == 0) {
        if (!(value = option_value(args, arg)) || !parse_u32(value, &opts->n_ctx))
            return usage_error("--ctx needs a number of tokens"), -1;
    } else if (strcmp(arg, "--threads") == 0 || strcmp(arg, "-t") == 0) {
        if (!(value = option_value(args, arg)) || !parse_u32(value, &opts->n_threads))
            return usage_error("--threads needs a number"), -1;
    } else if (strcmp(arg, "--chunk") == 0) {
        if (!(value = option_value(args, arg)) || !parse_u32(value, &opts->prefill_chunk))
            return usage_error("--chunk needs a number of tokens"), -1;
    } else {
        return 0;
    }
    return 1;
}

bool open_model(const CommonOptions *opts, uint32_t n_seq, PonderModel **model, PonderContext **ctx)
{
    PonderError err = {0};
    if (!opts->model_path) {
        usage_error("--model is required");
        return false;
    }
    *model = ponder_model_load(opts->model_path, &err);
    if (!*model) {
        fprintf(stderr, "ponder-infer: %s: %s\n", opts->model_path, err.message);
        return false;
    }
    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = opts->n_ctx;
    params.n_seq = n_seq;
    params.n_threads = opts->n_threads;
    params.backend = opts->backend;
    params.gpu_layers = opts->gpu_layers;
    params.kv_type = opts->kv_type;
    params.prefill_chunk = opts->prefill_chunk;
    *ctx = ponder_context_new(*model, &params, &err);
    if (!*ctx) {
        fprintf(stderr, "ponder-infer: %s\n", err.message);
        ponder_model_free(*model);
        *model = NULL;
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"info", cmd_info},         {"tokenize", cmd_tokenize}, {"run", cmd_run},
        {"logits", cmd_logits},     {"bench", cmd_bench},       {"convert", cmd_convert},
        {"quantize", cmd_quantize}, {"synth", cmd_synth},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fputs(usage, stderr);
    return usage_error("unknown command '%s'", argv[1]);
}

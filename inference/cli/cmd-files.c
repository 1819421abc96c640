// `convert`, `quantize` and `synth`: commands that write model files.
#include <stdio.h>
#include <string.h>

#include "model-tools/model-files.h"
#include "tool.h"

static int report(bool ok, const char *what, const char *path, const char *err)
{
    if (!ok) {
        fprintf(stderr, "ponder-infer: %s failed: %s\n", what, err);
        return 1;
    }
    fprintf(stderr, "wrote %s\n", path);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *type = "f16";
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        const char *arg = argv[args.i];
        if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
            if (!(out = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "--type") == 0) {
            if (!(type = option_value(&args, arg)))
                return 2;
        } else if (arg[0] != '-' && !dir) {
            dir = arg;
        } else {
            return usage_error("convert: unexpected argument '%s'", arg);
        }
    }
    if (!dir || !out)
        return usage_error(
            "usage: ponder-infer convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0]");
    char err[1024] = "";
    return report(convert_hf_to_gguf(dir, out, type, err, sizeof err), "convert", out, err);
}

int cmd_quantize(int argc, char **argv)
{
    const char *positional[3] = {0}, *imatrix = NULL;
    int n_positional = 0;
    uint32_t threads = 0;
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        const char *arg = argv[args.i];
        if (strcmp(arg, "--threads") == 0 || strcmp(arg, "-t") == 0) {
            const char *v = option_value(&args, arg);
            if (!v || !parse_u32(v, &threads))
                return usage_error("--threads needs a number");
        } else if (strcmp(arg, "--imatrix") == 0) {
            if (!(imatrix = option_value(&args, arg)))
                return 2;
        } else if (n_positional < 3 && (arg[0] != '-' || arg[1] == '\0')) {
            positional[n_positional++] = arg;
        } else {
            return usage_error("quantize: unexpected argument '%s'", arg);
        }
    }
    if (n_positional != 3)
        return usage_error("usage: ponder-infer quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] "
                           "[--threads N]");
    char err[1024] = "";
    return report(quantize_gguf(positional[0], positional[1], positional[2], imatrix, (int)threads,
                                err, sizeof err),
                  "quantize", positional[1], err);
}

int cmd_synth(int argc, char **argv)
{
    const char *preset = NULL, *type = NULL, *tokenizer = NULL, *out = NULL;
    uint64_t seed = 1;
    uint32_t threads = 0;
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        const char *arg = argv[args.i], *v;
        const char **target = strcmp(arg, "--preset") == 0      ? &preset
                              : strcmp(arg, "--type") == 0      ? &type
                              : strcmp(arg, "--tokenizer") == 0 ? &tokenizer
                              : strcmp(arg, "-o") == 0          ? &out
                                                                : NULL;
        if (target) {
            if (!(*target = option_value(&args, arg)))
                return 2;
        } else if (strcmp(arg, "--seed") == 0) {
            if (!(v = option_value(&args, arg)) || !parse_u64(v, &seed))
                return usage_error("--seed needs a number");
        } else if (strcmp(arg, "--threads") == 0 || strcmp(arg, "-t") == 0) {
            if (!(v = option_value(&args, arg)) || !parse_u32(v, &threads))
                return usage_error("--threads needs a number");
        } else {
            return usage_error("synth: unknown option '%s'", arg);
        }
    }
    if (!preset || !type || !tokenizer || !out)
        return usage_error(
            "usage: ponder-infer synth --preset NAME --type TYPE --tokenizer tokenizer.json "
            "-o OUT.gguf [--seed S]");
    char err[1024] = "";
    return report(synth_gguf(preset, type, tokenizer, out, seed, (int)threads, err, sizeof err),
                  "synth", out, err);
}

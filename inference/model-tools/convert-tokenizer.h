// Hugging Face tokenizer.json -> GGUF tokenizer metadata, with the knobs that `convert`
// needs beyond hf_tokenizer_to_gguf (model-files.h), which calls this with none of them.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct GgufWriter;

typedef struct HfTokenizerSummary {
    uint64_t n_tokens; // length of tokenizer.ggml.tokens (padding included)
    int64_t bos_id;    // -1 when the tokenizer names none
    int64_t eos_id;    // -1 when the tokenizer names none
} HfTokenizerSummary;

// As hf_tokenizer_to_gguf, and:
// - MIN_TOKENS pads the token list with "[PAD<id>]" (type unused) up to that length, as
//   llama.cpp does when the embedding has more rows than the tokenizer has tokens;
// - TOKENIZER_CONFIG_PATH may be NULL (no BOS/EOS names, add_bos from the post-processor);
// - a chat_template.jinja beside tokenizer.json is used when tokenizer_config.json has no
//   chat_template (newer transformers save it so);
// - SUMMARY (may be NULL) receives what was written.
bool hf_tokenizer_write(struct GgufWriter *writer, const char *tokenizer_json_path,
                        const char *tokenizer_config_path, uint64_t min_tokens,
                        HfTokenizerSummary *summary, char *err, size_t err_size);

// The tiny synth presets' vocabulary: a small piece of a real tokenizer, so tiny test
// models keep real token strings, merges and special tokens with an embedding of ~1K rows.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct GgufFile;
struct GgufWriter;

// Copies the tokenizer.* metadata of TOKENIZER (as hf_tokenizer_write wrote it) to WRITER,
// keeping only the first 1,024 tokens, the first 32 special tokens after them (renumbered
// to follow), the merges among the kept tokens, and "[PAD<id>]" padding up to a multiple
// of 32 rows. Special-token ids (BOS, EOS, ...) are renumbered; one that is not kept is an
// error. *N_ROWS receives the padded length.
bool synth_vocab_cut(struct GgufWriter *writer, const struct GgufFile *tokenizer, uint64_t *n_rows,
                     char *err, size_t err_size);

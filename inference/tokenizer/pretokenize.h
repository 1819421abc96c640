// Pre-tokenizer splits: hand-written scanners equal to the Hugging Face Split regexes
// (Oniguruma, leftmost-first alternation) of the Qwen2 and Llama 3 tokenizers:
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
//
// with \p{N}{1,3} in place of \p{N} for Llama 3. Every character is matched by some
// alternative, so the pieces tile the text: no gaps. Bytes that are not valid UTF-8 are
// single characters of no class (like U+FFFD, a symbol).
//
// DeepSeek-V3 chains three Isolated splits: \p{N}{1,3}, then [一-龥぀-ゟ゠-ヿ]+, then
//
//   [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//    ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// each applied within the pieces of the one before; text no alternative matches (digits,
// controls) stays a piece of its own, as Isolated keeps the gaps.
#pragma once

#include "tokenizer.h"

#include <stddef.h>

// The end (exclusive) of the piece that starts at POS < LEN. Always > POS.
size_t pretokenize_piece_end(TokenizerPre pre, const char *text, size_t len, size_t pos);

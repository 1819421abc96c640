// Unicode support for the tokenizer: UTF-8 decoding, general-category classes used by
// the pre-tokenizer regexes (\p{L}, \p{N}, \s), and NFC normalisation. The tables come
// from tools/gen-unicode-tables.py (Unicode Character Database, Debian's unicode-data).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Decodes one code point from S[0..len). Returns the number of bytes consumed (>= 1
// when len > 0). Invalid or truncated sequences consume one byte and yield U+FFFD with
// *valid set to false.
size_t utf8_decode(const char *s, size_t len, uint32_t *cp, bool *valid);
// Encodes CP into OUT (4 bytes of room); returns the byte count.
size_t utf8_encode(uint32_t cp, char *out);

bool unicode_is_letter(uint32_t cp);      // \p{L}
bool unicode_is_number(uint32_t cp);      // \p{N}
bool unicode_is_whitespace(uint32_t cp);  // \s as the Rust/Oniguruma regexes of HF define it
bool unicode_is_mark(uint32_t cp);        // \p{M}
bool unicode_is_punctuation(uint32_t cp); // \p{P}
bool unicode_is_symbol(uint32_t cp);      // \p{S}

// NFC-normalises UTF-8 text. Returns a malloc'd NUL-terminated string and its length in
// *out_len, or NULL when out of memory. Invalid UTF-8 bytes are passed through unchanged.
char *unicode_nfc(const char *s, size_t len, size_t *out_len);

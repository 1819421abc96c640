// From ids back to text: the byte-level mapping undone per token, and a streaming
// decoder whose output, token by token, adds up to what Hugging Face's ByteLevel
// decoder gives for the whole sequence (String::from_utf8_lossy: each maximal ill-formed
// subpart becomes one U+FFFD).

#include "tokenizer-internal.h"

#include "unicode.h"

#include <stdlib.h>
#include <string.h>

static const char REPLACEMENT[3] = {'\xEF', '\xBF', '\xBD'}; // U+FFFD

size_t tokenizer_text_to_bytes(const char *text, size_t len, bool raw, char *out)
{
    if (!raw) {
        size_t n = 0;
        for (size_t pos = 0; pos < len;) {
            uint32_t cp;
            bool valid;
            pos += utf8_decode(text + pos, len - pos, &cp, &valid);
            int byte = valid ? tokenizer_char_to_byte(cp) : -1;
            if (byte < 0) {
                n = SIZE_MAX; // not byte-level text: HF's decoder keeps it as it is
                break;
            }
            out[n++] = (char)byte;
        }
        if (n != SIZE_MAX)
            return n;
    }
    if (len)
        memcpy(out, text, len);
    return len;
}

// Length of the UTF-8 sequence that lead byte C starts; 0 if C cannot start one.
static size_t sequence_length(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

// Whether B may be byte K (>= 1) of the sequence led by LEAD (no overlongs, surrogates
// or values past U+10FFFF).
static bool continues(unsigned char lead, size_t k, unsigned char b)
{
    unsigned char lo = 0x80, hi = 0xBF;
    if (k == 1) {
        if (lead == 0xE0)
            lo = 0xA0;
        else if (lead == 0xED)
            hi = 0x9F;
        else if (lead == 0xF0)
            lo = 0x90;
        else if (lead == 0xF4)
            hi = 0x8F;
    }
    return b >= lo && b <= hi;
}

size_t tokenizer_decoded_bound(const char *bytes, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)bytes[i];
        size_t need = sequence_length(c), k = 1;
        while (need && k < need && i + k < n && continues(c, k, (unsigned char)bytes[i + k]))
            k++;
        out += need && k == need ? need : sizeof REPLACEMENT;
        i += k;
    }
    return out > n ? out : n;
}

int tokenizer_token_bytes(const Tokenizer *tok, int32_t id, char *out, size_t out_size)
{
    if (id < 0 || (uint32_t)id >= tok->n_tokens)
        return -1;
    size_t n = tok->byte_offsets[id + 1] - tok->byte_offsets[id];
    if (n > out_size)
        n = out_size;
    memcpy(out, tok->bytes + tok->byte_offsets[id], n);
    return (int)n;
}

void token_decoder_init(TokenDecoder *dec)
{
    dec->n_pending = 0;
}

// Decodes the held-back bytes followed by BYTES; holds back a trailing sequence that
// may still complete. Returns the bytes written, or -1 if OUT is too small.
static int decode_stream(TokenDecoder *dec, const char *bytes, size_t n, char *out, size_t out_size)
{
    char stream_head[sizeof dec->pending];
    size_t held = dec->n_pending;
    memcpy(stream_head, dec->pending, held);
    dec->n_pending = 0;
    size_t total = held + n, o = 0;
#define AT(i) ((unsigned char)((i) < held ? stream_head[i] : bytes[(i)-held]))
    for (size_t i = 0; i < total;) {
        unsigned char c = AT(i);
        size_t need = sequence_length(c), k = 1;
        while (need && k < need && i + k < total && continues(c, k, AT(i + k)))
            k++;
        if (need && k < need && i + k == total) {
            for (size_t j = 0; j < k; j++) // incomplete so far: wait for the next token
                dec->pending[j] = (char)AT(i + j);
            dec->n_pending = k;
            break;
        }
        bool whole = need && k == need;
        if (out_size - o < (whole ? need : sizeof REPLACEMENT))
            return -1;
        if (whole)
            for (size_t j = 0; j < need; j++)
                out[o++] = (char)AT(i + j);
        else
            for (size_t j = 0; j < sizeof REPLACEMENT; j++)
                out[o++] = REPLACEMENT[j];
        i += k;
    }
#undef AT
    return (int)o;
}

int token_decoder_push(TokenDecoder *dec, const Tokenizer *tok, int32_t id, char *out,
                       size_t out_size)
{
    if (id < 0 || (uint32_t)id >= tok->n_tokens)
        return -1;
    size_t n = tok->byte_offsets[id + 1] - tok->byte_offsets[id];
    return decode_stream(dec, tok->bytes + tok->byte_offsets[id], n, out, out_size);
}

int token_decoder_finish(TokenDecoder *dec, char *out, size_t out_size)
{
    if (dec->n_pending == 0)
        return 0;
    if (out_size < sizeof REPLACEMENT)
        return -1;
    dec->n_pending = 0; // a sequence cut short is one maximal ill-formed subpart
    memcpy(out, REPLACEMENT, sizeof REPLACEMENT);
    return sizeof REPLACEMENT;
}

char *tokenizer_decode(const Tokenizer *tok, const int32_t *ids, size_t n)
{
    size_t step = tok->max_token_bytes + 16, cap = step + 1, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    TokenDecoder dec;
    token_decoder_init(&dec);
    for (size_t i = 0; i <= n; i++) {
        if (cap - len < step + 1) {
            cap = cap * 2 > len + step + 1 ? cap * 2 : len + step + 1;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                return NULL;
            }
            text = grown;
        }
        int got = i < n ? token_decoder_push(&dec, tok, ids[i], text + len, cap - len - 1)
                        : token_decoder_finish(&dec, text + len, cap - len - 1);
        if (got > 0) // ids outside the vocabulary are skipped, as HF does
            len += (size_t)got;
    }
    text[len] = '\0';
    return text;
}

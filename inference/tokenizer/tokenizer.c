// Byte-level BPE: vocabulary and merge tables, and encoding.
//
// Encoding follows Hugging Face `tokenizers`: added tokens are cut out of the raw text
// first (leftmost, then longest), each stretch between them is NFC-normalised (Qwen2),
// split by the pre-tokenizer, mapped byte -> GPT-2 "byte-level" character and merged by
// BPE, always applying the lowest-ranked adjacent pair first (leftmost on ties).
// Decoding (token bytes, the streaming decoder) is in tokenizer-decode.c.

#include "tokenizer-internal.h"

#include "pretokenize.h"
#include "unicode.h"
#include "runtime/error-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_TOKEN_TEXT = 1 << 16, // far above any real token; bounds decoder buffers
};

// ---- Byte-level alphabet -----------------------------------------------------------

// GPT-2 maps each byte to a printable character: the printable Latin-1 bytes map to
// themselves; the other 68 (0x00-0x20, 0x7F-0xA0, 0xAD) to U+0100.. in byte order.
static bool byte_is_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

static uint32_t byte_to_char(unsigned b)
{
    if (byte_is_printable(b))
        return b;
    if (b <= 32)
        return 256 + b;
    if (b <= 160)
        return 256 + 33 + (b - 127);
    return 256 + 33 + 34; // 0xAD
}

int tokenizer_char_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp < 256 + 33)
        return (int)(cp - 256);
    if (cp < 256 + 33 + 34)
        return (int)(cp - 256 - 33 + 127);
    return cp == 256 + 33 + 34 ? 0xAD : -1;
}

// ---- Hash tables -------------------------------------------------------------------

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull; // FNV-1a
    return h;
}
#define HASH_SEED 0xCBF29CE484222325ull

static size_t table_size_for(size_t n)
{
    size_t size = 16;
    while (size < n * 2)
        size *= 2;
    return size;
}

const char *tokenizer_text_of(const Tokenizer *tok, int32_t id, size_t *len)
{
    *len = tok->text_offsets[id + 1] - tok->text_offsets[id] - 1; // minus the NUL
    return tok->texts + tok->text_offsets[id];
}

// The id whose text is A followed by B, or -1.
static int32_t lookup_pair_text(const Tokenizer *tok, const char *a, size_t a_len, const char *b,
                                size_t b_len)
{
    uint64_t h = hash_bytes(hash_bytes(HASH_SEED, a, a_len), b, b_len);
    for (size_t slot = h & tok->index_mask;; slot = (slot + 1) & tok->index_mask) {
        int32_t id = tok->index[slot];
        if (id < 0)
            return -1;
        size_t len;
        const char *text = tokenizer_text_of(tok, id, &len);
        if (len == a_len + b_len && memcmp(text, a, a_len) == 0 &&
            memcmp(text + a_len, b, b_len) == 0)
            return id;
    }
}

static int32_t lookup_text(const Tokenizer *tok, const char *s, size_t n)
{
    return lookup_pair_text(tok, s, n, "", 0);
}

// First insertion wins, so a text that occurs twice keeps its lowest id.
static void index_insert(Tokenizer *tok, int32_t id)
{
    size_t len;
    const char *text = tokenizer_text_of(tok, id, &len);
    if (len == 0 || lookup_text(tok, text, len) >= 0)
        return;
    uint64_t h = hash_bytes(HASH_SEED, text, len);
    size_t slot = h & tok->index_mask;
    while (tok->index[slot] >= 0)
        slot = (slot + 1) & tok->index_mask;
    tok->index[slot] = id;
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static size_t pair_slot(uint64_t key, size_t mask)
{
    key ^= key >> 29;
    key *= 0xBF58476D1CE4E5B9ull;
    key ^= key >> 32;
    return key & mask;
}

static const MergeSlot *find_merge(const Tokenizer *tok, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);
    for (size_t slot = pair_slot(key, tok->merge_mask);; slot = (slot + 1) & tok->merge_mask) {
        const MergeSlot *m = &tok->merges[slot];
        if (m->rank < 0)
            return NULL;
        if (m->key == key)
            return m;
    }
}

// ---- Construction ------------------------------------------------------------------

static bool is_added_type(int32_t type)
{
    return type == TOKEN_TYPE_CONTROL || type == TOKEN_TYPE_USER_DEFINED;
}

// Stores every token's text and raw bytes, and the longest decoded length.
static bool store_token_texts(Tokenizer *tok, const TokenizerSpec *spec, char *err, size_t err_size)
{
    size_t total = 0;
    for (uint32_t i = 0; i < spec->n_tokens; i++) {
        if (!spec->tokens[i] && spec->token_lens[i]) {
            ponder_failf(err, err_size, "token %u has no text", i);
            return false;
        }
        if (spec->token_lens[i] > MAX_TOKEN_TEXT) {
            ponder_failf(err, err_size, "token %u is %zu bytes long (the limit is %d)", i,
                         spec->token_lens[i], MAX_TOKEN_TEXT);
            return false;
        }
        total += spec->token_lens[i] + 1;
    }
    tok->text_offsets = malloc((spec->n_tokens + 1) * sizeof *tok->text_offsets);
    tok->byte_offsets = malloc((spec->n_tokens + 1) * sizeof *tok->byte_offsets);
    tok->texts = malloc(total);
    tok->bytes = malloc(total); // raw bytes are never longer than the text
    if (!tok->text_offsets || !tok->byte_offsets || !tok->texts || !tok->bytes) {
        ponder_failf(err, err_size, "out of memory for %u tokens", spec->n_tokens);
        return false;
    }
    size_t t = 0, b = 0;
    for (uint32_t i = 0; i < spec->n_tokens; i++) {
        size_t len = spec->token_lens[i];
        tok->text_offsets[i] = t;
        tok->byte_offsets[i] = b;
        if (len)
            memcpy(tok->texts + t, spec->tokens[i], len);
        tok->texts[t + len] = '\0';
        t += len + 1;
        b += tokenizer_text_to_bytes(tok->texts + tok->text_offsets[i], len,
                                     is_added_type(tok->types[i]), tok->bytes + b);
        size_t decoded =
            tokenizer_decoded_bound(tok->bytes + tok->byte_offsets[i], b - tok->byte_offsets[i]);
        if (decoded > tok->max_token_bytes)
            tok->max_token_bytes = decoded;
    }
    tok->text_offsets[spec->n_tokens] = t;
    tok->byte_offsets[spec->n_tokens] = b;
    return true;
}

// Merges are "left right" strings. Tokens of byte-level vocabularies never contain a
// plain space, but try every space so that one inside a token cannot break a rule.
static bool add_merge(Tokenizer *tok, const char *merge, size_t len, int32_t rank)
{
    for (size_t s = 0; s < len; s++) {
        if (merge[s] != ' ')
            continue;
        int32_t left = lookup_text(tok, merge, s);
        int32_t right = left < 0 ? -1 : lookup_text(tok, merge + s + 1, len - s - 1);
        if (right < 0)
            continue;
        int32_t result = lookup_pair_text(tok, merge, s, merge + s + 1, len - s - 1);
        if (result < 0)
            continue;
        uint64_t key = pair_key(left, right);
        size_t slot = pair_slot(key, tok->merge_mask);
        for (; tok->merges[slot].rank >= 0; slot = (slot + 1) & tok->merge_mask)
            if (tok->merges[slot].key == key)
                return true; // a repeated rule keeps its first (lowest) rank
        tok->merges[slot] = (MergeSlot){.key = key, .rank = rank, .result = result};
        return true;
    }
    return false;
}

typedef struct AddedRef {
    unsigned char first;
    size_t len;
    int32_t id;
} AddedRef;

static int compare_added(const void *a, const void *b)
{
    const AddedRef *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1; // longest first
    return x->id < y->id ? -1 : x->id > y->id;
}

// Added tokens grouped by first byte, longest first, for leftmost-longest matching.
static bool index_added_tokens(Tokenizer *tok)
{
    size_t n = 0;
    for (uint32_t i = 0; i < tok->n_tokens; i++)
        n += is_added_type(tok->types[i]) && tok->text_offsets[i + 1] - tok->text_offsets[i] > 1;
    AddedRef *refs = malloc((n ? n : 1) * sizeof *refs);
    tok->added_ids = malloc((n ? n : 1) * sizeof *tok->added_ids);
    if (!refs || !tok->added_ids) {
        free(refs);
        return false;
    }
    n = 0;
    for (uint32_t i = 0; i < tok->n_tokens; i++) {
        size_t len;
        const char *text = tokenizer_text_of(tok, (int32_t)i, &len);
        if (is_added_type(tok->types[i]) && len)
            refs[n++] = (AddedRef){(unsigned char)text[0], len, (int32_t)i};
    }
    qsort(refs, n, sizeof *refs, compare_added);
    for (size_t k = 0; k < n; k++)
        tok->added_ids[k] = refs[k].id;
    tok->n_added = n;
    size_t k = 0;
    for (unsigned byte = 0; byte <= 256; byte++) {
        while (k < n && refs[k].first < byte)
            k++;
        tok->added_by_first_byte[byte] = (uint32_t)k;
    }
    free(refs);
    return true;
}

Tokenizer *tokenizer_new(const TokenizerSpec *spec, char *err, size_t err_size)
{
    if (spec->n_tokens == 0 || spec->n_tokens > INT32_MAX - 1 || !spec->tokens ||
        !spec->token_lens) {
        ponder_failf(err, err_size, "a tokenizer needs between 1 and %d tokens", INT32_MAX - 1);
        return NULL;
    }
    if (spec->n_merges && (!spec->merges || !spec->merge_lens)) {
        ponder_failf(err, err_size, "merges missing");
        return NULL;
    }
    const struct {
        const char *name;
        int32_t id;
    } specials[] = {{"BOS", spec->bos_id}, {"EOS", spec->eos_id}};
    for (int i = 0; i < 2; i++) {
        if (specials[i].id < -1 || specials[i].id >= (int64_t)spec->n_tokens) {
            ponder_failf(err, err_size, "%s id %d is outside the vocabulary of %u tokens",
                         specials[i].name, specials[i].id, spec->n_tokens);
            return NULL;
        }
    }
    if (spec->n_merges > INT32_MAX) {
        ponder_failf(err, err_size, "%u merges is too many", spec->n_merges);
        return NULL;
    }

    Tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        ponder_failf(err, err_size, "out of memory");
        return NULL;
    }
    tok->pre = spec->pre;
    tok->normalize_nfc = spec->normalize_nfc;
    // Llama 3's tokenizer.json sets "ignore_merges": a piece that is itself a vocabulary
    // entry is taken whole, even when the merges would split it.
    tok->ignore_merges = spec->pre == TOKENIZER_PRE_LLAMA3;
    tok->n_tokens = spec->n_tokens;
    tok->bos_id = spec->bos_id;
    tok->eos_id = spec->eos_id;
    tok->add_bos = spec->add_bos;
    tok->generation_opens_think = true; // the R1 distills' format unless the loader says not
    tok->types = malloc(spec->n_tokens * sizeof *tok->types);
    if (!tok->types) {
        ponder_failf(err, err_size, "out of memory for %u tokens", spec->n_tokens);
        goto fail;
    }
    for (uint32_t i = 0; i < spec->n_tokens; i++) {
        int32_t type = spec->token_types ? spec->token_types[i] : TOKEN_TYPE_NORMAL;
        if (type < TOKEN_TYPE_NORMAL || type > TOKEN_TYPE_BYTE) {
            ponder_failf(err, err_size, "token %u has unknown type %d", i, type);
            goto fail;
        }
        tok->types[i] = type;
    }
    if (!store_token_texts(tok, spec, err, err_size))
        goto fail;

    // Text -> id: ordinary tokens first, so BPE never lands on an added token that
    // happens to share a text with one of them (Hugging Face keeps them apart too).
    size_t index_size = table_size_for(spec->n_tokens);
    tok->index = malloc(index_size * sizeof *tok->index);
    size_t merge_size = table_size_for(spec->n_merges);
    tok->merges = malloc(merge_size * sizeof *tok->merges);
    if (!tok->index || !tok->merges) {
        ponder_failf(err, err_size, "out of memory for the vocabulary index");
        goto fail;
    }
    memset(tok->index, 0xFF, index_size * sizeof *tok->index); // all -1
    tok->index_mask = index_size - 1;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < spec->n_tokens; i++)
            if (is_added_type(tok->types[i]) == (pass == 1))
                index_insert(tok, (int32_t)i);

    for (size_t i = 0; i < merge_size; i++)
        tok->merges[i].rank = -1;
    tok->merge_mask = merge_size - 1;
    for (uint32_t i = 0; i < spec->n_merges; i++) {
        if (!spec->merges[i] && spec->merge_lens[i]) {
            ponder_failf(err, err_size, "merge %u has no text", i);
            goto fail;
        }
        // Rules whose parts or result are not in the vocabulary can never apply.
        tok->n_merges += add_merge(tok, spec->merges[i], spec->merge_lens[i], (int32_t)i);
    }

    for (unsigned b = 0; b < 256; b++) {
        char text[4];
        size_t n = utf8_encode(byte_to_char(b), text);
        tok->byte_tokens[b] = lookup_text(tok, text, n);
    }
    if (!index_added_tokens(tok)) {
        ponder_failf(err, err_size, "out of memory");
        goto fail;
    }
    return tok;
fail:
    tokenizer_free(tok);
    return NULL;
}

void tokenizer_free(Tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->types);
    free(tok->texts);
    free(tok->text_offsets);
    free(tok->bytes);
    free(tok->byte_offsets);
    free(tok->index);
    free(tok->merges);
    free(tok->added_ids);
    free(tok);
}

// ---- Accessors ---------------------------------------------------------------------

uint32_t tokenizer_vocab_size(const Tokenizer *tok)
{
    return tok->n_tokens;
}
int32_t tokenizer_bos(const Tokenizer *tok)
{
    return tok->bos_id;
}
int32_t tokenizer_eos(const Tokenizer *tok)
{
    return tok->eos_id;
}
bool tokenizer_add_bos(const Tokenizer *tok)
{
    return tok->add_bos;
}
TokenizerPre tokenizer_pre(const Tokenizer *tok)
{
    return tok->pre;
}
bool tokenizer_generation_opens_think(const Tokenizer *tok)
{
    return tok->generation_opens_think;
}
void tokenizer_set_generation_opens_think(Tokenizer *tok, bool opens)
{
    tok->generation_opens_think = opens;
}
size_t tokenizer_max_token_bytes(const Tokenizer *tok)
{
    return tok->max_token_bytes;
}

static bool valid_id(const Tokenizer *tok, int32_t id)
{
    return id >= 0 && (uint32_t)id < tok->n_tokens;
}

int32_t tokenizer_token_type(const Tokenizer *tok, int32_t id)
{
    return valid_id(tok, id) ? tok->types[id] : -1;
}

int32_t tokenizer_find(const Tokenizer *tok, const char *text)
{
    return lookup_text(tok, text, strlen(text));
}

const char *tokenizer_token_text(const Tokenizer *tok, int32_t id)
{
    return valid_id(tok, id) ? tok->texts + tok->text_offsets[id] : NULL;
}

// ---- Encoding ----------------------------------------------------------------------

typedef struct Symbol {
    int32_t id;
    int32_t prev, next; // neighbours in the piece; -1 at the ends
    bool merged_away;
} Symbol;

typedef struct Encoder {
    const Tokenizer *tok;
    int32_t *ids;
    size_t n_ids, cap_ids;
    // Scratch for one piece, grown as needed.
    Symbol *symbols;
    uint64_t *heap; // (rank << 32 | position of the left symbol): min-heap
    char *chars;    // the piece in byte-level characters
    size_t scratch_cap;
    bool failed;
} Encoder;

static void emit(Encoder *e, int32_t id)
{
    if (e->n_ids == e->cap_ids) {
        size_t cap = e->cap_ids ? e->cap_ids * 2 : 64;
        int32_t *grown = realloc(e->ids, cap * sizeof *grown);
        if (!grown) {
            e->failed = true;
            return;
        }
        e->ids = grown;
        e->cap_ids = cap;
    }
    e->ids[e->n_ids++] = id;
}

static bool reserve_scratch(Encoder *e, size_t n)
{
    if (n <= e->scratch_cap)
        return true;
    size_t cap = n < 256 ? 256 : n;
    Symbol *symbols = realloc(e->symbols, cap * sizeof *symbols);
    if (symbols)
        e->symbols = symbols;
    uint64_t *heap = realloc(e->heap, cap * 3 * sizeof *heap); // 1 + 2 per merge
    if (heap)
        e->heap = heap;
    char *chars = realloc(e->chars, cap * 2);
    if (chars)
        e->chars = chars;
    if (!symbols || !heap || !chars) {
        e->failed = true;
        return false;
    }
    e->scratch_cap = cap;
    return true;
}

static void heap_push(uint64_t *heap, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2] > v) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = v;
}

static uint64_t heap_pop(uint64_t *heap, size_t *n)
{
    uint64_t top = heap[0], last = heap[--*n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && heap[child + 1] < heap[child])
            child++;
        if (heap[child] >= last)
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n)
        heap[i] = last;
    return top;
}

static void push_pair(Encoder *e, size_t *heap_len, int32_t left)
{
    int32_t right = e->symbols[left].next;
    if (right < 0)
        return;
    const MergeSlot *m = find_merge(e->tok, e->symbols[left].id, e->symbols[right].id);
    if (m)
        heap_push(e->heap, heap_len, (uint64_t)m->rank << 32 | (uint32_t)left);
}

static void bpe_piece(Encoder *e, const unsigned char *piece, size_t n)
{
    const Tokenizer *tok = e->tok;
    if (!reserve_scratch(e, n))
        return;
    if (tok->ignore_merges) {
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += utf8_encode(byte_to_char(piece[i]), e->chars + len);
        int32_t whole = lookup_text(tok, e->chars, len);
        if (whole >= 0) {
            emit(e, whole);
            return;
        }
    }
    // One symbol per byte; a byte without a token is dropped, as HF does without an
    // unknown token.
    int32_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = tok->byte_tokens[piece[i]];
        if (id < 0)
            continue;
        e->symbols[count] = (Symbol){.id = id, .prev = count - 1, .next = count + 1};
        count++;
    }
    if (count == 0)
        return;
    e->symbols[count - 1].next = -1;

    size_t heap_len = 0;
    for (int32_t i = 0; i + 1 < count; i++)
        push_pair(e, &heap_len, i);
    while (heap_len) {
        uint64_t top = heap_pop(e->heap, &heap_len);
        int32_t left = (int32_t)(uint32_t)top;
        Symbol *l = &e->symbols[left];
        if (l->merged_away || l->next < 0)
            continue;
        // Stale entries: the pair at LEFT changed since this entry was queued.
        const MergeSlot *m = find_merge(tok, l->id, e->symbols[l->next].id);
        if (!m || (uint32_t)m->rank != top >> 32)
            continue;
        Symbol *r = &e->symbols[l->next];
        l->id = m->result;
        r->merged_away = true;
        l->next = r->next;
        if (r->next >= 0)
            e->symbols[r->next].prev = left;
        if (l->prev >= 0)
            push_pair(e, &heap_len, l->prev);
        push_pair(e, &heap_len, left);
    }
    for (int32_t i = 0; i >= 0; i = e->symbols[i].next)
        emit(e, e->symbols[i].id);
}

// Normalises and pre-tokenizes a stretch of text without added tokens.
static void encode_plain(Encoder *e, const char *text, size_t len)
{
    if (len == 0)
        return;
    char *normalized = NULL;
    if (e->tok->normalize_nfc) {
        normalized = unicode_nfc(text, len, &len);
        if (!normalized) {
            e->failed = true;
            return;
        }
        text = normalized;
    }
    for (size_t pos = 0; pos < len && !e->failed;) {
        size_t end = pretokenize_piece_end(e->tok->pre, text, len, pos);
        bpe_piece(e, (const unsigned char *)text + pos, end - pos);
        pos = end;
    }
    free(normalized);
}

// The longest added token at TEXT[pos..len), or -1.
static int32_t match_added(const Tokenizer *tok, const char *text, size_t len, size_t pos)
{
    unsigned char first = (unsigned char)text[pos];
    for (uint32_t k = tok->added_by_first_byte[first]; k < tok->added_by_first_byte[first + 1];
         k++) {
        int32_t id = tok->added_ids[k];
        size_t n;
        const char *t = tokenizer_text_of(tok, id, &n);
        if (n <= len - pos && memcmp(text + pos, t, n) == 0)
            return id;
    }
    return -1;
}

int64_t tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, bool allow_special,
                         int32_t **out)
{
    Encoder e = {.tok = tok};
    size_t plain_start = 0;
    if (allow_special && tok->n_added) {
        for (size_t pos = 0; pos < len && !e.failed;) {
            int32_t id = match_added(tok, text, len, pos);
            if (id < 0) {
                pos++;
                continue;
            }
            encode_plain(&e, text + plain_start, pos - plain_start);
            emit(&e, id);
            pos += tok->text_offsets[id + 1] - tok->text_offsets[id] - 1;
            plain_start = pos;
        }
    }
    if (!e.failed)
        encode_plain(&e, text + plain_start, len - plain_start);
    free(e.symbols);
    free(e.heap);
    free(e.chars);
    if (!e.failed && !e.ids)
        e.failed = !(e.ids = malloc(sizeof *e.ids)); // a valid pointer even when empty
    if (e.failed) {
        free(e.ids);
        *out = NULL;
        return -1;
    }
    *out = e.ids;
    return (int64_t)e.n_ids;
}

// A model file described from its GGUF header. The inference library's reader does the
// validation (so a hostile file is a message here, never a bad read); this file only turns
// its metadata into what a user chooses a model by.
#include "ponder-model-entry.h"

#include "formats/gguf.h"
#include "ponder-infer.h"
#include "quant/quant.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

struct _PonderModelEntry {
    GObject parent_instance;

    // where the file is
    char *path;
    PonderModelSource source;
    char *source_label;
    char *digest;
    dev_t device;
    ino_t inode;
    guint64 part_size; // the first (or only) file: what a rescan compares
    guint64 file_size; // every part
    guint n_parts;
    gint64 mtime_usec;
    GDateTime *modified_time;

    // names
    char *display_name;
    char *base_slug;
    char *slug;

    // why it cannot run (NULL: it can)
    char *unusable_reason;

    // from the header (NULL / 0 when it could not be read)
    gboolean header_read;
    char *architecture;
    char *quant_type;
    guint64 n_params;
    guint64 tensor_bytes;
    guint32 context_length;
    guint32 n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_vocab;
};

G_DEFINE_FINAL_TYPE(PonderModelEntry, ponder_model_entry, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE(PonderModelSource, ponder_model_source,
                   G_DEFINE_ENUM_VALUE(PONDER_MODEL_SOURCE_OWN, "own"),
                   G_DEFINE_ENUM_VALUE(PONDER_MODEL_SOURCE_OLLAMA, "ollama"),
                   G_DEFINE_ENUM_VALUE(PONDER_MODEL_SOURCE_LM_STUDIO, "lm-studio"),
                   G_DEFINE_ENUM_VALUE(PONDER_MODEL_SOURCE_HUGGING_FACE, "hugging-face"),
                   G_DEFINE_ENUM_VALUE(PONDER_MODEL_SOURCE_FOLDER, "folder"))

enum {
    PROP_0,
    PROP_PATH,
    PROP_SOURCE,
    PROP_SOURCE_LABEL,
    PROP_DISPLAY_NAME,
    PROP_SLUG,
    PROP_USABLE,
    PROP_UNUSABLE_REASON,
    PROP_ARCHITECTURE,
    PROP_QUANT_TYPE,
    PROP_N_PARAMS,
    PROP_CONTEXT_LENGTH,
    PROP_FILE_SIZE,
    N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char *ponder_model_source_get_name(PonderModelSource source)
{
    switch (source) {
    case PONDER_MODEL_SOURCE_OWN: return "Ponder";
    case PONDER_MODEL_SOURCE_OLLAMA: return "Ollama";
    case PONDER_MODEL_SOURCE_LM_STUDIO: return "LM Studio";
    case PONDER_MODEL_SOURCE_HUGGING_FACE: return "Hugging Face";
    case PONDER_MODEL_SOURCE_FOLDER: return "Folders";
    }
    return "Unknown";
}

char *ponder_model_make_slug(const char *display_name, const char *quant_type)
{
    GString *slug = g_string_new(NULL);
    gboolean pending_dash = FALSE;
    for (const char *p = display_name ? display_name : ""; *p; p++) {
        if (g_ascii_isalnum(*p)) {
            if (pending_dash && slug->len > 0)
                g_string_append_c(slug, '-');
            pending_dash = FALSE;
            g_string_append_c(slug, g_ascii_tolower(*p));
        } else {
            pending_dash = TRUE;
        }
    }
    if (slug->len == 0)
        g_string_append(slug, "model"); // a name of symbols only still needs a slug
    if (quant_type) {
        g_string_append_c(slug, ':');
        for (const char *p = quant_type; *p; p++)
            g_string_append_c(slug, g_ascii_isalnum(*p) || *p == '_' ? g_ascii_tolower(*p) : '-');
    }
    return g_string_free(slug, FALSE);
}

gboolean ponder_model_parse_split_name(const char *basename, guint *part, guint *count,
                                       gsize *prefix_len)
{
    // llama.cpp's gguf-split names: PREFIX-%05d-of-%05d.gguf
    static const char tail[] = "-00000-of-00000.gguf";
    gsize len = strlen(basename), tail_len = sizeof tail - 1;
    if (len <= tail_len)
        return FALSE;
    const char *t = basename + len - tail_len;
    for (gsize i = 0; i < tail_len; i++) {
        gboolean digit_slot = tail[i] == '0';
        if (digit_slot ? !g_ascii_isdigit(t[i]) : g_ascii_tolower(t[i]) != tail[i])
            return FALSE;
    }
    guint p = (guint)g_ascii_strtoull(t + 1, NULL, 10);
    guint n = (guint)g_ascii_strtoull(t + 10, NULL, 10);
    if (p == 0 || n == 0 || p > n)
        return FALSE;
    if (part)
        *part = p;
    if (count)
        *count = n;
    if (prefix_len)
        *prefix_len = len - tail_len;
    return TRUE;
}

// ---- Reading the header --------------------------------------------------------------

static char *gguf_dup(GgufString s)
{
    return g_strndup(s.data, s.len);
}

static void mark_unusable(PonderModelEntry *self, const char *reason)
{
    if (!self->unusable_reason)
        self->unusable_reason = g_strdup(reason);
}

static void sum_tensors(const GgufFile *file, guint64 *n_params, guint64 *n_bytes)
{
    for (guint64 i = 0; i < file->n_tensors; i++) {
        *n_params += file->tensors[i].n_elements;
        *n_bytes += file->tensors[i].n_bytes;
    }
}

// When general.file_type is absent or unknown: the type holding most of the matrix bytes.
static char *dominant_tensor_type(const GgufFile *file)
{
    guint64 bytes_by_type[PONDER_TYPE_COUNT] = {0};
    for (guint64 i = 0; i < file->n_tensors; i++) {
        const GgufTensor *t = &file->tensors[i];
        if (t->n_dims >= 2 && t->type < PONDER_TYPE_COUNT)
            bytes_by_type[t->type] += t->n_bytes;
    }
    guint best = PONDER_TYPE_COUNT;
    for (guint type = 0; type < PONDER_TYPE_COUNT; type++)
        if (bytes_by_type[type] > 0 &&
            (best == PONDER_TYPE_COUNT || bytes_by_type[type] > bytes_by_type[best]))
            best = type;
    const PonderTypeTraits *traits = best < PONDER_TYPE_COUNT ? ponder_type_traits(best) : NULL;
    return traits ? g_ascii_strup(traits->name, -1) : NULL;
}

static guint32 arch_u32(const GgufFile *file, const char *arch, const char *suffix,
                        guint32 fallback, char **missing_key)
{
    g_autofree char *key = g_strdup_printf("%s.%s", arch, suffix);
    uint32_t value;
    if (gguf_get_u32(file, key, &value))
        return value;
    if (missing_key && !*missing_key)
        *missing_key = g_steal_pointer(&key);
    return fallback;
}

static void read_header(PonderModelEntry *self, const char *path)
{
    char err[512];
    GgufFile *file = gguf_open(path, err, sizeof err);
    if (!file) {
        mark_unusable(self, err);
        return;
    }
    self->header_read = TRUE;

    GgufString s;
    if (gguf_get_string(file, "general.name", &s) && s.len > 0)
        self->display_name = gguf_dup(s);
    uint32_t file_type;
    const char *ft_name = gguf_get_u32(file, "general.file_type", &file_type)
                              ? ponder_file_type_name(file_type)
                              : NULL;
    self->quant_type = ft_name ? g_strdup(ft_name) : dominant_tensor_type(file);
    sum_tensors(file, &self->n_params, &self->tensor_bytes);
    const GgufTensor *embd = gguf_find_tensor(file, "token_embd.weight");
    if (embd && embd->n_dims >= 2 && embd->ne[1] <= G_MAXUINT32)
        self->n_vocab = (guint32)embd->ne[1];

    if (!gguf_get_string(file, "general.architecture", &s)) {
        mark_unusable(self, "metadata key 'general.architecture' is missing");
        gguf_close(file);
        return;
    }
    self->architecture = gguf_dup(s);
    const char *arch = self->architecture;
    if (strcmp(arch, "qwen2") != 0 && strcmp(arch, "qwen3") != 0 && strcmp(arch, "llama") != 0) {
        g_autofree char *reason = g_strdup_printf(
            "architecture '%s' is not supported (Ponder runs qwen2, qwen3 and llama)", arch);
        mark_unusable(self, reason);
    }

    if (gguf_get_string(file, "tokenizer.chat_template", &s)) {
        g_autofree char *template_text = gguf_dup(s);
        const char *reason = chat_template_unsupported_reason(template_text);
        if (reason)
            mark_unusable(self, reason);
    }

    // The keys the loader requires; the first one missing is the reason.
    g_autofree char *missing = NULL;
    self->n_layer = arch_u32(file, arch, "block_count", 0, &missing);
    self->n_embd = arch_u32(file, arch, "embedding_length", 0, &missing);
    self->n_head = arch_u32(file, arch, "attention.head_count", 0, &missing);
    self->n_ff = arch_u32(file, arch, "feed_forward_length", 0, &missing);
    self->n_head_kv = arch_u32(file, arch, "attention.head_count_kv", self->n_head, NULL);
    self->context_length = arch_u32(file, arch, "context_length", 0, NULL);
    // The real head size: qwen3 heads need not be embedding / heads (the KV cache is
    // n_head_kv * key_length per token and layer).
    self->head_dim = arch_u32(file, arch, "attention.key_length",
                              self->n_head ? self->n_embd / self->n_head : 0, NULL);
    if (missing) {
        g_autofree char *reason = g_strdup_printf("metadata key '%s' is missing", missing);
        mark_unusable(self, reason);
    }
    gguf_close(file);
}

// The other parts of a split set: their sizes and tensors are added to the entry's.
static void read_split_parts(PonderModelEntry *self, const char *path, gsize prefix_len,
                             guint count)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *prefix = g_strndup(base, prefix_len);
    guint missing_part = 0;
    for (guint part = 2; part <= count; part++) {
        g_autofree char *name = g_strdup_printf("%s-%05u-of-%05u.gguf", prefix, part, count);
        g_autofree char *part_path = g_build_filename(dir, name, NULL);
        GStatBuf st;
        if (g_stat(part_path, &st) != 0) {
            if (!missing_part)
                missing_part = part;
            continue;
        }
        self->file_size += (guint64)st.st_size;
        char err[512];
        GgufFile *file = gguf_open(part_path, err, sizeof err);
        if (file) {
            sum_tensors(file, &self->n_params, &self->tensor_bytes);
            gguf_close(file);
        }
    }
    self->n_parts = count;
    g_autofree char *reason =
        missing_part ? g_strdup_printf("split GGUF files are not supported yet (part %u of %u is "
                                       "missing)",
                                       missing_part, count)
                     : g_strdup_printf("split GGUF files are not supported yet (%u parts)", count);
    // The split is the reason users need first: it explains a valid-looking header too.
    g_clear_pointer(&self->unusable_reason, g_free);
    self->unusable_reason = g_steal_pointer(&reason);
}

static char *file_display_name(const char *path, gsize split_prefix_len)
{
    g_autofree char *base = g_path_get_basename(path);
    if (split_prefix_len)
        return g_strndup(base, split_prefix_len);
    if (g_str_has_suffix(base, ".gguf") || g_str_has_suffix(base, ".GGUF"))
        base[strlen(base) - 5] = '\0';
    return g_steal_pointer(&base);
}

PonderModelEntry *ponder_model_entry_new_from_file(const char *path, PonderModelSource source,
                                                   const char *source_label, const char *digest,
                                                   GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    GStatBuf st;
    if (g_stat(path, &st) != 0) {
        int saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                    "cannot read model file %s: %s", path, g_strerror(saved));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                    "model file %s is not a regular file", path);
        return NULL;
    }

    PonderModelEntry *self = g_object_new(PONDER_TYPE_MODEL_ENTRY, NULL);
    self->path = g_strdup(path);
    self->source = source;
    self->source_label = g_strdup(source_label);
    self->digest = g_strdup(digest);
    self->device = st.st_dev;
    self->inode = st.st_ino;
    self->part_size = self->file_size = (guint64)st.st_size;
    self->n_parts = 1;
    self->mtime_usec = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
    self->modified_time = g_date_time_new_from_unix_utc(st.st_mtim.tv_sec);

    read_header(self, path);
    g_autofree char *base = g_path_get_basename(path);
    guint part = 0, count = 0;
    gsize prefix_len = 0;
    if (ponder_model_parse_split_name(base, &part, &count, &prefix_len) && count > 1)
        read_split_parts(self, path, prefix_len, count);
    else
        prefix_len = 0;
    if (!self->display_name)
        self->display_name = file_display_name(path, prefix_len);
    self->base_slug = ponder_model_make_slug(self->display_name, self->quant_type);
    self->slug = g_strdup(self->base_slug);
    return self;
}

// ---- Getters ---------------------------------------------------------------------------

const char *ponder_model_entry_get_path(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->path;
}

PonderModelSource ponder_model_entry_get_source(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), PONDER_MODEL_SOURCE_OWN);
    return self->source;
}

const char *ponder_model_entry_get_source_label(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->source_label;
}

const char *ponder_model_entry_get_digest(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->digest;
}

const char *ponder_model_entry_get_display_name(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->display_name;
}

const char *ponder_model_entry_get_slug(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->slug;
}

const char *ponder_model_entry_get_base_slug(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->base_slug;
}

void ponder_model_entry_set_slug(PonderModelEntry *self, const char *slug)
{
    g_return_if_fail(PONDER_IS_MODEL_ENTRY(self));
    g_return_if_fail(slug != NULL);
    if (g_strcmp0(self->slug, slug) == 0)
        return;
    g_free(self->slug);
    self->slug = g_strdup(slug);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_SLUG]);
}

gboolean ponder_model_entry_get_usable(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), FALSE);
    return self->unusable_reason == NULL;
}

const char *ponder_model_entry_get_unusable_reason(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->unusable_reason;
}

const char *ponder_model_entry_get_architecture(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->architecture;
}

const char *ponder_model_entry_get_quant_type(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->quant_type;
}

#define ENTRY_NUMBER_GETTER(type, field)                                                           \
    type ponder_model_entry_get_##field(PonderModelEntry *self)                                    \
    {                                                                                              \
        g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), 0);                                      \
        return self->field;                                                                        \
    }

ENTRY_NUMBER_GETTER(guint64, n_params)
ENTRY_NUMBER_GETTER(guint64, tensor_bytes)
ENTRY_NUMBER_GETTER(guint32, context_length)
ENTRY_NUMBER_GETTER(guint32, n_layer)
ENTRY_NUMBER_GETTER(guint32, n_embd)
ENTRY_NUMBER_GETTER(guint32, n_ff)
ENTRY_NUMBER_GETTER(guint32, n_head)
ENTRY_NUMBER_GETTER(guint32, n_head_kv)
ENTRY_NUMBER_GETTER(guint32, head_dim)
ENTRY_NUMBER_GETTER(guint32, n_vocab)
ENTRY_NUMBER_GETTER(guint64, file_size)
ENTRY_NUMBER_GETTER(guint, n_parts)

#undef ENTRY_NUMBER_GETTER

GDateTime *ponder_model_entry_get_modified_time(PonderModelEntry *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), NULL);
    return self->modified_time;
}

gboolean ponder_model_entry_is_same_file(PonderModelEntry *self, dev_t device, ino_t inode)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), FALSE);
    return self->device == device && self->inode == inode;
}

gboolean ponder_model_entry_matches_stat(PonderModelEntry *self, dev_t device, ino_t inode,
                                         guint64 size, gint64 mtime_usec)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), FALSE);
    return self->device == device && self->inode == inode && self->part_size == size &&
           self->mtime_usec == mtime_usec;
}

// Bytes of COUNT KV elements stored as KV_TYPE, in rows of HEAD_DIM (one head of one token).
static gboolean kv_bytes(PonderKvType kv_type, guint32 head_dim, guint64 n_rows, guint64 *out)
{
    guint64 row;
    switch (kv_type) {
    case PONDER_KV_F32: row = (guint64)head_dim * 4; break;
    case PONDER_KV_F16: row = (guint64)head_dim * 2; break;
    case PONDER_KV_Q8_0:
        // 34 bytes per block of 32 (a f16 scale and 32 int8), as ggml stores q8_0
        if (!ponder_row_bytes(PONDER_TYPE_Q8_0, head_dim, &row))
            return FALSE;
        break;
    default: return FALSE;
    }
    *out = row * n_rows;
    return TRUE;
}

gboolean ponder_model_entry_estimate_memory(PonderModelEntry *self, guint32 n_ctx,
                                            PonderKvType kv_type, PonderModelMemoryEstimate *out,
                                            GError **error)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), FALSE);
    g_return_val_if_fail(out != NULL, FALSE);
    if (!self->header_read || self->n_layer == 0 || self->head_dim == 0) {
        g_set_error(
            error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no memory estimate for %s: %s", self->path,
            self->unusable_reason ? self->unusable_reason : "its header has no layer sizes");
        return FALSE;
    }
    if (n_ctx == 0)
        n_ctx = self->context_length;
    // K and V, for every layer, token and KV head
    guint64 n_rows = 2ull * self->n_layer * n_ctx * self->n_head_kv;
    guint64 kv = 0;
    if (!kv_bytes(kv_type, self->head_dim, n_rows, &kv)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "KV cache type %d does not fit head size %u of %s", (int)kv_type,
                    self->head_dim, self->path);
        return FALSE;
    }
    guint64 step_floats = (guint64)self->n_vocab + 4ull * self->n_embd + 2ull * self->n_ff;
    out->weights = self->tensor_bytes;
    out->kv_cache = kv;
    out->scratch = PONDER_MODEL_SCRATCH_FIXED_BYTES +
                   (guint64)PONDER_MODEL_SCRATCH_STEP_TOKENS * sizeof(float) * step_floats;
    out->total = out->weights + out->kv_cache + out->scratch;
    return TRUE;
}

int ponder_model_entry_compare(PonderModelEntry *a, PonderModelEntry *b)
{
    int c = g_utf8_collate(a->display_name, b->display_name);
    if (c == 0)
        c = g_strcmp0(a->quant_type, b->quant_type);
    if (c == 0)
        c = strcmp(a->path, b->path);
    return c;
}

// ---- GObject ---------------------------------------------------------------------------

static void ponder_model_entry_finalize(GObject *object)
{
    PonderModelEntry *self = PONDER_MODEL_ENTRY(object);
    g_free(self->path);
    g_free(self->source_label);
    g_free(self->digest);
    g_clear_pointer(&self->modified_time, g_date_time_unref);
    g_free(self->display_name);
    g_free(self->base_slug);
    g_free(self->slug);
    g_free(self->unusable_reason);
    g_free(self->architecture);
    g_free(self->quant_type);
    G_OBJECT_CLASS(ponder_model_entry_parent_class)->finalize(object);
}

static void ponder_model_entry_get_property(GObject *object, guint prop_id, GValue *value,
                                            GParamSpec *pspec)
{
    PonderModelEntry *self = PONDER_MODEL_ENTRY(object);
    switch (prop_id) {
    case PROP_PATH: g_value_set_string(value, self->path); break;
    case PROP_SOURCE: g_value_set_enum(value, self->source); break;
    case PROP_SOURCE_LABEL: g_value_set_string(value, self->source_label); break;
    case PROP_DISPLAY_NAME: g_value_set_string(value, self->display_name); break;
    case PROP_SLUG: g_value_set_string(value, self->slug); break;
    case PROP_USABLE: g_value_set_boolean(value, self->unusable_reason == NULL); break;
    case PROP_UNUSABLE_REASON: g_value_set_string(value, self->unusable_reason); break;
    case PROP_ARCHITECTURE: g_value_set_string(value, self->architecture); break;
    case PROP_QUANT_TYPE: g_value_set_string(value, self->quant_type); break;
    case PROP_N_PARAMS: g_value_set_uint64(value, self->n_params); break;
    case PROP_CONTEXT_LENGTH: g_value_set_uint(value, self->context_length); break;
    case PROP_FILE_SIZE: g_value_set_uint64(value, self->file_size); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_model_entry_class_init(PonderModelEntryClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->finalize = ponder_model_entry_finalize;
    object_class->get_property = ponder_model_entry_get_property;

    // Read-only: the model picker binds its rows to these.
    const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    properties[PROP_PATH] = g_param_spec_string("path", NULL, NULL, NULL, flags);
    properties[PROP_SOURCE] = g_param_spec_enum("source", NULL, NULL, PONDER_TYPE_MODEL_SOURCE,
                                                PONDER_MODEL_SOURCE_OWN, flags);
    properties[PROP_SOURCE_LABEL] = g_param_spec_string("source-label", NULL, NULL, NULL, flags);
    properties[PROP_DISPLAY_NAME] = g_param_spec_string("display-name", NULL, NULL, NULL, flags);
    properties[PROP_SLUG] =
        g_param_spec_string("slug", NULL, NULL, NULL, flags | G_PARAM_EXPLICIT_NOTIFY);
    properties[PROP_USABLE] = g_param_spec_boolean("usable", NULL, NULL, FALSE, flags);
    properties[PROP_UNUSABLE_REASON] =
        g_param_spec_string("unusable-reason", NULL, NULL, NULL, flags);
    properties[PROP_ARCHITECTURE] = g_param_spec_string("architecture", NULL, NULL, NULL, flags);
    properties[PROP_QUANT_TYPE] = g_param_spec_string("quant-type", NULL, NULL, NULL, flags);
    properties[PROP_N_PARAMS] =
        g_param_spec_uint64("n-params", NULL, NULL, 0, G_MAXUINT64, 0, flags);
    properties[PROP_CONTEXT_LENGTH] =
        g_param_spec_uint("context-length", NULL, NULL, 0, G_MAXUINT32, 0, flags);
    properties[PROP_FILE_SIZE] =
        g_param_spec_uint64("file-size", NULL, NULL, 0, G_MAXUINT64, 0, flags);
    g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void ponder_model_entry_init(PonderModelEntry *self)
{
    (void)self;
}

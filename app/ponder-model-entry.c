// A model file described from its GGUF header. The inference library's reader does the
// validation (so a hostile file is a message here, never a bad read); this file only turns
// its metadata into what a user chooses a model by.
#include "ponder-model-entry.h"

#include "ponder-infer.h"

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
    PonderModelProbe probe; // what the library read: shapes, context, and the memory estimate
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

static void mark_unusable(PonderModelEntry *self, const char *reason)
{
    if (!self->unusable_reason)
        self->unusable_reason = g_strdup(reason);
}

static char *nonempty_dup(const char *text)
{
    return text[0] ? g_strdup(text) : NULL;
}

static void read_header(PonderModelEntry *self, const char *path)
{
    PonderModelProbe *p = &self->probe;
    PonderError err = {0};
    if (ponder_model_probe(path, p, &err) != PONDER_OK) {
        mark_unusable(self, err.message);
        return;
    }
    self->header_read = TRUE;
    self->display_name = nonempty_dup(p->name);
    self->quant_type = nonempty_dup(p->file_type);
    self->architecture = nonempty_dup(p->architecture);
    self->n_params = p->n_params;
    self->tensor_bytes = p->tensor_bytes;
    if (p->unusable[0])
        mark_unusable(self, p->unusable);
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
        PonderModelProbe part_probe;
        if (ponder_model_probe(part_path, &part_probe, NULL) == PONDER_OK) {
            self->n_params += part_probe.n_params;
            self->tensor_bytes += part_probe.tensor_bytes;
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

#define ENTRY_NUMBER_GETTER(type, name, value)                                                     \
    type ponder_model_entry_get_##name(PonderModelEntry *self)                                     \
    {                                                                                              \
        g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), 0);                                      \
        return value;                                                                              \
    }

ENTRY_NUMBER_GETTER(guint64, n_params, self->n_params)
ENTRY_NUMBER_GETTER(guint64, tensor_bytes, self->tensor_bytes)
ENTRY_NUMBER_GETTER(guint32, context_length, self->probe.n_ctx_train)
ENTRY_NUMBER_GETTER(guint32, n_layer, self->probe.n_layer)
ENTRY_NUMBER_GETTER(guint32, n_embd, self->probe.n_embd)
ENTRY_NUMBER_GETTER(guint32, n_ff, self->probe.n_ff)
ENTRY_NUMBER_GETTER(guint32, n_head, self->probe.n_head)
ENTRY_NUMBER_GETTER(guint32, n_head_kv, self->probe.n_head_kv)
ENTRY_NUMBER_GETTER(guint32, head_dim, self->probe.head_dim)
ENTRY_NUMBER_GETTER(guint32, n_vocab, self->probe.n_vocab)
ENTRY_NUMBER_GETTER(guint64, file_size, self->file_size)
ENTRY_NUMBER_GETTER(guint, n_parts, self->n_parts)

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

gboolean ponder_model_entry_estimate_memory(PonderModelEntry *self, guint32 n_ctx,
                                            PonderKvType kv_type, PonderMemoryEstimate *out,
                                            GError **error)
{
    g_return_val_if_fail(PONDER_IS_MODEL_ENTRY(self), FALSE);
    g_return_val_if_fail(out != NULL, FALSE);
    // every part's tensors (a split set's other parts were added to the entry)
    PonderModelProbe probe = self->probe;
    probe.tensor_bytes = self->tensor_bytes;
    PonderError err = {0};
    if (!self->header_read || !ponder_estimate_memory(&probe, n_ctx, kv_type, out, &err)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no memory estimate for %s: %s",
                    self->path, self->unusable_reason ? self->unusable_reason : err.message);
        return FALSE;
    }
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
    case PROP_CONTEXT_LENGTH: g_value_set_uint(value, self->probe.n_ctx_train); break;
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

// The catalog table and PonderCatalogEntry, the list item that shows one row of it.
//
// All files come from bartowski's GGUF repositories, which name every repository
// "bartowski/{stem}-GGUF" and every single-file quant "{stem}-{QUANT}.gguf" at the top of
// the repository, the stem being the model's name (his newer repositories put the
// organisation in front: "deepseek-ai_DeepSeek-R1-0528-Qwen3-8B"); the table stores the
// model, its stem and its quants and builds both names from that rule. Quants the publisher splits
// into parts (the 70B Q5_K_M, Q6_K and Q8_0, each a folder of "-0000N-of-0000M.gguf" pieces) are
// left out: a download here is one file.

#include "ponder-catalog.h"

typedef struct {
    const char *model_name;   // the upstream name, what the UI shows
    const char *file_stem;    // the publisher's stem of repository and file names; NULL: the name
    const char *architecture; // GGUF general.architecture
    const char *size_label;
    // From the base model's config.json (num_hidden_layers, num_attention_heads,
    // num_key_value_heads, and head_dim where the config has one -- Qwen3's heads are not
    // hidden_size / num_attention_heads -- else hidden_size / num_attention_heads).
    guint n_layer;
    guint n_head;
    guint n_kv_head;
    guint head_dim;
    const char *quants[10]; // NULL-terminated, smallest file first
} CatalogModel;

// clang-format off
#define SMALL_MODEL_QUANTS {"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", NULL}
#define LARGE_MODEL_QUANTS {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", NULL}
// The Qwen distills also in the IQ types that fit them on 8-12 GB cards.
#define SMALL_QWEN_QUANTS {"IQ3_M", "IQ4_XS", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", NULL}
#define LARGE_QWEN_QUANTS {"Q2_K", "IQ3_M", "Q3_K_M", "IQ4_XS", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", NULL}

static const CatalogModel catalog_models[] = {
    {"DeepSeek-R1-Distill-Qwen-1.5B", NULL, "qwen2", "1.5B", 28, 12, 2, 128, SMALL_QWEN_QUANTS},
    {"DeepSeek-R1-Distill-Qwen-7B", NULL, "qwen2", "7B", 28, 28, 4, 128, SMALL_QWEN_QUANTS},
    {"DeepSeek-R1-Distill-Llama-8B", NULL, "llama", "8B", 32, 32, 8, 128, SMALL_MODEL_QUANTS},
    // R1-0528's distill, what Ollama's deepseek-r1:8b is: Qwen3-8B's shapes (head_dim 128)
    {"DeepSeek-R1-0528-Qwen3-8B", "deepseek-ai_DeepSeek-R1-0528-Qwen3-8B", "qwen3", "8B", 36, 32, 8, 128,
     {"IQ4_XS", "Q4_K_M", "Q6_K", "Q8_0", NULL}},
    {"DeepSeek-R1-Distill-Qwen-14B", NULL, "qwen2", "14B", 48, 40, 8, 128, LARGE_QWEN_QUANTS},
    {"DeepSeek-R1-Distill-Qwen-32B", NULL, "qwen2", "32B", 64, 40, 8, 128, LARGE_QWEN_QUANTS},
    // Q5_K_M and up are published split into parts: left out (see the top of the file).
    {"DeepSeek-R1-Distill-Llama-70B", NULL, "llama", "70B", 80, 64, 8, 128,
     {"Q2_K", "Q3_K_M", "Q4_K_M", NULL}},
};
// clang-format on

#define CATALOG_PUBLISHER "bartowski"

struct _PonderCatalogEntry {
    GObject parent_instance;

    // borrowed: a row of catalog_models (static storage)
    const CatalogModel *model;
    const char *quant_type;

    // owned
    char *id;
    char *repo;
    char *file;
};

G_DEFINE_FINAL_TYPE(PonderCatalogEntry, ponder_catalog_entry, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_ID,
    PROP_MODEL_NAME,
    PROP_ARCHITECTURE,
    PROP_SIZE_LABEL,
    PROP_QUANT_TYPE,
    PROP_REPO,
    PROP_FILE,
    PROP_N_LAYER,
    PROP_N_HEAD,
    PROP_N_KV_HEAD,
    PROP_HEAD_DIM,
    N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void ponder_catalog_entry_finalize(GObject *object)
{
    PonderCatalogEntry *self = PONDER_CATALOG_ENTRY(object);
    g_free(self->id);
    g_free(self->repo);
    g_free(self->file);
    G_OBJECT_CLASS(ponder_catalog_entry_parent_class)->finalize(object);
}

static void ponder_catalog_entry_get_property(GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec)
{
    PonderCatalogEntry *self = PONDER_CATALOG_ENTRY(object);
    switch (prop_id) {
    case PROP_ID: g_value_set_string(value, self->id); break;
    case PROP_MODEL_NAME: g_value_set_string(value, self->model->model_name); break;
    case PROP_ARCHITECTURE: g_value_set_string(value, self->model->architecture); break;
    case PROP_SIZE_LABEL: g_value_set_string(value, self->model->size_label); break;
    case PROP_QUANT_TYPE: g_value_set_string(value, self->quant_type); break;
    case PROP_REPO: g_value_set_string(value, self->repo); break;
    case PROP_FILE: g_value_set_string(value, self->file); break;
    case PROP_N_LAYER: g_value_set_uint(value, self->model->n_layer); break;
    case PROP_N_HEAD: g_value_set_uint(value, self->model->n_head); break;
    case PROP_N_KV_HEAD: g_value_set_uint(value, self->model->n_kv_head); break;
    case PROP_HEAD_DIM: g_value_set_uint(value, self->model->head_dim); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_catalog_entry_class_init(PonderCatalogEntryClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->finalize = ponder_catalog_entry_finalize;
    object_class->get_property = ponder_catalog_entry_get_property;

    const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    properties[PROP_ID] = g_param_spec_string("id", NULL, NULL, NULL, flags);
    properties[PROP_MODEL_NAME] = g_param_spec_string("model-name", NULL, NULL, NULL, flags);
    properties[PROP_ARCHITECTURE] = g_param_spec_string("architecture", NULL, NULL, NULL, flags);
    properties[PROP_SIZE_LABEL] = g_param_spec_string("size-label", NULL, NULL, NULL, flags);
    properties[PROP_QUANT_TYPE] = g_param_spec_string("quant-type", NULL, NULL, NULL, flags);
    properties[PROP_REPO] = g_param_spec_string("repo", NULL, NULL, NULL, flags);
    properties[PROP_FILE] = g_param_spec_string("file", NULL, NULL, NULL, flags);
    properties[PROP_N_LAYER] = g_param_spec_uint("n-layer", NULL, NULL, 0, G_MAXUINT, 0, flags);
    properties[PROP_N_HEAD] = g_param_spec_uint("n-head", NULL, NULL, 0, G_MAXUINT, 0, flags);
    properties[PROP_N_KV_HEAD] = g_param_spec_uint("n-kv-head", NULL, NULL, 0, G_MAXUINT, 0, flags);
    properties[PROP_HEAD_DIM] = g_param_spec_uint("head-dim", NULL, NULL, 0, G_MAXUINT, 0, flags);
    g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void ponder_catalog_entry_init(PonderCatalogEntry *self) {}

static PonderCatalogEntry *catalog_entry_new(const CatalogModel *model, const char *quant_type)
{
    PonderCatalogEntry *self = g_object_new(PONDER_TYPE_CATALOG_ENTRY, NULL);
    self->model = model;
    self->quant_type = quant_type;
    // "DeepSeek-R1-Distill-Qwen-7B" + "Q4_K_M" -> "r1-distill-qwen-7b-q4_k_m"
    g_autofree char *stem = g_ascii_strdown(model->model_name, -1);
    g_autofree char *quant = g_ascii_strdown(quant_type, -1);
    const char *without_vendor = g_str_has_prefix(stem, "deepseek-") ? stem + 9 : stem;
    self->id = g_strdup_printf("%s-%s", without_vendor, quant);
    const char *file_stem = model->file_stem ? model->file_stem : model->model_name;
    self->repo = g_strdup_printf(CATALOG_PUBLISHER "/%s-GGUF", file_stem);
    self->file = g_strdup_printf("%s-%s.gguf", file_stem, quant_type);
    return self;
}

GListModel *ponder_catalog_list(void)
{
    GListStore *store = g_list_store_new(PONDER_TYPE_CATALOG_ENTRY);
    for (gsize m = 0; m < G_N_ELEMENTS(catalog_models); m++) {
        for (const char *const *q = catalog_models[m].quants; *q; q++) {
            g_autoptr(PonderCatalogEntry) entry = catalog_entry_new(&catalog_models[m], *q);
            g_list_store_append(store, entry);
        }
    }
    return G_LIST_MODEL(store);
}

PonderCatalogEntry *ponder_catalog_lookup(const char *id)
{
    g_return_val_if_fail(id != NULL, NULL);
    g_autoptr(GListModel) all = ponder_catalog_list();
    guint n = g_list_model_get_n_items(all);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderCatalogEntry) entry = g_list_model_get_item(all, i);
        if (g_strcmp0(entry->id, id) == 0)
            return g_steal_pointer(&entry);
    }
    return NULL;
}

const char *ponder_catalog_entry_get_id(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->id;
}

const char *ponder_catalog_entry_get_model_name(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->model->model_name;
}

const char *ponder_catalog_entry_get_architecture(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->model->architecture;
}

const char *ponder_catalog_entry_get_size_label(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->model->size_label;
}

const char *ponder_catalog_entry_get_quant_type(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->quant_type;
}

const char *ponder_catalog_entry_get_repo(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->repo;
}

const char *ponder_catalog_entry_get_file(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), NULL);
    return self->file;
}

guint ponder_catalog_entry_get_n_layer(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), 0);
    return self->model->n_layer;
}

guint ponder_catalog_entry_get_n_head(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), 0);
    return self->model->n_head;
}

guint ponder_catalog_entry_get_n_kv_head(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), 0);
    return self->model->n_kv_head;
}

guint ponder_catalog_entry_get_head_dim(PonderCatalogEntry *self)
{
    g_return_val_if_fail(PONDER_IS_CATALOG_ENTRY(self), 0);
    return self->model->head_dim;
}

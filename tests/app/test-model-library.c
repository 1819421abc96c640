// Model discovery: a fake home with every source laid out as the real apps lay it out
// (Ponder's folder, an Ollama store, LM Studio, a Hugging Face cache with snapshot symlinks,
// a user folder), filled with llama.cpp-written files from $PONDER_SHARED/models (only those
// that the subset in tests/data carries too) and with broken ones. Expected values come from
// the files themselves (names, the tensor table read here with the GGUF reader and summed
// independently, sizes from stat, SHA-256 computed here) and from hand-computed memory
// numbers.
#include "ponder-model-library.h"
#include "ponder-infer.h"

#include "formats/gguf.h"
#include "quant/quant.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

static char *tmp_root;   // removed at the end
static char *home;       // tmp_root/home
static char *models_src; // shared/models
static char *own_dir;    // ~/.local/share/ponder/models
static char *ollama_dir; // ~/.ollama/models
static char *lms_dir;    // ~/.lmstudio/models
static char *hub_dir;    // ~/.cache/huggingface/hub
static char *user_dir;   // tmp_root/user-models
static gboolean layout_built;

// ---- Helpers ---------------------------------------------------------------------------

static char *path_in(const char *dir, const char *relative)
{
    return g_build_filename(dir, relative, NULL);
}

static void make_dirs(const char *dir)
{
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
}

static void write_bytes(const char *path, const void *data, gsize len)
{
    g_autofree char *dir = g_path_get_dirname(path);
    make_dirs(dir);
    g_autoptr(GError) error = NULL;
    g_file_set_contents(path, data, (gssize)len, &error);
    g_assert_no_error(error);
}

static GBytes *read_model(const char *name)
{
    g_autofree char *src = path_in(models_src, name);
    char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    g_file_get_contents(src, &data, &len, &error);
    g_assert_no_error(error);
    return g_bytes_new_take(data, len);
}

// Copies shared/models/NAME to DST.
static void copy_model(const char *name, const char *dst)
{
    g_autoptr(GBytes) bytes = read_model(name);
    write_bytes(dst, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

static guint64 file_size(const char *path)
{
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    return (guint64)st.st_size;
}

// The tensor table summed here: elements as the product of ne over the dimensions, bytes
// from the type's block size.
static void count_tensors(const char *path, guint64 *n_params, guint64 *n_bytes)
{
    char err[512];
    GgufFile *file = gguf_open(path, err, sizeof err);
    g_assert_nonnull(file);
    *n_params = *n_bytes = 0;
    for (guint64 i = 0; i < file->n_tensors; i++) {
        const GgufTensor *t = &file->tensors[i];
        guint64 elements = 1;
        for (guint32 d = 0; d < t->n_dims; d++)
            elements *= t->ne[d];
        const PonderTypeTraits *traits = ponder_type_traits(t->type);
        g_assert_nonnull(traits);
        *n_params += elements;
        *n_bytes += elements / traits->block_len * traits->block_bytes;
    }
    gguf_close(file);
}

// "qwen2-q4_k_m.gguf" -> "Q4_K_M": what llama-quantize was asked for.
static char *quant_from_file_name(const char *name)
{
    const char *dash = strchr(name, '-');
    g_assert_nonnull(dash);
    g_autofree char *type = g_strndup(dash + 1, strlen(dash + 1) - strlen(".gguf"));
    return g_ascii_strup(type, -1);
}

static PonderModelEntry *entry_at(PonderModelLibrary *library, const char *path)
{
    GListModel *list = ponder_model_library_get_models(library);
    for (guint i = 0; i < g_list_model_get_n_items(list); i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(list, i);
        if (strcmp(ponder_model_entry_get_path(entry), path) == 0)
            return entry;
    }
    return NULL;
}

// Entries whose file is in the fake home (a machine-wide Ollama store may add others).
static guint n_entries_in_tmp(PonderModelLibrary *library)
{
    GListModel *list = ponder_model_library_get_models(library);
    guint n = 0;
    for (guint i = 0; i < g_list_model_get_n_items(list); i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(list, i);
        n += g_str_has_prefix(ponder_model_entry_get_path(entry), tmp_root);
    }
    return n;
}

static gboolean warnings_mention(PonderModelLibrary *library, const char *a, const char *b)
{
    for (const char *const *w = ponder_model_library_get_warnings(library); *w; w++)
        if (strstr(*w, a) && (!b || strstr(*w, b)))
            return TRUE;
    return FALSE;
}

static PonderModelLibrary *scanned_library(void)
{
    PonderModelLibrary *library = ponder_model_library_new();
    g_autoptr(GError) error = NULL;
    ponder_model_library_add_folder(library, user_dir, &error);
    g_assert_no_error(error);
    g_assert_true(ponder_model_library_scan_sync(library, NULL, &error));
    g_assert_no_error(error);
    return library;
}

// ---- The fake machine ------------------------------------------------------------------

static const char *const own_models[] = {"qwen2-q4_k_m.gguf", "llama-q8_0.gguf"};

// A valid GGUF of an architecture Ponder does not run.
static void write_bert_gguf(const char *path)
{
    static const float weights[8 * 4] = {0};
    const uint64_t ne[2] = {8, 4};
    GgufWriter *writer = gguf_writer_new();
    gguf_writer_set_string(writer, "general.architecture", "bert");
    gguf_writer_set_string(writer, "general.name", "tiny-bert");
    gguf_writer_set_u32(writer, "general.file_type", 0);
    gguf_writer_set_u32(writer, "bert.block_count", 1);
    gguf_writer_set_u32(writer, "bert.context_length", 512);
    gguf_writer_add_tensor(writer, "token_embd.weight", PONDER_TYPE_F32, 2, ne, weights);
    char err[512];
    g_assert_true(gguf_writer_write(writer, path, err, sizeof err));
    gguf_writer_free(writer);
}

static char *sha256_of(GBytes *bytes)
{
    return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, bytes);
}

// An Ollama manifest as `ollama pull` writes it: config layer, then the model layer.
static void write_ollama_manifest(const char *relative, const char *model_hex, guint64 size)
{
    g_autofree char *json = g_strdup_printf(
        "{\"schemaVersion\":2,"
        "\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
        "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
        "\"digest\":\"sha256:%064d\",\"size\":487},"
        "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.license\","
        "\"digest\":\"sha256:%064d\",\"size\":1065},"
        "{\"mediaType\":\"application/vnd.ollama.image.model\","
        "\"digest\":\"sha256:%s\",\"size\":%" G_GUINT64_FORMAT "}]}",
        1, 2, model_hex, size);
    g_autofree char *path = path_in(ollama_dir, relative);
    write_bytes(path, json, strlen(json));
}

static char *ollama_blob(const char *model_name, char **hex_out)
{
    GBytes *bytes = read_model(model_name);
    g_autofree char *hex = sha256_of(bytes);
    g_autofree char *blob_name = g_strdup_printf("sha256-%s", hex);
    g_autofree char *blobs = path_in(ollama_dir, "blobs");
    char *blob = path_in(blobs, blob_name);
    write_bytes(blob, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
    g_bytes_unref(bytes);
    *hex_out = g_steal_pointer(&hex);
    return blob;
}

static void build_layout(void)
{
    if (layout_built)
        return;
    layout_built = TRUE;

    // Ponder's own folder: two models and three files that are not usable
    for (gsize i = 0; i < G_N_ELEMENTS(own_models); i++) {
        g_autofree char *dst = path_in(own_dir, own_models[i]);
        copy_model(own_models[i], dst);
    }
    {
        GBytes *whole = read_model("qwen2-q6_k.gguf");
        g_autofree char *truncated = path_in(own_dir, "truncated.gguf");
        write_bytes(truncated, g_bytes_get_data(whole, NULL), 4000);
        g_bytes_unref(whole);
        g_autofree char *notes = path_in(own_dir, "notes.gguf");
        const char text[] = "these are my notes, not a model\n";
        write_bytes(notes, text, sizeof text - 1);
        g_autofree char *bert = path_in(own_dir, "bert.gguf");
        write_bert_gguf(bert);
    }

    // Ollama: two models, a broken manifest and one whose blob is gone
    {
        g_autofree char *hex = NULL, *hex2 = NULL;
        g_autofree char *blob = ollama_blob("qwen2-q5_1.gguf", &hex);
        write_ollama_manifest("manifests/registry.ollama.ai/library/deepseek-r1/7b", hex,
                              file_size(blob));
        g_autofree char *blob2 = ollama_blob("llama-q4_0.gguf", &hex2);
        write_ollama_manifest("manifests/registry.ollama.ai/someone/tinyllama/latest", hex2,
                              file_size(blob2));
        g_autofree char *broken =
            path_in(ollama_dir, "manifests/registry.ollama.ai/library/broken/latest");
        write_bytes(broken, "{\"layers\": [", 12);
        write_ollama_manifest("manifests/registry.ollama.ai/library/gone/1b",
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                              10);
        // a user folder that links to an Ollama blob: one physical file, listed once
        g_autofree char *link = path_in(user_dir, "linked.gguf");
        make_dirs(user_dir);
        g_assert_cmpint(symlink(blob, link), ==, 0);
    }

    // LM Studio: publisher/repo/file
    {
        g_autofree char *dst =
            path_in(lms_dir, "lmstudio-community/Tiny-Qwen-GGUF/qwen2-q4_1.gguf");
        copy_model("qwen2-q4_1.gguf", dst);
    }

    // Hugging Face: two revisions of one repo, snapshot files are symlinks into blobs/
    {
        g_autofree char *repo = path_in(hub_dir, "models--tiny-org--tiny-llama-GGUF");
        g_autofree char *old_blob = path_in(repo, "blobs/0123old");
        g_autofree char *new_blob = path_in(repo, "blobs/4567new");
        copy_model("llama-q5_0.gguf", old_blob);
        copy_model("llama-q5_k_m.gguf", new_blob);
        g_autofree char *old_snap = path_in(repo, "snapshots/rev-old");
        g_autofree char *new_snap = path_in(repo, "snapshots/rev-new");
        make_dirs(old_snap);
        make_dirs(new_snap);
        g_autofree char *old_link = path_in(old_snap, "llama-q5_0.gguf");
        g_autofree char *new_link = path_in(new_snap, "llama-q5_k_m.gguf");
        g_assert_cmpint(symlink("../../blobs/0123old", old_link), ==, 0);
        g_assert_cmpint(symlink("../../blobs/4567new", new_link), ==, 0);
        g_autofree char *ref = path_in(repo, "refs/main");
        write_bytes(ref, "rev-new", 7);
        // refs/main decides, even over a later modification time
        struct utimbuf earlier = {.actime = 1500000000, .modtime = 1500000000};
        struct utimbuf later = {.actime = 1600000000, .modtime = 1600000000};
        g_assert_cmpint(utime(old_snap, &later), ==, 0);
        g_assert_cmpint(utime(new_snap, &earlier), ==, 0);

        // without refs/main: the snapshot folder modified last
        g_autofree char *bare = path_in(hub_dir, "models--solo--tiny-qwen");
        g_autofree char *snap_a = path_in(bare, "snapshots/aaaa/qwen2-q6_k.gguf");
        g_autofree char *snap_b = path_in(bare, "snapshots/bbbb/qwen2-q3_k_m.gguf");
        copy_model("qwen2-q6_k.gguf", snap_a);
        copy_model("qwen2-q3_k_m.gguf", snap_b);
        g_autofree char *snap_a_dir = path_in(bare, "snapshots/aaaa");
        g_autofree char *snap_b_dir = path_in(bare, "snapshots/bbbb");
        g_assert_cmpint(utime(snap_a_dir, &later), ==, 0); // the name sorts first, the time last
        g_assert_cmpint(utime(snap_b_dir, &earlier), ==, 0);
    }

    // The user's folder: a copy with the same slug as an own file, a split set, a nested file
    {
        g_autofree char *dup = path_in(user_dir, "dup-qwen2.gguf");
        copy_model("qwen2-q4_k_m.gguf", dup);
        g_autofree char *part1 = path_in(user_dir, "tiny-split-00001-of-00002.gguf");
        g_autofree char *part2 = path_in(user_dir, "tiny-split-00002-of-00002.gguf");
        copy_model("qwen2-q3_k_m.gguf", part1);
        copy_model("llama-q4_0.gguf", part2);
        g_autofree char *nested = path_in(user_dir, "nested/deeper/qwen2-f16.gguf");
        copy_model("qwen2-f16.gguf", nested);
    }
}

// ---- Tests -----------------------------------------------------------------------------

static void test_sources(void)
{
    g_autoptr(PonderModelLibrary) library = ponder_model_library_new();
    g_assert_cmpstr(ponder_model_source_get_name(PONDER_MODEL_SOURCE_OWN), ==, "Ponder");
    g_assert_cmpstr(ponder_model_source_get_name(PONDER_MODEL_SOURCE_OLLAMA), ==, "Ollama");
    g_assert_cmpstr(ponder_model_source_get_name(PONDER_MODEL_SOURCE_LM_STUDIO), ==, "LM Studio");
    g_assert_cmpstr(ponder_model_source_get_name(PONDER_MODEL_SOURCE_HUGGING_FACE), ==,
                    "Hugging Face");

    g_auto(GStrv) own = ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_OWN);
    g_assert_cmpuint(g_strv_length(own), ==, 1);
    g_assert_cmpstr(own[0], ==, own_dir);

    g_auto(GStrv) ollama =
        ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_OLLAMA);
    g_assert_cmpuint(g_strv_length(ollama), ==, 2);
    g_assert_cmpstr(ollama[0], ==, ollama_dir);
    g_assert_cmpstr(ollama[1], ==, "/usr/share/ollama/.ollama/models");
    g_setenv("OLLAMA_MODELS", "/srv/ollama", TRUE);
    g_auto(GStrv) ollama_env =
        ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_OLLAMA);
    g_unsetenv("OLLAMA_MODELS");
    g_assert_cmpuint(g_strv_length(ollama_env), ==, 1);
    g_assert_cmpstr(ollama_env[0], ==, "/srv/ollama");

    g_auto(GStrv) lms =
        ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_LM_STUDIO);
    g_autofree char *lms_cache = path_in(home, ".cache/lm-studio/models");
    g_assert_cmpuint(g_strv_length(lms), ==, 2);
    g_assert_cmpstr(lms[0], ==, lms_dir);
    g_assert_cmpstr(lms[1], ==, lms_cache);

    g_auto(GStrv) hf =
        ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_HUGGING_FACE);
    g_assert_cmpstr(hf[0], ==, hub_dir);
    g_setenv("HF_HOME", "/srv/hf", TRUE);
    g_auto(GStrv) hf_home =
        ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_HUGGING_FACE);
    g_setenv("HF_HUB_CACHE", "/srv/hub-cache", TRUE);
    g_auto(GStrv) hf_hub =
        ponder_model_library_get_source_folders(library, PONDER_MODEL_SOURCE_HUGGING_FACE);
    g_unsetenv("HF_HOME");
    g_unsetenv("HF_HUB_CACHE");
    g_assert_cmpstr(hf_home[0], ==, "/srv/hf/hub");
    g_assert_cmpstr(hf_hub[0], ==, "/srv/hub-cache");

    // folders: added canonical, once; a file is refused; removal
    g_autoptr(GError) error = NULL;
    g_autofree char *not_folder = path_in(tmp_root, "plain-file");
    write_bytes(not_folder, "x", 1);
    g_assert_false(ponder_model_library_add_folder(library, not_folder, &error));
    g_assert_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_FOLDER);
    g_clear_error(&error);
    g_autofree char *dotted = g_strconcat(tmp_root, "/./", NULL);
    g_assert_true(ponder_model_library_add_folder(library, dotted, &error));
    g_assert_true(ponder_model_library_add_folder(library, tmp_root, &error));
    g_assert_no_error(error);
    const char *const *folders = ponder_model_library_get_folders(library);
    g_assert_cmpuint(g_strv_length((char **)folders), ==, 1);
    g_assert_cmpstr(folders[0], ==, tmp_root);
    g_assert_true(ponder_model_library_remove_folder(library, tmp_root));
    g_assert_false(ponder_model_library_remove_folder(library, tmp_root));
    g_assert_cmpuint(g_strv_length((char **)ponder_model_library_get_folders(library)), ==, 0);

    // the own folder is created by a scan when missing
    g_assert_false(g_file_test(own_dir, G_FILE_TEST_IS_DIR));
    g_assert_true(ponder_model_library_scan_sync(library, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(g_file_test(own_dir, G_FILE_TEST_IS_DIR));
}

static void test_slug_rules(void)
{
    static const struct {
        const char *name, *quant, *slug;
    } cases[] = {
        {"DeepSeek-R1-Distill-Qwen-7B", "Q4_K_M", "deepseek-r1-distill-qwen-7b:q4_k_m"},
        {"  Llama 3.1 (8B) -- Instruct!  ", "Q8_0", "llama-3-1-8b-instruct:q8_0"},
        {"Qwen2.5_Math", "F16", "qwen2-5-math:f16"},
        {"Ünïcode naïve", "BF16", "n-code-na-ve:bf16"},
        {"!!!", "Q6_K", "model:q6_k"},
        {"plain", NULL, "plain"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *slug = ponder_model_make_slug(cases[i].name, cases[i].quant);
        g_assert_cmpstr(slug, ==, cases[i].slug);
    }
    guint part = 0, count = 0;
    gsize prefix = 0;
    g_assert_true(
        ponder_model_parse_split_name("big-model-00002-of-00005.gguf", &part, &count, &prefix));
    g_assert_cmpuint(part, ==, 2);
    g_assert_cmpuint(count, ==, 5);
    g_assert_cmpuint(prefix, ==, strlen("big-model"));
    g_assert_false(ponder_model_parse_split_name("model-q4_k_m.gguf", NULL, NULL, NULL));
    g_assert_false(ponder_model_parse_split_name("m-00003-of-00002.gguf", NULL, NULL, NULL));
    g_assert_cmpstr(ponder_file_type_name(15), ==, "Q4_K_M");
    g_assert_cmpstr(ponder_file_type_name(7), ==, "Q8_0");
    g_assert_cmpstr(ponder_file_type_name(32), ==, "BF16");
    g_assert_null(ponder_file_type_name(4)); // Q4_1_SOME_F16 was removed from llama.cpp
}

// Every usable file: what its own header and the file system say.
static void check_model_file(PonderModelLibrary *library, const char *path, const char *model_name,
                             PonderModelSource source, const char *label)
{
    PonderModelEntry *entry = entry_at(library, path);
    g_assert_nonnull(entry);
    g_autofree char *quant = quant_from_file_name(model_name);
    const gboolean qwen = g_str_has_prefix(model_name, "qwen2");
    const char *display = qwen ? "ceo-synthetic-qwen2" : "ceo-synthetic-llama";
    g_autofree char *quant_lower = g_ascii_strdown(quant, -1);
    g_autofree char *slug = g_strdup_printf("%s:%s", display, quant_lower);
    guint64 n_params, n_bytes;
    count_tensors(path, &n_params, &n_bytes);

    g_assert_cmpint(ponder_model_entry_get_source(entry), ==, source);
    g_assert_cmpstr(ponder_model_entry_get_source_label(entry), ==, label);
    g_assert_true(ponder_model_entry_get_usable(entry));
    g_assert_null(ponder_model_entry_get_unusable_reason(entry));
    g_assert_cmpstr(ponder_model_entry_get_architecture(entry), ==, qwen ? "qwen2" : "llama");
    g_assert_cmpstr(ponder_model_entry_get_display_name(entry), ==, display);
    g_assert_cmpstr(ponder_model_entry_get_quant_type(entry), ==, quant);
    g_assert_cmpstr(ponder_model_entry_get_base_slug(entry), ==, slug);
    g_assert_cmpuint(ponder_model_entry_get_n_params(entry), ==, n_params);
    g_assert_cmpuint(ponder_model_entry_get_tensor_bytes(entry), ==, n_bytes);
    g_autofree char *src = path_in(models_src, model_name);
    g_assert_cmpuint(ponder_model_entry_get_file_size(entry), ==, file_size(src));
    g_assert_cmpuint(ponder_model_entry_get_n_parts(entry), ==, 1);
    // the shape in shared/models/README.md
    g_assert_cmpuint(ponder_model_entry_get_context_length(entry), ==, 4096);
    g_assert_cmpuint(ponder_model_entry_get_n_layer(entry), ==, 2);
    g_assert_cmpuint(ponder_model_entry_get_n_embd(entry), ==, 256);
    g_assert_cmpuint(ponder_model_entry_get_n_ff(entry), ==, 512);
    g_assert_cmpuint(ponder_model_entry_get_n_head(entry), ==, 4);
    g_assert_cmpuint(ponder_model_entry_get_n_head_kv(entry), ==, 2);
    g_assert_cmpuint(ponder_model_entry_get_head_dim(entry), ==, 64);
    g_assert_cmpuint(ponder_model_entry_get_n_vocab(entry), ==, 1056);
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(g_date_time_to_unix(ponder_model_entry_get_modified_time(entry)), ==,
                    st.st_mtime);
}

static void test_scan(void)
{
    build_layout();
    g_autoptr(PonderModelLibrary) library = scanned_library();
    // 5 own (2 models, truncated, not GGUF, bert), 2 Ollama, 1 LM Studio, 2 Hugging Face
    // (the newest revision of each repo), 3 user (the copy, the split set, the nested file; the
    // link to the Ollama blob is the Ollama entry)
    g_assert_cmpuint(n_entries_in_tmp(library), ==, 13);

    for (gsize i = 0; i < G_N_ELEMENTS(own_models); i++) {
        g_autofree char *path = path_in(own_dir, own_models[i]);
        check_model_file(library, path, own_models[i], PONDER_MODEL_SOURCE_OWN, NULL);
    }
    g_autofree char *lms_file =
        path_in(lms_dir, "lmstudio-community/Tiny-Qwen-GGUF/qwen2-q4_1.gguf");
    check_model_file(library, lms_file, "qwen2-q4_1.gguf", PONDER_MODEL_SOURCE_LM_STUDIO,
                     "lmstudio-community/Tiny-Qwen-GGUF");
    g_autofree char *hf_file =
        path_in(hub_dir, "models--tiny-org--tiny-llama-GGUF/snapshots/rev-new/llama-q5_k_m.gguf");
    check_model_file(library, hf_file, "llama-q5_k_m.gguf", PONDER_MODEL_SOURCE_HUGGING_FACE,
                     "tiny-org/tiny-llama-GGUF");
    g_autofree char *hf_old =
        path_in(hub_dir, "models--tiny-org--tiny-llama-GGUF/snapshots/rev-old/llama-q5_0.gguf");
    g_assert_null(entry_at(library, hf_old));
    g_autofree char *hf_bare =
        path_in(hub_dir, "models--solo--tiny-qwen/snapshots/aaaa/qwen2-q6_k.gguf");
    check_model_file(library, hf_bare, "qwen2-q6_k.gguf", PONDER_MODEL_SOURCE_HUGGING_FACE,
                     "solo/tiny-qwen");
    g_autofree char *hf_bare_old =
        path_in(hub_dir, "models--solo--tiny-qwen/snapshots/bbbb/qwen2-q3_k_m.gguf");
    g_assert_null(entry_at(library, hf_bare_old));
    g_autofree char *nested = path_in(user_dir, "nested/deeper/qwen2-f16.gguf");
    check_model_file(library, nested, "qwen2-f16.gguf", PONDER_MODEL_SOURCE_FOLDER, NULL);
    g_autofree char *dup = path_in(user_dir, "dup-qwen2.gguf");
    check_model_file(library, dup, "qwen2-q4_k_m.gguf", PONDER_MODEL_SOURCE_FOLDER, NULL);

    // Ollama: the blob, named as Ollama names it, with the digest of its bytes
    GBytes *qwen_bytes = read_model("qwen2-q5_1.gguf");
    g_autofree char *qwen_hex = sha256_of(qwen_bytes);
    g_bytes_unref(qwen_bytes);
    g_autofree char *blob_name = g_strdup_printf("blobs/sha256-%s", qwen_hex);
    g_autofree char *blob = path_in(ollama_dir, blob_name);
    check_model_file(library, blob, "qwen2-q5_1.gguf", PONDER_MODEL_SOURCE_OLLAMA,
                     "deepseek-r1:7b");
    g_autofree char *digest = g_strdup_printf("sha256:%s", qwen_hex);
    g_assert_cmpstr(ponder_model_entry_get_digest(entry_at(library, blob)), ==, digest);
    GBytes *llama_q4 = read_model("llama-q4_0.gguf");
    g_autofree char *llama_hex = sha256_of(llama_q4);
    g_bytes_unref(llama_q4);
    g_autofree char *blob2_name = g_strdup_printf("blobs/sha256-%s", llama_hex);
    g_autofree char *blob2 = path_in(ollama_dir, blob2_name);
    check_model_file(library, blob2, "llama-q4_0.gguf", PONDER_MODEL_SOURCE_OLLAMA,
                     "someone/tinyllama:latest");
    g_assert_true(warnings_mention(library, "library/broken/latest", NULL));
    g_assert_true(warnings_mention(library, "gone:1b", "missing"));

    // dedupe: the symlink in the user folder is the Ollama entry
    g_autofree char *link = path_in(user_dir, "linked.gguf");
    g_assert_null(entry_at(library, link));
    g_assert_true(ponder_model_library_find_by_path(library, link) == entry_at(library, blob));

    // files that are listed but cannot run, each with its reason
    char err[512];
    g_autofree char *truncated = path_in(own_dir, "truncated.gguf");
    g_assert_null(gguf_open(truncated, err, sizeof err));
    PonderModelEntry *e = entry_at(library, truncated);
    g_assert_false(ponder_model_entry_get_usable(e));
    g_assert_cmpstr(ponder_model_entry_get_unusable_reason(e), ==, err);
    g_assert_cmpstr(ponder_model_entry_get_display_name(e), ==, "truncated");
    g_assert_null(ponder_model_entry_get_quant_type(e));
    g_assert_cmpstr(ponder_model_entry_get_slug(e), ==, "truncated");
    g_autofree char *notes = path_in(own_dir, "notes.gguf");
    g_assert_null(gguf_open(notes, err, sizeof err));
    e = entry_at(library, notes);
    g_assert_false(ponder_model_entry_get_usable(e));
    g_assert_cmpstr(ponder_model_entry_get_unusable_reason(e), ==, err);
    g_autofree char *bert = path_in(own_dir, "bert.gguf");
    e = entry_at(library, bert);
    g_assert_false(ponder_model_entry_get_usable(e));
    g_assert_nonnull(
        strstr(ponder_model_entry_get_unusable_reason(e), "architecture 'bert' is not supported"));
    g_assert_cmpstr(ponder_model_entry_get_display_name(e), ==, "tiny-bert");
    g_assert_cmpstr(ponder_model_entry_get_slug(e), ==, "tiny-bert:f32");
    g_assert_cmpuint(ponder_model_entry_get_n_params(e), ==, 32);
    g_assert_cmpuint(ponder_model_entry_get_context_length(e), ==, 512);

    // the split set: one entry for both parts
    g_autofree char *part1 = path_in(user_dir, "tiny-split-00001-of-00002.gguf");
    g_autofree char *part2 = path_in(user_dir, "tiny-split-00002-of-00002.gguf");
    g_assert_null(entry_at(library, part2));
    e = entry_at(library, part1);
    g_assert_false(ponder_model_entry_get_usable(e));
    g_assert_nonnull(strstr(ponder_model_entry_get_unusable_reason(e),
                            "split GGUF files are not supported yet"));
    g_assert_cmpuint(ponder_model_entry_get_n_parts(e), ==, 2);
    g_assert_cmpuint(ponder_model_entry_get_file_size(e), ==, file_size(part1) + file_size(part2));

    // sorted by display name, then quant type
    GListModel *list = ponder_model_library_get_models(library);
    for (guint i = 1; i < g_list_model_get_n_items(list); i++) {
        g_autoptr(PonderModelEntry) a = g_list_model_get_item(list, i - 1);
        g_autoptr(PonderModelEntry) b = g_list_model_get_item(list, i);
        int by_name = g_utf8_collate(ponder_model_entry_get_display_name(a),
                                     ponder_model_entry_get_display_name(b));
        g_assert_cmpint(by_name, <=, 0);
        if (by_name == 0)
            g_assert_cmpint(g_strcmp0(ponder_model_entry_get_quant_type(a),
                                      ponder_model_entry_get_quant_type(b)),
                            <=, 0);
    }
}

static void test_lookup(void)
{
    build_layout();
    g_autoptr(PonderModelLibrary) library = scanned_library();
    g_autofree char *own_qwen = path_in(own_dir, "qwen2-q4_k_m.gguf");
    g_autofree char *dup = path_in(user_dir, "dup-qwen2.gguf");
    PonderModelEntry *own = entry_at(library, own_qwen);
    PonderModelEntry *copy = entry_at(library, dup);

    // the same slug twice: the first in path order keeps it
    g_assert_cmpstr(ponder_model_entry_get_slug(own), ==, "ceo-synthetic-qwen2:q4_k_m");
    g_assert_cmpstr(ponder_model_entry_get_slug(copy), ==, "ceo-synthetic-qwen2:q4_k_m-2");

    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_model_library_lookup(library, "ceo-synthetic-qwen2:q4_k_m", &error) ==
                  own);
    g_assert_true(ponder_model_library_lookup(library, "CEO-Synthetic-Qwen2:Q4_K_M", &error) ==
                  own);
    g_assert_true(ponder_model_library_lookup(library, "ceo-synthetic-qwen2:q4_k_m-2", &error) ==
                  copy);
    g_assert_true(ponder_model_library_find_by_slug(library, "ceo-synthetic-qwen2:q4_k_m-2") ==
                  copy);
    g_assert_null(ponder_model_library_find_by_slug(library, "ceo-synthetic-qwen2"));
    g_assert_true(ponder_model_library_lookup(library, dup, &error) == copy);
    g_assert_no_error(error);

    // a unique prefix, and through the HF snapshot symlink or its blob
    g_autofree char *hf_file =
        path_in(hub_dir, "models--tiny-org--tiny-llama-GGUF/snapshots/rev-new/llama-q5_k_m.gguf");
    g_autofree char *hf_blob = path_in(hub_dir, "models--tiny-org--tiny-llama-GGUF/blobs/4567new");
    PonderModelEntry *hf = entry_at(library, hf_file);
    g_assert_true(ponder_model_library_lookup(library, "ceo-synthetic-llama:q5", &error) == hf);
    g_assert_true(ponder_model_library_lookup(library, hf_blob, &error) == hf);
    g_assert_no_error(error);

    // ambiguous: every candidate is named
    g_assert_null(ponder_model_library_lookup(library, "ceo-synthetic-qwen2:q", &error));
    g_assert_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_AMBIGUOUS);
    static const char *const candidates[] = {
        "ceo-synthetic-qwen2:q4_k_m", "ceo-synthetic-qwen2:q4_k_m-2", "ceo-synthetic-qwen2:q4_1",
        "ceo-synthetic-qwen2:q5_1", "ceo-synthetic-qwen2:q3_k_m"};
    for (gsize i = 0; i < G_N_ELEMENTS(candidates); i++)
        g_assert_nonnull(strstr(error->message, candidates[i]));
    g_assert_null(strstr(error->message, "f16")); // the F16 file does not start so
    g_clear_error(&error);

    g_assert_null(ponder_model_library_lookup(library, "no-such-model", &error));
    g_assert_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_autofree char *missing = path_in(tmp_root, "missing.gguf");
    g_assert_null(ponder_model_library_lookup(library, missing, &error));
    g_assert_error(error, PONDER_MODEL_LIBRARY_ERROR, PONDER_MODEL_LIBRARY_ERROR_NOT_FOUND);
}

static void test_memory_estimate(void)
{
    build_layout();
    g_autoptr(PonderModelLibrary) library = scanned_library();
    g_autofree char *path = path_in(own_dir, "qwen2-q4_k_m.gguf");
    PonderModelEntry *entry = entry_at(library, path);
    guint64 n_params, weights;
    count_tensors(path, &n_params, &weights);
    // 288 MiB + 256 tokens × 4 bytes × (1056 vocab + 4 × 256 embd + 2 × 512 ff)
    const guint64 scratch = 301989888ull + 3178496ull;

    PonderMemoryEstimate m;
    g_autoptr(GError) error = NULL;
    // K and V × 2 layers × 4096 tokens × 2 KV heads × 64 dims × 2 bytes
    g_assert_true(ponder_model_entry_estimate_memory(entry, 4096, PONDER_KV_F16, &m, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(m.weights, ==, weights);
    g_assert_cmpuint(m.kv_cache, ==, 4194304);
    g_assert_cmpuint(m.scratch, ==, scratch);
    g_assert_cmpuint(m.total, ==, weights + 4194304 + scratch);
    // q8_0: 64 dims are 2 blocks of 34 bytes
    g_assert_true(ponder_model_entry_estimate_memory(entry, 4096, PONDER_KV_Q8_0, &m, &error));
    g_assert_cmpuint(m.kv_cache, ==, 2228224);
    g_assert_true(ponder_model_entry_estimate_memory(entry, 1000, PONDER_KV_F32, &m, &error));
    g_assert_cmpuint(m.kv_cache, ==, 2048000);
    // 0: the trained context (4096)
    g_assert_true(ponder_model_entry_estimate_memory(entry, 0, PONDER_KV_F16, &m, &error));
    g_assert_cmpuint(m.kv_cache, ==, 4194304);
    g_assert_no_error(error);

    g_autofree char *notes = path_in(own_dir, "notes.gguf");
    g_assert_false(
        ponder_model_entry_estimate_memory(entry_at(library, notes), 0, PONDER_KV_F16, &m, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "notes.gguf"));
}

static void count_changes(GListModel *list, guint position, guint removed, guint added,
                          gpointer data)
{
    (*(guint *)data)++;
}

static void scan_done(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_model_library_scan_finish(PONDER_MODEL_LIBRARY(source), result, &error));
    g_assert_no_error(error);
    g_assert_false(ponder_model_library_get_scanning(PONDER_MODEL_LIBRARY(source)));
    *(gboolean *)data = TRUE;
}

static void scan_async_and_wait(PonderModelLibrary *library)
{
    gboolean done = FALSE;
    ponder_model_library_scan_async(library, NULL, scan_done, &done);
    g_assert_true(ponder_model_library_get_scanning(library));
    while (!done)
        g_main_context_iteration(NULL, TRUE);
}

static void test_rescan(void)
{
    build_layout();
    g_autoptr(PonderModelLibrary) library = scanned_library();
    GListModel *list = ponder_model_library_get_models(library);
    guint n = g_list_model_get_n_items(list);
    g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func(g_object_unref);
    for (guint i = 0; i < n; i++)
        g_ptr_array_add(before, g_list_model_get_item(list, i));
    guint changes = 0;
    g_signal_connect(list, "items-changed", G_CALLBACK(count_changes), &changes);

    // nothing changed: the same objects, no list signal
    scan_async_and_wait(library);
    g_assert_cmpuint(changes, ==, 0);
    g_assert_cmpuint(g_list_model_get_n_items(list), ==, n);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(list, i);
        g_assert_true(entry == before->pdata[i]);
    }

    // one deleted, one added, one rewritten (new mtime)
    g_autofree char *nested = path_in(user_dir, "nested/deeper/qwen2-f16.gguf");
    g_autofree char *added = path_in(own_dir, "llama-bf16.gguf");
    g_autofree char *touched = path_in(own_dir, "llama-q8_0.gguf");
    PonderModelEntry *nested_entry = entry_at(library, nested);
    PonderModelEntry *touched_entry = entry_at(library, touched);
    g_assert_cmpint(g_unlink(nested), ==, 0);
    copy_model("llama-bf16.gguf", added);
    struct utimbuf times = {.actime = 1000000000, .modtime = 1000000000};
    g_assert_cmpint(utime(touched, &times), ==, 0);

    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_model_library_scan_sync(library, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(g_list_model_get_n_items(list), ==, n);
    g_assert_null(entry_at(library, nested));
    g_assert_nonnull(entry_at(library, added));
    g_assert_true(entry_at(library, touched) != touched_entry);
    g_assert_cmpint(
        g_date_time_to_unix(ponder_model_entry_get_modified_time(entry_at(library, touched))), ==,
        1000000000);
    for (guint i = 0; i < n; i++) {
        PonderModelEntry *old = before->pdata[i];
        if (old == nested_entry || old == touched_entry)
            continue;
        g_assert_true(entry_at(library, ponder_model_entry_get_path(old)) == old);
    }
    g_assert_true(changes > 0);

    // restore the layout for the tests that follow
    g_assert_cmpint(g_unlink(added), ==, 0);
    copy_model("qwen2-f16.gguf", nested);
}

static void test_source_switches(void)
{
    build_layout();
    g_autoptr(PonderModelLibrary) library = scanned_library();
    g_autofree char *link = path_in(user_dir, "linked.gguf");
    g_autoptr(GError) error = NULL;

    // without Ollama, the user folder's link to the blob is listed from the folder
    ponder_model_library_set_source_enabled(library, PONDER_MODEL_SOURCE_OLLAMA, FALSE);
    g_assert_false(ponder_model_library_get_source_enabled(library, PONDER_MODEL_SOURCE_OLLAMA));
    g_assert_true(ponder_model_library_scan_sync(library, NULL, &error));
    PonderModelEntry *linked = entry_at(library, link);
    g_assert_nonnull(linked);
    g_assert_cmpint(ponder_model_entry_get_source(linked), ==, PONDER_MODEL_SOURCE_FOLDER);
    g_assert_cmpstr(ponder_model_entry_get_display_name(linked), ==, "ceo-synthetic-qwen2");
    g_assert_cmpuint(n_entries_in_tmp(library), ==, 12); // 13 - 2 Ollama + the link

    // without the user folder either
    g_assert_true(ponder_model_library_remove_folder(library, user_dir));
    g_assert_true(ponder_model_library_scan_sync(library, NULL, &error));
    g_assert_null(entry_at(library, link));
    g_assert_cmpuint(n_entries_in_tmp(library), ==, 8);

    // only Hugging Face
    ponder_model_library_set_source_enabled(library, PONDER_MODEL_SOURCE_OWN, FALSE);
    ponder_model_library_set_source_enabled(library, PONDER_MODEL_SOURCE_LM_STUDIO, FALSE);
    g_assert_true(ponder_model_library_scan_sync(library, NULL, &error));
    g_assert_no_error(error);
    GListModel *list = ponder_model_library_get_models(library);
    g_assert_cmpuint(g_list_model_get_n_items(list), ==, 2);
    for (guint i = 0; i < 2; i++) {
        g_autoptr(PonderModelEntry) only = g_list_model_get_item(list, i);
        g_assert_cmpint(ponder_model_entry_get_source(only), ==, PONDER_MODEL_SOURCE_HUGGING_FACE);
    }

    // a cancelled scan changes nothing
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_cancellable_cancel(cancellable);
    ponder_model_library_set_source_enabled(library, PONDER_MODEL_SOURCE_OWN, TRUE);
    g_assert_false(ponder_model_library_scan_sync(library, cancellable, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint(g_list_model_get_n_items(list), ==, 2);
}

static void remove_tree(const char *path)
{
    GStatBuf st;
    if (g_lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        GDir *dir = g_dir_open(path, 0, NULL);
        const char *name;
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
        }
        if (dir)
            g_dir_close(dir);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

int main(int argc, char **argv)
{
    // The fake home comes first: GLib caches the home and data folders at first use.
    g_autoptr(GError) error = NULL;
    tmp_root = g_dir_make_tmp("ponder-models-XXXXXX", &error);
    g_assert_no_error(error);
    home = path_in(tmp_root, "home");
    g_autofree char *data_home = path_in(home, ".local/share");
    g_setenv("HOME", home, TRUE);
    g_setenv("XDG_DATA_HOME", data_home, TRUE);
    g_unsetenv("XDG_CACHE_HOME");
    g_unsetenv("OLLAMA_MODELS");
    g_unsetenv("HF_HOME");
    g_unsetenv("HF_HUB_CACHE");
    own_dir = path_in(data_home, "ponder/models");
    ollama_dir = path_in(home, ".ollama/models");
    lms_dir = path_in(home, ".lmstudio/models");
    hub_dir = path_in(home, ".cache/huggingface/hub");
    user_dir = path_in(tmp_root, "user-models");

    g_test_init(&argc, &argv, NULL);

    const char *shared = g_getenv("PONDER_SHARED");
    g_autofree char *fallback = NULL;
    if (!shared) {
        const char *root = g_getenv("PONDER_SOURCE_ROOT");
        fallback = g_build_filename(root ? root : ".", "..", "shared", NULL);
        shared = fallback;
    }
    models_src = g_build_filename(shared, "models", NULL);
    g_autofree char *probe = path_in(models_src, "qwen2-q4_k_m.gguf");
    gboolean have_models = g_file_test(probe, G_FILE_TEST_IS_REGULAR);

    g_test_add_func("/model-library/sources", test_sources);
    g_test_add_func("/model-library/slug-rules", test_slug_rules);
    if (have_models) {
        g_test_add_func("/model-library/scan", test_scan);
        g_test_add_func("/model-library/lookup", test_lookup);
        g_test_add_func("/model-library/memory-estimate", test_memory_estimate);
        g_test_add_func("/model-library/rescan", test_rescan);
        g_test_add_func("/model-library/source-switches", test_source_switches);
    } else {
        g_autofree char *why = g_strdup_printf("skipped: no test models in %s", models_src);
        g_test_add_data_func_full("/model-library/scan", g_steal_pointer(&why),
                                  (GTestDataFunc)g_test_skip, g_free);
    }
    int status = g_test_run();

    remove_tree(tmp_root);
    g_free(tmp_root);
    g_free(home);
    g_free(models_src);
    g_free(own_dir);
    g_free(ollama_dir);
    g_free(lms_dir);
    g_free(hub_dir);
    g_free(user_dir);
    return status;
}

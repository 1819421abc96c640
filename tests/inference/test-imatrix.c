// Importance matrices: llama.cpp's .dat and GGUF layouts as an independent writer
// (tools/make-imatrix-fixtures.py, run by Meson into the directory given as argument) makes
// them, read back value by value; hostile files refused with the message they were made for;
// every truncation and random corruption of a good file refused or read into sane values.
// Then `quantize` with them, on synth's tiny llama: the importance-weighted error of every
// weighted type drops, both layouts give the same tensors, the mix rules and metadata follow
// llama.cpp's, files that do not fit the model are refused, and the types Ponder cannot write
// are refused with or without an importance matrix.
//   test-imatrix FIXTURE_DIR
#include "formats/gguf.h"
#include "model-tools/imatrix.h"
#include "model-tools/model-files.h"
#include "model-tools/quant-mix.h"
#include "test-util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixture_dir;

static const char *fixture(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", fixture_dir, name);
    return buf;
}

// The next line of *CURSOR (NUL-terminated in place), or NULL at the end.
static char *next_line(char **cursor)
{
    char *line = *cursor;
    if (!line || !*line)
        return NULL;
    char *end = strchr(line, '\n');
    if (end)
        *end++ = '\0';
    *cursor = end;
    return line;
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

// EXPECTED (write_expected in the script): legacy, chunks, dataset, entries with their values.
static void check_good(const char *file, const char *expected_file)
{
    char err[512] = "";
    Imatrix *im = imatrix_load(fixture(file), err, sizeof err);
    CHECKF(im, "%s: %s", file, err);
    char *text = test_read_file(fixture(expected_file), NULL);
    CHECKF(text, "%s: cannot read", expected_file);
    if (!im || !text) {
        imatrix_free(im);
        free(text);
        return;
    }
    uint64_t n_entries = 0, values_checked = 0;
    const ImatrixEntry *e = NULL;
    uint64_t value_index = 0;
    bool dataset_seen = false;
    char *cursor = text;
    for (char *line; (line = next_line(&cursor));) {
        unsigned long long n = 0;
        char name[300];
        if (sscanf(line, "legacy %llu", &n) == 1) {
            CHECKF(im->legacy == (n != 0), "%s: legacy %d", file, im->legacy);
        } else if (sscanf(line, "chunks %llu", &n) == 1) {
            CHECKF(im->n_chunks == n, "%s: %u chunks, want %llu", file, im->n_chunks, n);
        } else if (strncmp(line, "dataset ", 8) == 0) {
            dataset_seen = true;
            CHECKF(im->dataset && strcmp(im->dataset, line + 8) == 0, "%s: dataset '%s'", file,
                   im->dataset ? im->dataset : "(none)");
        } else if (sscanf(line, "entry %299s %llu", name, &n) == 2) {
            // the entries come sorted in both
            CHECKF(n_entries < im->n_entries, "%s: only %llu entries", file,
                   (unsigned long long)im->n_entries);
            if (n_entries >= im->n_entries)
                break;
            e = &im->entries[n_entries++];
            value_index = 0;
            CHECKF(strcmp(e->name, name) == 0, "%s: entry '%s', want '%s'", file, e->name, name);
            CHECKF(e->n_values == n, "%s: %s has %llu values, want %llu", file, name,
                   (unsigned long long)e->n_values, n);
            CHECKF(imatrix_find(im, name) == e, "%s: imatrix_find('%s')", file, name);
        } else if (e) {
            uint32_t bits = (uint32_t)strtoul(line, NULL, 16);
            float want;
            memcpy(&want, &bits, sizeof want);
            if (value_index < e->n_values) {
                CHECKF(same_bits(e->importance[value_index], want), "%s: %s[%llu] = %a, want %a",
                       file, e->name, (unsigned long long)value_index,
                       (double)e->importance[value_index], (double)want);
                values_checked++;
            }
            value_index++;
        }
    }
    CHECKF(n_entries == im->n_entries, "%s: %llu entries, want %llu", file,
           (unsigned long long)im->n_entries, (unsigned long long)n_entries);
    CHECKF(dataset_seen || !im->dataset, "%s: a dataset '%s' nobody wrote", file, im->dataset);
    CHECK(imatrix_find(im, "blk.99.nothing.weight") == NULL);
    printf("  %-16s %llu entries, %llu values as written\n", file, (unsigned long long)n_entries,
           (unsigned long long)values_checked);
    imatrix_free(im);
    free(text);
}

static void check_bad(const char *file, const char *fragment)
{
    char err[512] = "";
    Imatrix *im = imatrix_load(fixture(file), err, sizeof err);
    CHECKF(!im, "%s: read, but should have been refused (%s)", file, fragment);
    CHECKF(strstr(err, fragment) && strstr(err, file), "%s: message '%s', want '%s'", file, err,
           fragment);
    imatrix_free(im);
}

// A read that succeeds must hand out only names and sane importance.
static void check_sane(const Imatrix *im, const char *what)
{
    for (uint64_t i = 0; i < im->n_entries; i++) {
        const ImatrixEntry *e = &im->entries[i];
        CHECKF(e->name && e->name[0] && e->n_values > 0, "%s: entry %llu", what,
               (unsigned long long)i);
        for (uint64_t k = 0; k < e->n_values; k++)
            if (!(e->importance[k] >= 0) || !isfinite(e->importance[k])) {
                CHECKF(false, "%s: %s[%llu] = %g", what, e->name, (unsigned long long)k,
                       (double)e->importance[k]);
                break;
            }
    }
}

// Every prefix of a good file, and a few thousand copies with random bytes changed: refused
// with a message, or read into sane values (AddressSanitizer watches the reads).
static void check_mangled(const char *file)
{
    size_t size = 0;
    uint8_t *good = (uint8_t *)test_read_file(fixture(file), &size);
    CHECKF(good, "%s: cannot read", file);
    if (!good)
        return;
    uint8_t *copy = malloc(size);
    char err[512];
    int refused = 0, read = 0;
    for (size_t len = 0; len < size; len++) {
        memcpy(copy, good, len);
        err[0] = '\0';
        Imatrix *im = imatrix_load_memory(copy, len, file, err, sizeof err);
        if (im)
            check_sane(im, file);
        else
            CHECKF(err[0], "%s: prefix of %zu bytes refused without a message", file, len);
        im ? read++ : refused++;
        imatrix_free(im);
    }
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, good, size);
        for (int k = 0; k < 1 + round % 4; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            copy[state % size] = (uint8_t)(state >> 32);
        }
        err[0] = '\0';
        Imatrix *im = imatrix_load_memory(copy, size, file, err, sizeof err);
        if (im)
            check_sane(im, file);
        else
            CHECKF(err[0], "%s: corrupted copy refused without a message", file);
        im ? read++ : refused++;
        imatrix_free(im);
    }
    printf("  %-16s mangled: %d refused, %d read with sane values\n", file, refused, read);
    free(copy);
    free((void *)good);
}

// ---- quantize --imatrix ----------------------------------------------------------------------

static char tmp_dir[256];

// $tmp_dir/NAME in OUT (512 bytes).
static const char *tmp_path_in(char *out, const char *name)
{
    snprintf(out, 512, "%s/%s", tmp_dir, name);
    return out;
}

static bool quantize_ok(const char *src, const char *out, const char *type, const char *imatrix)
{
    char err[1024] = "";
    bool ok = quantize_gguf(src, out, type, imatrix, 2, err, sizeof err);
    CHECKF(ok, "quantize %s%s%s: %s", type, imatrix ? " --imatrix " : "", imatrix ? imatrix : "",
           err);
    return ok;
}

static bool refused(const char *src, const char *type, const char *imatrix, const char *fragment)
{
    char err[1024] = "", out[512];
    tmp_path_in(out, "refused.gguf");
    bool ok = quantize_gguf(src, out, type, imatrix, 1, err, sizeof err);
    struct stat st;
    bool written = stat(out, &st) == 0;
    CHECKF(!ok && !written && strstr(err, fragment), "quantize %s with %s: %s (want '%s')", type,
           imatrix ? imatrix : "no importance matrix", ok ? "succeeded" : err, fragment);
    unlink(out);
    return !ok;
}

// The importance-weighted error sum imp_j (y_ij - x_ij)^2, summed per tensor type of PLAIN and
// WEIGHTED (quantized without and with the importance matrix IM) over the tensors IM covers.
typedef struct TypeErrors {
    double plain[PONDER_TYPE_COUNT], weighted[PONDER_TYPE_COUNT];
    int n_tensors[PONDER_TYPE_COUNT];
} TypeErrors;

static void add_errors(const GgufFile *src, const GgufFile *plain, const GgufFile *weighted,
                       const Imatrix *im, TypeErrors *out)
{
    for (uint64_t i = 0; i < im->n_entries; i++) {
        const ImatrixEntry *e = &im->entries[i];
        const GgufTensor *s = gguf_find_tensor(src, e->name), *p = gguf_find_tensor(plain, e->name),
                         *w = gguf_find_tensor(weighted, e->name);
        CHECKF(s && p && w && p->type == w->type, "%s: missing, or types differ", e->name);
        if (!s || !p || !w || p->type != w->type || p->type == s->type)
            continue;
        float *x = test_dequantize_tensor(s), *yp = test_dequantize_tensor(p),
              *yw = test_dequantize_tensor(w);
        double ep = 0, ew = 0;
        for (uint64_t k = 0; x && yp && yw && k < s->n_elements; k++) {
            double imp = e->importance[k % s->ne[0]];
            ep += imp * (yp[k] - x[k]) * (yp[k] - x[k]);
            ew += imp * (yw[k] - x[k]) * (yw[k] - x[k]);
        }
        out->plain[p->type] += ep;
        out->weighted[p->type] += ew;
        out->n_tensors[p->type]++;
        free(x);
        free(yp);
        free(yw);
    }
}

static bool same_tensor_bytes(const GgufTensor *a, const GgufTensor *b)
{
    return a && b && a->type == b->type && a->n_bytes == b->n_bytes &&
           memcmp(a->data, b->data, a->n_bytes) == 0;
}

static void check_recorded(const GgufFile *f, const char *imatrix_path, const char *mix)
{
    GgufString s;
    uint32_t entries = 0, chunks = 0;
    CHECKF(gguf_get_string(f, "quantize.imatrix.file", &s) && gguf_string_equals(s, imatrix_path),
           "%s: quantize.imatrix.file", mix);
    CHECKF(gguf_get_string(f, "quantize.imatrix.dataset", &s) && gguf_string_equals(s, "tiny.txt"),
           "%s: quantize.imatrix.dataset", mix);
    CHECKF(gguf_get_u32(f, "quantize.imatrix.entries_count", &entries) && entries == 15,
           "%s: quantize.imatrix.entries_count %u", mix, entries);
    CHECKF(gguf_get_u32(f, "quantize.imatrix.chunks_count", &chunks) && chunks == 4,
           "%s: quantize.imatrix.chunks_count %u", mix, chunks);
}

// Quantizing with the tiny llama's importance matrix (a hundredfold weight on every eighth
// column and a few more) lowers the importance-weighted error of every type the mixes use
// (weights ignored would give a ratio of 1), with either layout giving the same tensors.
static void test_weighted_mixes(const char *src_path)
{
    static const char *const mixes[] = {"q4_0",   "q4_1",   "q5_0", "q5_1",   "q2_k",  "q3_k_m",
                                        "q4_k_m", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs"};
    char dat[1024], gguf_im[1024], err[512] = "";
    snprintf(dat, sizeof dat, "%s", fixture("tiny-llama.dat"));
    snprintf(gguf_im, sizeof gguf_im, "%s", fixture("tiny-llama.gguf"));
    Imatrix *im = imatrix_load(dat, err, sizeof err);
    GgufFile *src = gguf_open(src_path, err, sizeof err);
    CHECKF(im && src, "%s", err);
    if (!im || !src) {
        imatrix_free(im);
        gguf_close(src);
        return;
    }
    TypeErrors errors = {0};
    char plain_path[512], dat_path[512], gguf_path[512];
    tmp_path_in(plain_path, "plain.gguf");
    tmp_path_in(dat_path, "dat.gguf");
    tmp_path_in(gguf_path, "gguf.gguf");
    for (size_t m = 0; m < sizeof mixes / sizeof mixes[0]; m++) {
        if (!quantize_ok(src_path, plain_path, mixes[m], NULL) ||
            !quantize_ok(src_path, dat_path, mixes[m], dat) ||
            !quantize_ok(src_path, gguf_path, mixes[m], gguf_im))
            continue;
        GgufFile *plain = gguf_open(plain_path, err, sizeof err);
        GgufFile *with_dat = gguf_open(dat_path, err, sizeof err);
        GgufFile *with_gguf = gguf_open(gguf_path, err, sizeof err);
        CHECKF(plain && with_dat && with_gguf, "%s: %s", mixes[m], err);
        if (plain && with_dat && with_gguf) {
            add_errors(src, plain, with_dat, im, &errors);
            for (uint64_t i = 0; i < with_dat->n_tensors; i++) {
                const GgufTensor *a = &with_dat->tensors[i];
                const char *name = test_tensor_name(a);
                CHECKF(same_tensor_bytes(a, gguf_find_tensor(with_gguf, name)),
                       "%s: %s differs between the .dat and the GGUF importance matrix", mixes[m],
                       name);
                // no entry (token_embd, norms): quantized as without the file
                if (!imatrix_find(im, name))
                    CHECKF(same_tensor_bytes(a, gguf_find_tensor(plain, name)),
                           "%s: %s has no importance but changed", mixes[m], name);
            }
            check_recorded(with_dat, dat, mixes[m]);
            CHECKF(!gguf_find_kv(plain, "quantize.imatrix.file"), "%s: keys without a file",
                   mixes[m]);
        }
        gguf_close(plain);
        gguf_close(with_dat);
        gguf_close(with_gguf);
    }
    int n_types = 0;
    for (int t = 0; t < PONDER_TYPE_COUNT; t++) {
        if (!errors.n_tensors[t])
            continue;
        n_types++;
        double ratio = errors.weighted[t] / errors.plain[t];
        printf("  %-7s %2d matrices: importance-weighted error x%.3f with the importance matrix\n",
               ponder_type_traits((uint32_t)t)->name, errors.n_tensors[t], ratio);
        CHECKF(ratio < 0.85, "%s: weighted error %g, without importance %g",
               ponder_type_traits((uint32_t)t)->name, errors.weighted[t], errors.plain[t]);
    }
    CHECKF(n_types == 11, "%d weighted types seen (q4_0 q4_1 q5_0 q5_1 q2_K..q6_K iq4_nl iq4_xs)",
           n_types);

    // Types without a search take the file and ignore it.
    static const char *const unweighted[] = {"q8_0", "f16"};
    for (size_t m = 0; m < 2; m++) {
        if (!quantize_ok(src_path, plain_path, unweighted[m], NULL) ||
            !quantize_ok(src_path, dat_path, unweighted[m], dat))
            continue;
        GgufFile *a = gguf_open(plain_path, err, sizeof err);
        GgufFile *b = gguf_open(dat_path, err, sizeof err);
        for (uint64_t i = 0; a && b && i < a->n_tensors; i++)
            CHECKF(same_tensor_bytes(&a->tensors[i],
                                     gguf_find_tensor(b, test_tensor_name(&a->tensors[i]))),
                   "%s: %s changed", unweighted[m], test_tensor_name(&a->tensors[i]));
        if (b)
            check_recorded(b, dat, unweighted[m]);
        gguf_close(a);
        gguf_close(b);
    }
    unlink(plain_path);
    unlink(dat_path);
    unlink(gguf_path);
    imatrix_free(im);
    gguf_close(src);
}

// Files that read well but are not this model's, and the types Ponder cannot write.
static void test_refusals(const char *src_path, const char *manifest)
{
    char *copy = strdup(manifest), *cursor = copy;
    int n_model = 0;
    for (char *line; (line = next_line(&cursor));) {
        char kind[16], file[128];
        int used = 0;
        if (sscanf(line, "%15s %127s %n", kind, file, &used) < 2 || strcmp(kind, "model") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s", fixture(file));
        refused(src_path, "q4_k_m", path, line + used);
        n_model++;
    }
    free(copy);
    CHECKF(n_model >= 2, "%d files that do not fit the model", n_model);
    refused(src_path, "q4_k_m", fixture("value-nan.dat"), "value 1 is nan");
    refused(src_path, "q4_k_m", fixture("missing.dat"), "missing.dat");

    // Nothing writes these yet: the message says so whatever the importance matrix.
    static const char *const need_imatrix[] = {"iq2_xxs", "iq2_xs", "iq2_s",  "iq2_m",
                                               "iq1_s",   "iq1_m",  "iq3_xxs"};
    for (size_t i = 0; i < sizeof need_imatrix / sizeof need_imatrix[0]; i++) {
        refused(src_path, need_imatrix[i], NULL, "cannot write");
        refused(src_path, need_imatrix[i], fixture("tiny-llama.dat"),
                "with or without an importance matrix (llama.cpp's llama-quantize writes them only "
                "with one, --imatrix)");
    }
    refused(src_path, "iq3_s", fixture("tiny-llama.dat"), "writes them without one");
    refused(src_path, "iq3_m", NULL, "cannot write iq3_s tensors yet");
}

// The mix rules an importance matrix changes, and the two lists of mix names.
static void test_mix_rules(void)
{
    const uint64_t ne[2] = {8960, 1536};
    QuantMixModel model = {
        .arch = "qwen2", .n_layer = 28, .n_head = 12, .n_head_kv = 2, .has_output = true};
    static const struct {
        const char *mix, *tensor;
        PonderType without, with;
    } rules[] = {
        {"q4_0", "blk.0.ffn_down.weight", PONDER_TYPE_Q4_0, PONDER_TYPE_Q4_1},
        {"q5_0", "blk.2.ffn_down.weight", PONDER_TYPE_Q5_0, PONDER_TYPE_Q5_1},
        {"q4_0", "blk.3.ffn_down.weight", PONDER_TYPE_Q4_0, PONDER_TYPE_Q4_0},
        {"q4_1", "blk.0.ffn_down.weight", PONDER_TYPE_Q4_1, PONDER_TYPE_Q4_1},
        {"iq4_xs", "blk.0.ffn_down.weight", PONDER_TYPE_Q5_K, PONDER_TYPE_IQ4_XS},
        {"iq4_nl", "blk.1.ffn_down.weight", PONDER_TYPE_Q5_K, PONDER_TYPE_IQ4_NL},
        {"iq3_xxs", "blk.5.attn_v.weight", PONDER_TYPE_IQ3_S, PONDER_TYPE_IQ3_XXS},
        {"q4_k_m", "blk.0.ffn_down.weight", PONDER_TYPE_Q6_K, PONDER_TYPE_Q6_K},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const QuantMix *mix = quant_mix_find(rules[i].mix);
        model.n_head_kv = strcmp(rules[i].mix, "iq3_xxs") == 0 ? 6 : 2; // GQA below 4 for attn_v
        model.has_imatrix = false;
        PonderType without =
            quant_mix_tensor_type(mix, &model, rules[i].tensor, 2, ne, PONDER_TYPE_F16);
        model.has_imatrix = true;
        PonderType with =
            quant_mix_tensor_type(mix, &model, rules[i].tensor, 2, ne, PONDER_TYPE_F16);
        CHECKF(without == rules[i].without && with == rules[i].with,
               "%s %s: %s without, %s with an importance matrix", rules[i].mix, rules[i].tensor,
               ponder_type_traits(without)->name, ponder_type_traits(with)->name);
    }

    char names[512];
    snprintf(names, sizeof names, " %s ", quant_mix_quantizable_names());
    char *all = strdup(quant_mix_names()), *save = all;
    for (char *name = strtok(all, " "); name; name = strtok(NULL, " ")) {
        char word[64];
        snprintf(word, sizeof word, " %s ", name);
        const QuantMix *mix = quant_mix_find(name);
        CHECKF(mix && quant_mix_can_quantize(mix) == (strstr(names, word) != NULL),
               "%s: quant_mix_quantizable_names disagrees", name);
        CHECKF(!mix || !quant_mix_can_quantize(mix) || !quant_mix_needs_imatrix(mix),
               "%s: writable, yet needs an importance matrix", name);
    }
    free(save);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return test_skip("usage: test-imatrix FIXTURE_DIR");
    fixture_dir = argv[1];
    char *manifest = test_read_file(fixture("manifest.txt"), NULL);
    if (!manifest) {
        fprintf(stderr, "%s: cannot read (tools/make-imatrix-fixtures.py writes it)\n",
                fixture("manifest.txt"));
        return 1;
    }
    int n_good = 0, n_bad = 0;
    char *cursor = manifest;
    for (char *line; (line = next_line(&cursor));) {
        char kind[16], file[128];
        int used = 0;
        if (sscanf(line, "%15s %127s %n", kind, file, &used) < 2)
            continue;
        const char *rest = line + used;
        if (strcmp(kind, "good") == 0) {
            check_good(file, rest);
            n_good++;
        } else if (strcmp(kind, "bad") == 0) {
            check_bad(file, rest);
            n_bad++;
        }
    }
    free(manifest);
    CHECKF(n_good >= 4 && n_bad >= 20, "manifest: %d good and %d bad files", n_good, n_bad);
    printf("  %d hostile files refused with their messages\n", n_bad);

    char err[512] = "";
    CHECK(!imatrix_load(fixture("no-such-file.dat"), err, sizeof err));
    CHECKF(strstr(err, "no-such-file.dat"), "message: %s", err);
    CHECK(!imatrix_load(fixture_dir, err, sizeof err)); // a directory
    CHECKF(strstr(err, "not a regular file") || strstr(err, "directory"), "message: %s", err);

    check_mangled("good.dat");
    check_mangled("good.gguf");

    test_mix_rules();
    snprintf(tmp_dir, sizeof tmp_dir, "%s/ponder-test-imatrix-XXXXXX",
             getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        CHECKF(false, "cannot create %s", tmp_dir);
        return test_finish();
    }
    char src[512];
    tmp_path_in(src, "tiny-llama-f32.gguf");
    CHECKF(synth_gguf("tiny-llama", "f32", NULL, src, 5, 2, err, sizeof err), "synth: %s", err);
    manifest = test_read_file(fixture("manifest.txt"), NULL);
    test_refusals(src, manifest ? manifest : "");
    free(manifest);
    test_weighted_mixes(src);
    unlink(src);
    rmdir(tmp_dir);
    return test_finish();
}

// Writes the starting corpora of the fuzz targets, at run time (no binary model files are
// committed): small synthetic checkpoints in every format the loader reads, the real models
// of ../shared/models when present, and tokenizer inputs in fuzz_tokenizer's layout.
//
//   make_seeds OUTDIR [MODELS_DIR]
// creates OUTDIR/model/, OUTDIR/tokenizer/, OUTDIR/gguf/, OUTDIR/forward/ and OUTDIR/xclbin/.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/gguf_writer.hpp"
#include "core/model.hpp"
#include "core/synth.hpp"
#if __has_include("core/quantize.hpp")
#include "core/quantize.hpp"
#define LHB_SEEDS_HAVE_Q8 1
#endif

namespace {

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Through core's whole-file writer: a run that is stopped leaves no half-written seed.
void write_all(const std::string& path, const std::string& bytes) { lhb::write_file_atomically(path, bytes); }

void put_i32(std::string& s, int32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_f32(std::string& s, float v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_floats(std::string& s, const float* p, int64_t n) {
    s.append(reinterpret_cast<const char*>(p), size_t(n) * 4);
}

// The v0 file made unshared: negative vocab_size and a classifier appended (a copy of the
// embedding, so the weights stay sensible).
std::string unshare_v0(std::string v0, const lhb::ModelConfig& c) {
    int32_t neg = -c.vocab_size;
    std::memcpy(v0.data() + 20, &neg, 4);
    const std::string emb = v0.substr(28, size_t(c.vocab_size) * size_t(c.dim) * 4);
    return v0 + emb;
}

// export.py --version 1 of a loaded fp32 model.
std::string to_v1(const lhb::Model& m) {
    const lhb::ModelConfig& c = m.config();
    const lhb::ModelWeights& w = m.weights();
    std::string s;
    put_i32(s, 0x616b3432);
    put_i32(s, 1);
    for (int v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len})
        put_i32(s, v);
    s.push_back(c.shared_classifier ? 1 : 0);
    s.resize(256, '\0');
    const int64_t d = c.dim;
    for (const auto& L : w.layers) put_floats(s, L.rms_att, d);
    for (const auto& L : w.layers) put_floats(s, L.rms_ffn, d);
    put_floats(s, w.rms_final, d);
    put_floats(s, w.token_embedding, int64_t(c.vocab_size) * d);
    auto all = [&](lhb::WeightMatrix lhb::LayerWeights::*field) {
        for (const auto& L : w.layers) put_floats(s, (L.*field).f32, (L.*field).numel());
    };
    all(&lhb::LayerWeights::wq);
    all(&lhb::LayerWeights::wk);
    all(&lhb::LayerWeights::wv);
    all(&lhb::LayerWeights::wo);
    all(&lhb::LayerWeights::w1);
    all(&lhb::LayerWeights::w2);
    all(&lhb::LayerWeights::w3);
    if (!c.shared_classifier) put_floats(s, w.wcls.f32, w.wcls.numel());
    return s;
}

// Every format of one model, as OUTDIR/model/<stem>-*.bin.
void model_seeds(const std::string& dir, const std::string& stem, const std::string& v0_path,
                 const std::vector<int>& group_sizes) {
    const std::string v0 = read_all(v0_path);
    lhb::Model m = lhb::Model::open(v0_path);
    const lhb::ModelConfig c = m.config();
    const std::string unshared = c.shared_classifier ? unshare_v0(v0, c) : v0;
    write_all(dir + "/" + stem + "-v0.bin", v0);
    write_all(dir + "/" + stem + "-v0-unshared.bin", unshared);
    write_all(dir + "/" + stem + "-v1.bin", to_v1(m));
    const std::string unshared_path = dir + "/" + stem + "-v0-unshared.bin";
    lhb::Model mu = lhb::Model::open(unshared_path);
    write_all(dir + "/" + stem + "-v1-unshared.bin", to_v1(mu));
#ifdef LHB_SEEDS_HAVE_Q8
    for (int gs : group_sizes) {
        lhb::write_q8_model(m, dir + "/" + stem + "-v2-gs" + std::to_string(gs) + ".bin", gs);
        lhb::write_q8_model(mu, dir + "/" + stem + "-v2-gs" + std::to_string(gs) + "-unshared.bin", gs);
    }
#else
    (void)group_sizes;
#endif
}

// fuzz_tokenizer's layout: vocab_size, file length, file, text.
std::string tokenizer_input(int vocab_size, const std::string& file, const std::string& text) {
    std::string s;
    put_i32(s, vocab_size);
    put_i32(s, int32_t(file.size()));
    return s + file + text;
}

// A small tokenizer in llama2.c's layout: the specials, the 256 byte pieces, then a few
// merges so that encoding exercises the merge loop.
std::string tiny_tokenizer(int* vocab_size) {
    std::vector<std::pair<std::string, float>> pieces = {{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}};
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        pieces.push_back({buf, 0});
    }
    const char* merges[] = {" t", "he", " a", "in", " the", "er", " b", "ab", "ba", " ab"};
    float score = 0;
    for (const char* m : merges) pieces.push_back({m, score--});
    for (const char* ch : {" ", "a", "b", "e", "h", "i", "n", "r", "t", "\xc3\xa9"}) pieces.push_back({ch, score--});
    std::string s;
    put_i32(s, 6);  // max_token_length
    for (const auto& [text, sc] : pieces) {
        put_f32(s, sc);
        put_i32(s, int32_t(text.size()));
        s += text;
    }
    *vocab_size = int(pieces.size());
    return s;
}

}  // namespace

// GGUF seeds: small llama files in every type we read (tied and not), one of every metadata
// value type with nested arrays, and the metadata part of llama.cpp's own files (their tensor
// data would make the seeds megabytes long; without it they fail late, at the data check).
void gguf_seeds(const std::string& dir, const std::string& models) {
    lhb::GgufLlamaConfig small;
    small.dim = 32;
    small.hidden_dim = 64;
    small.n_layers = 1;
    small.n_heads = 4;
    small.n_kv_heads = 2;
    small.vocab_size = 8;
    small.context_length = 8;
    int n = 0;
    for (lhb::GgmlType t : {lhb::GgmlType::F32, lhb::GgmlType::F16, lhb::GgmlType::Q8_0, lhb::GgmlType::Q4_0}) {
        const bool tied = n % 2 == 0;
        write_all(dir + "/small-" + std::to_string(n++) + ".gguf", lhb::synthetic_llama_gguf(small, t, tied, 7));
    }
    lhb::GgufLlamaConfig k = small;
    k.dim = 256;
    k.hidden_dim = 256;
    k.n_heads = 2;
    k.n_kv_heads = 1;
    for (lhb::GgmlType t : {lhb::GgmlType::Q4_K, lhb::GgmlType::Q6_K})
        write_all(dir + "/kquant-" + std::to_string(n++) + ".gguf", lhb::synthetic_llama_gguf(k, t, true, 7));

    lhb::GgufWriter w;
    w.add_raw("u8", lhb::GgufType::UINT8, std::string(1, '\x07'));
    w.add_raw("i16", lhb::GgufType::INT16, std::string("\xfe\xff", 2));
    w.add_i32("i32", -1);
    w.add_u64("u64", 1);
    w.add_f32("f32", 0.5f);
    w.add_bool("bool", true);
    w.add_string("general.architecture", "llama");
    w.add_strings("strings", {"a", "", "\xe2\x96\x81" "b"});
    const std::string leaf = lhb::GgufWriter::encode_u32(uint32_t(lhb::GgufType::UINT8)) +
                             lhb::GgufWriter::encode_u64(2) + "\x01\x02";
    w.add_raw("nested", lhb::GgufType::ARRAY,
              lhb::GgufWriter::encode_u32(uint32_t(lhb::GgufType::ARRAY)) + lhb::GgufWriter::encode_u64(1) + leaf);
    w.add_u32("general.alignment", 64);
    write_all(dir + "/metadata-v3.gguf", w.bytes(3, 64));
    write_all(dir + "/metadata-v2.gguf", w.bytes(2, 64));

    for (const char* name : {"stories260K-f16.gguf", "synth256-q4_k_m.gguf"}) {
        const std::string path = models + "/gguf/" + name;
        std::ifstream probe(path);
        if (!probe) continue;
        const std::string bytes = read_all(path);
        try {
            lhb::GgufFile f(path, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
            write_all(dir + "/header-" + name, bytes.substr(0, size_t(f.data_offset())));
        } catch (const lhb::InputError& e) {
            std::fprintf(stderr, "make_seeds: %s\n", e.what());
        }
    }
}

// fuzz_forward's layout: 8 shape bytes, a u32 token, weight bytes (cycled over the model).
// One seed per shape byte pattern: MHA, GQA, MQA, an unshared classifier, two layers.
void forward_seeds(const std::string& dir) {
    const unsigned char shapes[][8] = {{0, 0, 0, 7, 0, 15, 3, 0},  {3, 1, 3, 47, 1, 31, 7, 0},
                                       {3, 0, 1, 11, 0, 7, 1, 1},  {1, 1, 2, 23, 1, 20, 5, 1},
                                       {2, 2, 3, 31, 1, 9, 0, 0}};
    uint32_t state = 12345;
    int n = 0;
    for (const auto& shape : shapes) {
        std::string seed(reinterpret_cast<const char*>(shape), 8);
        put_i32(seed, n);
        for (int k = 0; k < 256; ++k) {
            state = state * 1664525u + 1013904223u;
            seed += char(state >> 24);
        }
        write_all(dir + "/shape-" + std::to_string(n++) + ".seed", seed);
    }
}

// fuzz_xclbin: a sound axlf container (496-byte header, two sections inside the file) and
// the same cut short; the check reads nothing beyond the section table.
void xclbin_seeds(const std::string& dir) {
    const size_t header = 496 + 40;
    std::string x(header + 64, '\0');
    std::memcpy(x.data(), "xclbin2", 8);
    const uint64_t length = x.size();
    std::memcpy(x.data() + 304, &length, 8);
    const uint32_t sections = 2;
    std::memcpy(x.data() + 304 + 144, &sections, 4);
    for (uint32_t i = 0; i < sections; ++i) {
        const uint32_t kind = i ? 8 : 2;  // EMBEDDED_METADATA, IP_LAYOUT
        const uint64_t off = header + 32 * i, size = 32;
        std::memcpy(x.data() + 456 + 40 * i, &kind, 4);
        std::memcpy(x.data() + 456 + 40 * i + 24, &off, 8);
        std::memcpy(x.data() + 456 + 40 * i + 32, &size, 8);
    }
    write_all(dir + "/sound.xclbin", x);
    write_all(dir + "/short.xclbin", x.substr(0, header + 10));
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: make_seeds OUTDIR [MODELS_DIR]\n");
        return 1;
    }
    const std::string out = argv[1];
    const std::string models = argc > 2 ? argv[2] : "";
    const std::string model_dir = out + "/model", tok_dir = out + "/tokenizer";
    ::mkdir(out.c_str(), 0755);
    ::mkdir(model_dir.c_str(), 0755);
    ::mkdir(tok_dir.c_str(), 0755);
    ::mkdir((out + "/gguf").c_str(), 0755);
    ::mkdir((out + "/forward").c_str(), 0755);
    ::mkdir((out + "/xclbin").c_str(), 0755);
    auto exists = [](const std::string& p) {
        struct stat st {};
        return !p.empty() && ::stat(p.c_str(), &st) == 0;
    };
    try {
        // Synthetic shapes: a minimal one, a GQA one, and an odd hidden_dim like stories260K.
        const struct {
            const char* stem;
            const char* shape;
            std::vector<int> gs;
        } synth[] = {
            {"tiny", "dim=8,hidden=12,layers=1,heads=2,kv_heads=1,vocab=16,seq=4", {4, 2}},
            {"gqa", "dim=16,hidden=24,layers=2,heads=4,kv_heads=2,vocab=32,seq=8", {8}},
            {"odd", "dim=8,hidden=20,layers=1,heads=1,kv_heads=1,vocab=8,seq=2", {4}},
        };
        for (const auto& s : synth) {
            const std::string tmp = out + "/synth-" + s.stem + ".tmp.bin";
            lhb::write_synthetic_model(lhb::parse_shape(s.shape), tmp, 7);
            model_seeds(model_dir, s.stem, tmp, s.gs);
            std::remove(tmp.c_str());
        }
        if (exists(models + "/stories260K.bin")) {
            model_seeds(model_dir, "stories260K", models + "/stories260K.bin", {4});
            write_all(model_dir + "/stories260K-export-v1.bin", read_all(models + "/stories260K_v1.bin"));
        } else {
            std::fprintf(stderr, "make_seeds: no stories260K.bin in '%s': synthetic model seeds only\n",
                         models.c_str());
        }

        int tiny_vocab = 0;
        const std::string tiny = tiny_tokenizer(&tiny_vocab);
        const char* texts[] = {"", "a", "the bath", "abba thin", "caf\xc3\xa9 \xf0\x9f\x98\x80",
                               "\xff\xfe\x80 broken utf-8 \xc3", "Once upon a time"};
        int n = 0;
        for (const char* t : texts)
            write_all(tok_dir + "/tiny-" + std::to_string(n++) + ".seed", tokenizer_input(tiny_vocab, tiny, t));
        if (exists(models + "/tok512.bin")) {
            const std::string tok512 = read_all(models + "/tok512.bin");
            for (const char* t : {"Once upon a time", "Tom had a big dog", "The caf\xc3\xa9 was", ""})
                write_all(tok_dir + "/tok512-" + std::to_string(n++) + ".seed", tokenizer_input(512, tok512, t));
        }
        if (exists(models + "/tokenizer.bin"))
            write_all(tok_dir + "/llama-" + std::to_string(n++) + ".seed",
                      tokenizer_input(32000, read_all(models + "/tokenizer.bin"),
                                      "I believe the meaning of life is"));
        gguf_seeds(out + "/gguf", models);
        forward_seeds(out + "/forward");
        xclbin_seeds(out + "/xclbin");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}

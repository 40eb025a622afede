// bench ops: a Google Benchmark microbenchmark of each op of each backend at a model's real
// shapes, plus one decoded token (forward) at a few positions, with bytes/s, FLOP/s and the
// fraction of the host's measured read bandwidth (the memory roofline).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/command.hpp"
#include "core/error.hpp"
#include "core/quant_types.hpp"
#include "core/quantize.hpp"
#include "core/registry.hpp"
#include "core/rng.hpp"
#include "core/roofline.hpp"
#include "core/synth.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench ops [--backend NAME|all] [--model FILE | --shape NAME] [--threads N]\n"
    "                 [--precision fp32|int8|all] [--group N] [--bandwidth-seconds S]\n"
    "                 [--type q8_0|q4_0|q4_k|q6_k|f16]\n"
    "                 [--benchmark_* flags]\n"
    "Google Benchmark microbenchmarks of every op at the model's real shapes, and of one\n"
    "decoded token (decode/pos=P), for each backend available here.\n"
    "  --backend  a backend name or 'all' (default: all available)\n"
    "  --model    a llama2.c checkpoint to take shapes and weights from\n"
    "  --shape    stories260K|stories15M|stories42M|stories110M or dim=..,hidden=..,...:\n"
    "             a synthetic-weight model of that shape (default stories15M; results are\n"
    "             labeled 'synthetic weights')\n"
    "  --threads  threads for multi-threaded backends and the bandwidth kernel (default: all cores)\n"
    "  --precision  weights of the matmul and decode benchmarks: fp32, int8 (Q8_0: the fp32\n"
    "             weights quantized in memory, or a version-2 --model as it is) or all;\n"
    "             default: the model's own. int8 ones are named BACKEND/int8/matmul/..., and\n"
    "             BACKEND/int8/decode/...; the other ops do not depend on it and run once\n"
    "  --group    int8 group size when quantizing (default: the largest <= 64 dividing dim\n"
    "             and hidden_dim)\n"
    "  --bandwidth-seconds  time spent measuring the read bandwidth first (default 0.5)\n"
    "  --type     also a GGUF weight type's matmuls (BACKEND/TYPE/matmul/...) at the model's\n"
    "             matrix shapes, for the backends that compute it: f16, q8_0, q4_0 made from\n"
    "             the fp32 weights, q4_k, q6_k random blocks (the timing does not depend on\n"
    "             the values); bytes_per_second counts the blocks; shapes that are not a\n"
    "             whole number of blocks wide are skipped\n"
    "Counters: bytes_per_second (bytes an op must move / time; int8 matmuls: int8 weights plus\n"
    "their fp32 scales), FLOP/s, and 'roofline': that rate divided by the read bandwidth\n"
    "measured over a buffer the size of the model's weights (what decode streams per token;\n"
    "measured again for the int8 weights), or for decode/pos=P, tok/s over the roofline\n"
    "tok/s at P.\n"
    "Small operands stay in cache between iterations, so their fraction can exceed 1.\n"
    "Google Benchmark flags pass through: --benchmark_filter=REGEX, --benchmark_format=json,\n"
    "--benchmark_out=FILE, --benchmark_min_time=SECONDS, --benchmark_repetitions=N, ...\n";

// Deterministic inputs in [-1, 1) (the timings do not depend on the values).
std::vector<float> random_vector(size_t n, uint64_t seed) { return Rng(seed).vec(n); }

struct Setup {
    const Model* model;
    double bandwidth;    // bytes/s
    std::string tag;     // "" (fp32) or "int8/": inserted after the backend's name
    bool weight_ops_only;  // register only matmul and decode (the rest ran at another precision)
};

using Clock = std::chrono::steady_clock;

// The fraction of the read bandwidth an op achieved. Google Benchmark's rate counters are
// shown as "per second", so this plain ratio is computed from the loop's own wall time.
double roofline_fraction(double bytes, double iterations, Clock::time_point t0, double bandwidth) {
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return s > 0 ? bytes * iterations / s / bandwidth : 0;
}

// Counters for an op that moves `bytes` and does `flops` per call; t0: when its loop began.
void set_counters(benchmark::State& state, Clock::time_point t0, double bytes, double flops, double bandwidth) {
    const double n = double(state.iterations());
    state.counters["roofline"] = roofline_fraction(bytes, n, t0, bandwidth);
    state.SetBytesProcessed(int64_t(bytes * n));
    state.counters["FLOP/s"] = benchmark::Counter(flops * n, benchmark::Counter::kIsRate);
}

template <class Fn>
void add(const std::string& name, Fn&& fn) {
    benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// The ops whose work does not depend on the weights' precision: rmsnorm, rope, softmax,
// attention, swiglu, residual.
void register_elementwise(const std::shared_ptr<Backend>& b, const Setup& setup) {
    const ModelConfig& c = setup.model->config();
    const LayerWeights& L0 = setup.model->weights().layers[0];
    const std::string prefix = b->name() + "/";
    const double bw = setup.bandwidth;
    const int dim = c.dim, hidden = c.hidden_dim;

    add(prefix + "rmsnorm/" + std::to_string(dim), [b, dim, bw, wt = L0.rms_att](benchmark::State& st) {
        auto x = random_vector(size_t(dim), 2);
        std::vector<float> out(static_cast<size_t>(dim));
        const auto t0 = Clock::now();
        for (auto _ : st) {
            b->rmsnorm(out.data(), x.data(), wt, dim);
            benchmark::DoNotOptimize(out.data());
            benchmark::ClobberMemory();
        }
        set_counters(st, t0, 3.0 * 4 * dim, 4.0 * dim, bw);
    });

    add(prefix + "rope/" + std::to_string(dim), [b, c, bw](benchmark::State& st) {
        auto q = random_vector(size_t(c.dim), 3), k = random_vector(size_t(c.kv_dim()), 4);
        const auto t0 = Clock::now();
        for (auto _ : st) {
            b->rope(q.data(), k.data(), 64 % c.seq_len, c.dim, c.kv_dim(), c.head_size());
            benchmark::DoNotOptimize(q.data());
            benchmark::ClobberMemory();
        }
        // reads and writes q and k; 6 FLOP per rotated pair (sin/cos not counted)
        set_counters(st, t0, 2.0 * 4 * (c.dim + c.kv_dim()), 3.0 * (c.dim + c.kv_dim()), bw);
    });

    for (int pos : {1, 64, 255}) {
        if (pos >= c.seq_len) continue;
        const int n = pos + 1;
        add(prefix + "softmax/pos=" + std::to_string(pos), [b, n, bw](benchmark::State& st) {
            auto src = random_vector(size_t(n), 5);
            std::vector<float> x(static_cast<size_t>(n));
            const auto t0 = Clock::now();
        for (auto _ : st) {
                std::copy(src.begin(), src.end(), x.begin());
                b->softmax(x.data(), n);
                benchmark::DoNotOptimize(x.data());
                benchmark::ClobberMemory();
            }
            set_counters(st, t0, 2.0 * 4 * n, 4.0 * n, bw);
        });
        add(prefix + "attention/pos=" + std::to_string(pos), [b, c, pos, bw](benchmark::State& st) {
            const AttentionShape s = AttentionShape::of(c);
            const size_t rows = size_t(pos) + 1;
            auto q = random_vector(size_t(c.dim), 6);
            auto kc = random_vector(rows * size_t(s.kv_dim), 7), vc = random_vector(rows * size_t(s.kv_dim), 8);
            std::vector<float> out(size_t(c.dim)), att(size_t(c.n_heads) * rows);
            const auto t0 = Clock::now();
        for (auto _ : st) {
                b->attention(out.data(), q.data(), kc.data(), vc.data(), att.data(), pos, s);
                benchmark::DoNotOptimize(out.data());
                benchmark::ClobberMemory();
            }
            const double kv = 2.0 * 4 * double(rows) * s.kv_dim;
            set_counters(st, t0, kv + 2.0 * 4 * c.dim, 4.0 * double(rows) * c.dim, bw);
        });
    }

    add(prefix + "swiglu/" + std::to_string(hidden), [b, hidden, bw](benchmark::State& st) {
        auto src = random_vector(size_t(hidden), 9), h2 = random_vector(size_t(hidden), 10);
        std::vector<float> h(static_cast<size_t>(hidden));
        const auto t0 = Clock::now();
        for (auto _ : st) {
            std::copy(src.begin(), src.end(), h.begin());
            b->swiglu(h.data(), h2.data(), hidden);
            benchmark::DoNotOptimize(h.data());
            benchmark::ClobberMemory();
        }
        set_counters(st, t0, 3.0 * 4 * hidden, 5.0 * hidden, bw);  // exp counted as one FLOP
    });

    add(prefix + "residual/" + std::to_string(dim), [b, dim, bw](benchmark::State& st) {
        auto x = random_vector(size_t(dim), 11), y = random_vector(size_t(dim), 12);
        const auto t0 = Clock::now();
        for (auto _ : st) {
            b->residual_add(x.data(), y.data(), dim);
            benchmark::DoNotOptimize(x.data());
            benchmark::ClobberMemory();
        }
        set_counters(st, t0, 3.0 * 4 * dim, double(dim), bw);
    });
}

void register_backend(const std::shared_ptr<Backend>& b, const Setup& setup) {
    const ModelConfig& c = setup.model->config();
    const ModelWeights& w = setup.model->weights();
    const LayerWeights& L0 = w.layers[0];
    const std::string prefix = b->name() + "/" + setup.tag;
    const double bw = setup.bandwidth;

    // matmul at every distinct shape, with the model's own weights.
    std::vector<std::pair<const WeightMatrix*, std::string>> mats;
    auto add_mat = [&](const WeightMatrix& m) {
        for (auto& [p, _] : mats)
            if (p->rows == m.rows && p->cols == m.cols) return;
        mats.push_back({&m, std::to_string(m.cols) + "->" + std::to_string(m.rows)});
    };
    add_mat(L0.wq);
    add_mat(L0.wk);
    add_mat(L0.w1);
    add_mat(L0.w2);
    add_mat(w.wcls);
    for (auto& [m, label] : mats) {
        add(prefix + "matmul/" + label, [b, m = m, bw](benchmark::State& st) {
            auto x = random_vector(size_t(m->cols), 1);
            std::vector<float> out(size_t(m->rows));
            const auto t0 = Clock::now();
        for (auto _ : st) {
                b->matmul(out.data(), x.data(), *m);
                benchmark::DoNotOptimize(out.data());
                benchmark::ClobberMemory();
            }
            set_counters(st, t0, double(m->bytes()) + 4.0 * (m->cols + m->rows), 2.0 * double(m->numel()), bw);
        });
    }

    if (!setup.weight_ops_only) register_elementwise(b, setup);

    // One decoded token: the whole forward pass at position pos (the KV rows before it are
    // whatever earlier iterations left; their values do not change the work).
    for (int pos : {1, 64, 255}) {
        if (pos >= c.seq_len) continue;
        const Model* model = setup.model;
        add(prefix + "decode/pos=" + std::to_string(pos), [b, model, pos, bw](benchmark::State& st) {
            const auto t0 = Clock::now();
        for (auto _ : st) {
                float* logits = b->forward(1, pos);
                benchmark::DoNotOptimize(logits);
                benchmark::ClobberMemory();
            }
            const double n = double(st.iterations());
            const double bytes = double(bytes_per_token(*model, pos));
            st.SetBytesProcessed(int64_t(bytes * n));
            st.counters["tok/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
            st.counters["roofline"] = roofline_fraction(bytes, n, t0, bw);
        });
    }
}

// The model's distinct matrix shapes as GGUF blocks of type t (see --type), owned.
struct GgmlMatrices {
    std::vector<std::vector<unsigned char>> blocks;
    std::vector<WeightMatrix> views;
};

std::shared_ptr<GgmlMatrices> ggml_matrices(const Model& model, GgmlType t) {
    const ModelWeights& w = model.weights();
    auto out = std::make_shared<GgmlMatrices>();
    std::vector<const WeightMatrix*> shapes;
    for (const WeightMatrix* m : {&w.layers[0].wq, &w.layers[0].wk, &w.layers[0].w1, &w.layers[0].w2, &w.wcls}) {
        bool seen = false;
        for (const WeightMatrix* s : shapes) seen = seen || (s->rows == m->rows && s->cols == m->cols);
        if (!seen) shapes.push_back(m);
    }
    Rng rng(7);
    for (const WeightMatrix* m : shapes) {
        const auto layout = block_layout(uint32_t(t));
        if (m->cols % int(layout->block_elems) != 0) {
            std::fprintf(stderr, "skipping %s matmul %d->%d: %d is not a whole number of blocks of %u\n",
                         ggml_type_name(uint32_t(t)), m->cols, m->rows, m->cols, layout->block_elems);
            continue;
        }
        const size_t row = row_bytes(t, size_t(m->cols));
        std::vector<unsigned char> b(row * size_t(m->rows));
        for (int r = 0; r < m->rows; ++r) {
            const float* x = m->f32 + int64_t(r) * m->cols;
            unsigned char* d = b.data() + size_t(r) * row;
            if (t == GgmlType::F16) {
                for (int j = 0; j < m->cols; ++j) {
                    const uint16_t h = fp32_to_fp16(x[j]);
                    std::memcpy(d + 2 * j, &h, 2);
                }
            } else if (t == GgmlType::Q8_0) {
                quantize_row_q8_0(x, d, size_t(m->cols));
            } else if (t == GgmlType::Q4_0) {
                quantize_row_q4_0(x, d, size_t(m->cols));
            } else {  // K-quants: random bytes, finite fp16 scales
                const auto v = rng.vec(row);
                for (size_t k = 0; k < row; ++k) d[k] = uint8_t(int(v[k] * 127.f) & 0xff);
                const uint16_t scale = fp32_to_fp16(0.001f);
                const size_t at = t == GgmlType::Q4_K ? 0 : offsetof(BlockQ6_K, d);
                for (size_t k = 0; k < row / layout->block_bytes; ++k)
                    std::memcpy(d + k * layout->block_bytes + at, &scale, 2);
            }
        }
        WeightMatrix v;
        v.dtype = DType::Ggml;
        v.rows = m->rows;
        v.cols = m->cols;
        v.ggml_type = t;
        out->blocks.push_back(std::move(b));
        out->views.push_back(v);
    }
    if (out->views.empty())
        throw InputError(std::string("--type ") + ggml_type_name(uint32_t(t)) + ": no matrix of this model is a whole " +
                         "number of its blocks wide (" + std::to_string(block_layout(uint32_t(t))->block_elems) + ")");
    for (size_t i = 0; i < out->views.size(); ++i) out->views[i].blocks = out->blocks[i].data();
    return out;
}

// BACKEND/TYPE/matmul/COLS->ROWS for each backend whose matmul takes these blocks (one that
// throws on a first call is skipped with a line).
void register_ggml_matmuls(const std::shared_ptr<Backend>& b, const std::shared_ptr<GgmlMatrices>& mats,
                           const std::string& type_name, double bw) {
    for (const WeightMatrix& m : mats->views) {
        auto x = random_vector(size_t(m.cols), 1);
        std::vector<float> out(size_t(m.rows));
        try {
            b->matmul(out.data(), x.data(), m);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "skipping %s/%s matmuls: %s\n", b->name().c_str(), type_name.c_str(), e.what());
            return;
        }
        const std::string label = std::to_string(m.cols) + "->" + std::to_string(m.rows);
        add(b->name() + "/" + type_name + "/matmul/" + label, [b, mats, m, bw](benchmark::State& st) {
            auto xv = random_vector(size_t(m.cols), 1);
            std::vector<float> o(size_t(m.rows));
            const auto t0 = Clock::now();
            for (auto _ : st) {
                b->matmul(o.data(), xv.data(), m);
                benchmark::DoNotOptimize(o.data());
                benchmark::ClobberMemory();
            }
            set_counters(st, t0, double(m.bytes()) + 4.0 * (m.cols + m.rows), 2.0 * double(m.numel()), bw);
        });
    }
}

// A model written by `write` to a temporary file that is unlinked as soon as it is mapped.
template <class Write>
Model open_temporary(Write&& write) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/lhb-ops-XXXXXX";
    int fd = mkstemp(tmpl.data());
    if (fd < 0) throw InputError(tmpl + ": cannot create a temporary file for the model");
    close(fd);
    try {
        write(tmpl);
        Model m = Model::open(tmpl);
        unlink(tmpl.c_str());
        return m;
    } catch (...) {
        unlink(tmpl.c_str());
        throw;
    }
}

// The backends `name` selects ("all": every one available here), each loaded with `model`.
// With "all", one that is not available or cannot load this model is skipped with a line
// (the unavailable ones only once, on the first precision: `say_unavailable`).
std::vector<std::shared_ptr<Backend>> load_backends(const std::string& name, const BackendOptions& options,
                                                    const Model& model, bool say_unavailable) {
    std::vector<std::shared_ptr<Backend>> backends;
    for (const BackendFactory* f : BackendRegistry::all()) {
        if (name != "all" && f->name != name) continue;
        Availability a = f->available ? f->available(options) : Availability{};
        if (!a.available) {
            if (name != "all") throw InputError("backend '" + f->name + "': not available here: " + a.reason);
            if (say_unavailable) std::fprintf(stderr, "skipping %s: %s\n", f->name.c_str(), a.reason.c_str());
            continue;
        }
        std::shared_ptr<Backend> b = f->create(options);
        try {
            b->load(model);
        } catch (const InputError& e) {
            if (name != "all") throw;
            std::fprintf(stderr, "skipping %s at %s: %s\n", f->name.c_str(), dtype_name(model.dtype()), e.what());
            continue;
        }
        backends.push_back(b);
    }
    return backends;
}

int run_ops(int argc, char** argv) {
    std::string backend_name = "all", model_path, shape, precision, type_name;
    BackendOptions options;
    double bandwidth_seconds = 0.5;
    int group = 0;
    std::vector<char*> gb_args = {argv[0]};
    FlagParser flags(kUsage);
    flags.pass_through("--benchmark_", gb_args)
        .text({"--backend"}, backend_name)
        .text({"--model"}, model_path)
        .text({"--shape"}, shape)
        .integer({"--threads"}, options.threads)
        .text({"--precision"}, precision)
        .integer({"--group"}, group)
        .number({"--bandwidth-seconds"}, bandwidth_seconds)
        .text({"--type"}, type_name);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (!model_path.empty() && !shape.empty()) throw InputError("--model and --shape: give one, not both");
    if (options.threads < 0) throw InputError("--threads: expected 0 (all cores) or more, found " + std::to_string(options.threads));
    if (!(bandwidth_seconds > 0 && bandwidth_seconds <= 60))
        throw InputError("--bandwidth-seconds: expected a number in (0, 60]");
    if (!precision.empty() && precision != "fp32" && precision != "int8" && precision != "all")
        throw InputError("--precision: expected fp32, int8 or all, found '" + precision + "'");

    std::optional<GgmlType> ggml_type;
    if (!type_name.empty()) {
        for (auto [name, t] : {std::pair{"q8_0", GgmlType::Q8_0}, std::pair{"q4_0", GgmlType::Q4_0},
                               std::pair{"q4_k", GgmlType::Q4_K}, std::pair{"q6_k", GgmlType::Q6_K},
                               std::pair{"f16", GgmlType::F16}})
            if (type_name == name) ggml_type = t;
        if (!ggml_type) throw InputError("--type: expected q8_0, q4_0, q4_k, q6_k or f16, found '" + type_name + "'");
    }

    if (backend_name != "all" && !BackendRegistry::find(backend_name))
        BackendRegistry::create(backend_name, options);  // throws: unknown, with the known names

    int gb_argc = int(gb_args.size());
    gb_args.push_back(nullptr);
    benchmark::Initialize(&gb_argc, gb_args.data());
    if (benchmark::ReportUnrecognizedArguments(gb_argc, gb_args.data())) return 1;

    // The model: a real checkpoint, or synthetic weights of a named shape.
    std::string model_label;
    Model model = [&] {
        if (!model_path.empty()) {
            model_label = model_path;
            return Model::open(model_path);
        }
        if (shape.empty()) shape = "stories15M";
        ModelConfig c = parse_shape(shape);
        model_label = shape + " (synthetic weights, seed 1)";
        return open_temporary([&](const std::string& path) { write_synthetic_model(c, path, 1); });
    }();

    // The precisions: the model's own by default. int8 from fp32 weights: quantized (runq's
    // Q8_0) into another temporary file.
    const bool file_is_int8 = model.dtype() == DType::Q8_0;
    if (precision.empty()) precision = file_is_int8 ? "int8" : "fp32";
    const bool want_fp32 = precision != "int8", want_int8 = precision != "fp32";
    if (want_fp32 && file_is_int8)
        throw InputError(model_path + ": an int8 (version-2) checkpoint; --precision " + precision +
                         " needs fp32 weights (give an fp32 checkpoint or --precision int8)");
    if (ggml_type && file_is_int8)
        throw InputError(model_path + ": an int8 (version-2) checkpoint; --type needs fp32 weights to convert");
    if (group != 0 && (!want_int8 || file_is_int8))
        throw InputError("--group: only when int8 weights are made from fp32 ones (--precision int8 or all)");
    std::optional<Model> q8;
    std::string q8_label;
    if (want_int8 && !file_is_int8) {
        const int gs = group ? group : default_group_size(model.config());
        q8 = open_temporary([&](const std::string& path) { write_q8_model(model, path, gs); });  // checks --group
        q8_label = model_label + ", int8 (Q8_0, group size " + std::to_string(gs) + ", quantized in memory)";
    } else if (file_is_int8) {
        q8_label = model_label + ", int8 (Q8_0, group size " + std::to_string(model.weights().wcls.group_size) + ")";
    }

    struct PrecisionRun {
        const Model* model;
        std::string tag, label;
    };
    std::vector<PrecisionRun> runs;
    if (want_fp32) runs.push_back({&model, "", model_label});
    if (want_int8) runs.push_back({q8 ? &*q8 : &model, "int8/", q8_label});

    std::vector<Setup> setups;
    std::vector<std::vector<std::shared_ptr<Backend>>> backends_per_run;
    bool any = false;
    char line[256];
    for (size_t r = 0; r < runs.size(); ++r) {
        const PrecisionRun& run = runs[r];
        std::vector<std::shared_ptr<Backend>> backends = load_backends(backend_name, options, *run.model, r == 0);
        any = any || !backends.empty();
        backends_per_run.push_back(backends);

        const Model& m = *run.model;
        const Bandwidth bw = measure_read_bandwidth(options.threads, m.weight_bytes_per_token(), bandwidth_seconds);
        const std::string key = run.tag.empty() ? "" : "int8_";
        std::snprintf(line, sizeof line,
                      "%.2f GB/s (measured: %d threads reading a %.1f MB buffer, the model's weights; best of %d "
                      "passes, median %.2f GB/s)",
                      bw.bytes_per_second / 1e9, bw.threads, double(bw.buffer_bytes) / 1e6, bw.passes,
                      bw.median_bytes_per_second / 1e9);
        benchmark::AddCustomContext(key + "model", run.label);
        benchmark::AddCustomContext(key + "read_bandwidth", line);
        std::snprintf(line, sizeof line, "%.1f tok/s at pos 0 (%.1f MB per token)",
                      roofline_tok_per_s(double(bytes_per_token(m, 0)), bw.bytes_per_second),
                      double(bytes_per_token(m, 0)) / 1e6);
        benchmark::AddCustomContext(key + "roofline", line);
        setups.push_back(Setup{&m, bw.bytes_per_second, run.tag, r > 0});
    }
    if (!any) BackendRegistry::create(backend_name, options);  // throws the one-line reason
    benchmark::AddCustomContext("threads", options.threads ? std::to_string(options.threads) : "all cores");

    for (size_t r = 0; r < runs.size(); ++r)
        for (auto& b : backends_per_run[r]) register_backend(b, setups[r]);
    if (ggml_type) {
        const auto mats = ggml_matrices(model, *ggml_type);
        for (auto& b : backends_per_run[0]) register_ggml_matmuls(b, mats, type_name, setups[0].bandwidth);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    benchmark::ClearRegisteredBenchmarks();
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(ops, Command{"ops", "Google Benchmark microbenchmarks of each op at a model's shapes", run_ops})

}  // namespace lhb::bench

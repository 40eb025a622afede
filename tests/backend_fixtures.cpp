#include "tests/backend_fixtures.hpp"

#include <algorithm>
#include <stdexcept>
#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "core/correctness.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "tests/expected_cases.hpp"

namespace lhb::test {

std::unique_ptr<HlsDeviceBackend> make_hls_csim(bool fused) {
    BackendOptions o;
    o.fused = fused;
    return make_hls_csim_backend(o);
}

OpenMpAndCpuRef::OpenMpAndCpuRef(const Model& model, int threads)
    : fused(threads, true, 0), unfused(threads, false, 0) {
    fused.load(model);
    unfused.load(model);
    ref.load(model);
    EXPECT_EQ(fused.forward_threads(), threads);
}

void expect_llama2c_greedy_text(const std::string& backend_args) {
    auto runs = load_expected_runs(model_path("expected-stories260K.txt"));
    ASSERT_FALSE(runs.cases.empty());
    const ExpectedCase& c = runs.cases.front();
    ASSERT_EQ(c.args, "-z tok512.bin -t 0 -n 200");
    auto r = run_bench("generate '" + model_path("stories260K.bin") + "' -z '" + model_path("tok512.bin") +
                       "' -t 0 -n 200 " + backend_args);
    EXPECT_EQ(r.exit_code, 0) << backend_args << ": " << r.err;
    EXPECT_EQ(r.out, c.stdout_text) << backend_args;
}

std::string stories260k_int8_generate_args(const TempDir& tmp, int n) {
    auto q = run_bench("quantize '" + model_path("stories260K.bin") + "' '" + tmp.file("q8.bin") + "' --group 4");
    if (q.exit_code != 0) throw std::runtime_error("bench quantize failed: " + q.err);
    return "generate '" + tmp.file("q8.bin") + "' -z '" + model_path("tok512.bin") + "' -t 0 -n " +
           std::to_string(n) + " --backend ";
}

WeightMatrix q8_view(int rows, int cols, const int8_t* q, const float* scales, int gs) {
    WeightMatrix w;
    w.dtype = DType::Q8_0;
    w.rows = rows;
    w.cols = cols;
    w.q = q;
    w.scales = scales;
    w.group_size = gs;
    return w;
}

Q8Matrix::Q8Matrix(int rows, int cols, int gs, std::mt19937& rng, int qmin, int qmax) {
    q.resize(size_t(rows) * size_t(cols));
    s.resize(q.size() / size_t(gs));
    std::uniform_int_distribution<int> qd(qmin, qmax);
    std::uniform_real_distribution<float> sd(0.2f, 1.0f);
    for (auto& v : q) v = int8_t(qd(rng));
    for (auto& v : s) v = sd(rng) / 127.0f / std::sqrt(float(cols));
    view = q8_view(rows, cols, q.data(), s.data(), gs);
}

std::string q8_model(const TempDir& tmp, const std::string& shape, int gs, const std::string& name, uint64_t seed) {
    const std::string fp = tmp.file(name + ".f32.bin"), q8 = tmp.file(name + ".q8.bin");
    write_synthetic_model(parse_shape(shape), fp, seed);
    write_q8_model(Model::open(fp), q8, gs);
    return q8;
}

size_t expect_all_ops_pass(Backend& candidate, const ModelConfig& c, size_t matmul_shapes, uint64_t seed) {
    CpuRefBackend ref;
    auto checks = check_ops(candidate, ref, c, seed);
    size_t matmuls = 0;
    for (const OpCheck& o : checks) {
        EXPECT_TRUE(o.pass) << o.op << " " << o.shape << ": " << o.note << " (max abs " << o.max_abs_err
                            << ", max rel " << o.max_rel_err << ")";
        EXPECT_EQ(o.non_finite, 0) << o.op << " " << o.shape;
        matmuls += o.op == "matmul";
    }
    EXPECT_EQ(matmuls, matmul_shapes);
    return checks.size();
}

double max_logit_error(Backend& cand, Backend& ref, int steps, int* agreeing) {
    const int vocab = ref.model()->config().vocab_size;
    int token = 1, agree = 0;
    double worst = 0;
    bool prefix = true;
    for (int pos = 0; pos < steps; ++pos) {
        const float* a = cand.forward(token, pos);
        const std::vector<float> av(a, a + vocab);  // a backend may reuse its buffer
        const float* b = ref.forward(token, pos);
        for (int i = 0; i < vocab; ++i) {
            EXPECT_TRUE(std::isfinite(av[size_t(i)])) << "pos " << pos << " logit " << i;
            worst = std::max(worst, std::fabs(double(av[size_t(i)]) - double(b[i])));
        }
        const int next = int(std::max_element(b, b + vocab) - b);
        prefix = prefix && int(std::max_element(av.begin(), av.end()) - av.begin()) == next;
        agree += prefix;
        token = next;
    }
    if (agreeing) *agreeing = agree;
    return worst;
}

std::vector<int> prompt_of(int n, int vocab, int seed) {
    std::vector<int> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) t[size_t(i)] = (i == 0) ? 1 : (seed * 7919 + i * 104729) % vocab;
    return t;
}

std::vector<float> token_by_token(const Model& m, const std::vector<int>& tokens) {
    CpuRefBackend b;
    b.load(m);
    const size_t vocab = size_t(m.config().vocab_size);
    std::vector<float> out(tokens.size() * vocab);
    for (size_t i = 0; i < tokens.size(); ++i)
        std::memcpy(out.data() + i * vocab, b.forward(tokens[i], int(i)), vocab * sizeof(float));
    return out;
}

}  // namespace lhb::test

#include "tests/backend_fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/correctness.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"

namespace lhb::test {

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

}  // namespace lhb::test

#pragma once
// Point-by-point comparison of two results documents (bench compare).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lhb::bench {

struct PointComparison {
    std::string id;
    std::optional<double> a_decode, b_decode, a_prefill, b_prefill;
    double decode_ratio = 0, prefill_ratio = 0;  // B / A (0: not comparable)
    double noise = 0;  // threshold used: max(3 * sqrt(cv_a^2 + cv_b^2), kMinChange)
    std::string flag;  // "", "faster", "slower", "correctness lost", "correctness fixed"
};

struct Comparison {
    std::vector<PointComparison> points;
    std::vector<std::string> only_in_a, only_in_b;
    std::vector<std::string> notes;  // environment differences worth knowing
    int regressions = 0;             // "slower" or "correctness lost"
};

constexpr double kMinChange = 0.01;  // CV from a few repetitions underestimates noise

Comparison compare_results(const nlohmann::json& a, const nlohmann::json& b);
std::string comparison_markdown(const Comparison& c, const std::string& a_name, const std::string& b_name);

}  // namespace lhb::bench

#include "core/nearest_name.hpp"

#include <algorithm>

namespace lhb {

int edit_distance(const std::string& a, const std::string& b) {
    std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = int(j);
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = int(i);
        for (size_t j = 1; j <= b.size(); ++j) {
            int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    int best_d = 1 << 30;
    for (const auto& c : candidates) {
        int d = edit_distance(word, c);
        if (d < best_d) best_d = d, best = c;
    }
    // A typo changes a few characters; beyond a third of the word it is another word.
    int limit = std::max(2, int(std::max(word.size(), best.size())) / 3);
    return best_d <= limit ? best : std::string();
}

}  // namespace lhb

#pragma once
// "Did you mean": the valid name nearest to a misspelt one, for messages about unknown keys
// and names (configs, board and design files, backends).
#include <string>
#include <vector>

namespace lhb {

// Levenshtein distance.
int edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` if it is plausibly a typo of it, else "".
std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace lhb

// The layers of docs/architecture.md and who may include whom, checked on the sources: a
// project include ("folder/file") from a folder it may not reach fails here, naming the
// file and line. Third-party headers (<...>) are not the layers' concern.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;

namespace {

// Each layer and the layers its files may include (itself included). Mirrors the table in
// docs/architecture.md.
const std::map<std::string, std::set<std::string>>& allowed_includes() {
    static const std::map<std::string, std::set<std::string>> rules = {
        {"kernels", {"kernels"}},
        {"core", {"core"}},
        {"host", {"host", "core", "kernels"}},
        {"backends", {"backends", "host", "core", "kernels"}},
        {"bench", {"bench", "host", "core"}},
    };
    return rules;
}

struct Violation {
    std::string file;
    int line;
    std::string include;
};

// The project includes of one file that its layer may not reach.
std::vector<Violation> violations_in(const fs::path& file, const std::string& rel, const std::set<std::string>& allowed) {
    static const std::regex include_re(R"re(^\s*#\s*include\s*"([^"/]+)/[^"]*")re");
    std::vector<Violation> out;
    std::ifstream in(file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if (std::regex_search(line, m, include_re) && !allowed.count(m[1].str()))
            out.push_back({rel, n, m[1].str()});
    }
    return out;
}

std::vector<Violation> violations_under(const fs::path& root, const std::string& layer, const std::set<std::string>& allowed) {
    std::vector<Violation> out;
    for (const auto& e : fs::recursive_directory_iterator(root / layer)) {
        const std::string ext = e.path().extension().string();
        if (!e.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".h")) continue;
        for (auto& v : violations_in(e.path(), fs::relative(e.path(), root).string(), allowed)) out.push_back(v);
    }
    return out;
}

}  // namespace

TEST(Layers, EveryProjectIncludeStaysWithinItsLayersRules) {
    const fs::path root = lhb::test::source_dir();
    size_t files_seen = 0;
    for (const auto& [layer, allowed] : allowed_includes()) {
        ASSERT_TRUE(fs::is_directory(root / layer)) << layer;
        for (const auto& e : fs::recursive_directory_iterator(root / layer)) files_seen += e.is_regular_file();
        for (const Violation& v : violations_under(root, layer, allowed))
            ADD_FAILURE() << v.file << ":" << v.line << ": includes \"" << v.include << "/...\", which " << layer
                          << "/ may not include (docs/architecture.md)";
    }
    EXPECT_GT(files_seen, 100u);
}

TEST(Layers, TheCheckCatchesAnIncludeAcrossLayers) {
    lhb::test::TempDir tmp;
    fs::create_directories(tmp.file("kernels"));
    lhb::test::write_file(tmp.file("kernels/bad.hpp"),
                          "#pragma once\n#include \"kernels/ok.hpp\"\n  #  include \"host/packing.hpp\"\n#include <vector>\n");
    const auto v = violations_under(tmp.path, "kernels", allowed_includes().at("kernels"));
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].line, 3);
    EXPECT_EQ(v[0].include, "host");
}

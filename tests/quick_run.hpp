#pragma once
// One `bench run configs/quick.json` shared by every test of a suite (it takes seconds, not
// minutes). A suite derives from QuickRunSuite<Itself> and names the run's extra flags in
// kRunFlags; each suite gets its own run and output folder.
#include <string>

#include "tests/test_support.hpp"

namespace lhb::test {

template <typename Suite>
class QuickRunSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        result_ = new CommandResult(run_bench("run '" + source_dir() + "/configs/quick.json' --out '" + dir_->path +
                                              "'" + Suite::kRunFlags));
    }
    static void TearDownTestSuite() {
        delete result_;
        delete dir_;
        result_ = nullptr;
        dir_ = nullptr;
    }
    static std::string file(const std::string& name) { return dir_->file(name); }
    static inline TempDir* dir_ = nullptr;
    static inline CommandResult* result_ = nullptr;
};

}  // namespace lhb::test

// Run-time data (core/data_files.hpp): a bench copied elsewhere, as onto a board, finds its
// board files beside itself and says where it looked when they are not there; nothing of
// the source tree is compiled into it.
#include <cstdlib>
#include <filesystem>

#include "core/data_files.hpp"
#include "core/error.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

namespace fs = std::filesystem;

// build/bench copied into a fresh folder, run with no $LHB_DATA_DIR.
struct CopiedBench {
    test::TempDir dir;
    std::string exe = dir.file("bench");
    CopiedBench() { fs::copy_file(LHB_BENCH_EXE, exe); }
    test::CommandResult run(const std::string& args, const std::string& env = "env -u LHB_DATA_DIR") const {
        return test::run_shell(env + " '" + exe + "' " + args);
    }
    void add_board_files() const {
        fs::create_directories(dir.file("configs"));
        fs::copy(test::source_dir() + "/configs/boards", dir.file("configs/boards"), fs::copy_options::recursive);
    }
};

TEST(DataFiles, ACopiedBenchWithoutConfigsSaysWhereItLooked) {
    CopiedBench bench;
    auto r = bench.run("estimate --shape stories260K");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    for (const std::string& place : {std::string("$LHB_DATA_DIR (not set)"), bench.dir.file("configs/boards/zcu106.json")})
        EXPECT_NE(r.err.find(place), std::string::npos) << place << " not named in: " << r.err;

    r = bench.run("list");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("- beside the executable: " + bench.dir.path + " (nothing)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("configs/boards/zcu106.json: not found"), std::string::npos) << r.out;
}

TEST(DataFiles, ACopiedBenchFindsTheBoardFilesBesideIt) {
    CopiedBench bench;
    bench.add_board_files();
    auto r = bench.run("estimate --shape stories260K");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(bench.dir.file("configs/boards/zcu106.json")), std::string::npos) << r.out;

    r = bench.run("list");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("- beside the executable: " + bench.dir.path + " (configs/boards/zcu106.json)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("configs/boards/zcu106.json: " + bench.dir.file("configs/boards/zcu106.json")), std::string::npos) << r.out;
}

TEST(DataFiles, LhbDataDirComesFirst) {
    CopiedBench bench;
    bench.add_board_files();
    test::TempDir data;
    fs::create_directories(data.file("configs/boards"));
    std::string board = test::read_file(test::source_dir() + "/configs/boards/zcu106.json");
    const std::string name = "\"name\": \"ZCU106\"";
    ASSERT_NE(board.find(name), std::string::npos);
    board.replace(board.find(name), name.size(), "\"name\": \"ZCU106 from LHB_DATA_DIR\"");
    test::write_file(data.file("configs/boards/zcu106.json"), board);
    auto r = bench.run("estimate --shape stories260K", "LHB_DATA_DIR='" + data.path + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("ZCU106 from LHB_DATA_DIR"), std::string::npos) << r.out;
    r = bench.run("list", "LHB_DATA_DIR='" + data.path + "'");
    EXPECT_NE(r.out.find("- $LHB_DATA_DIR: " + data.path + " (configs/boards/zcu106.json)"), std::string::npos) << r.out;
}

// After the executable's folders, the folder holding the config's configs/ (a checkout).
TEST(DataFiles, TheConfigsParentFolderIsSearchedLast) {
    test::TempDir tree;
    fs::create_directories(tree.file("configs"));
    fs::create_directories(tree.file("tools"));
    test::write_file(tree.file("tools/only-in-this-tree.py"), "#\n");
    const auto dirs = data_dirs(tree.file("configs"));
    ASSERT_FALSE(dirs.empty());
    EXPECT_EQ(dirs.back().path, tree.path);
    EXPECT_EQ(find_data_file("tools/only-in-this-tree.py", tree.file("configs")), tree.file("tools/only-in-this-tree.py"));
    EXPECT_EQ(find_data_file("tools/only-in-this-tree.py"), "");
    try {
        require_data_file("tools/missing.py", "the script", tree.file("configs"));
        ADD_FAILURE() << "found a missing file";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(tree.file("tools/missing.py")), std::string::npos) << e.what();
    }
}

// The binary names no file of the source tree it was built from.
TEST(DataFiles, TheBinaryHoldsNoSourceTreePath) {
    const std::string binary = test::read_file(LHB_BENCH_EXE);
    ASSERT_FALSE(binary.empty());
    for (const std::string& path : {test::source_dir() + "/configs", test::source_dir() + "/tools/report.py"})
        EXPECT_EQ(binary.find(path), std::string::npos) << path << " is compiled into bench";
}

}  // namespace
}  // namespace lhb

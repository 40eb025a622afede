#pragma once
// The data `bench` ships with (board files, tools/report.py), found at run time. No source
// path is compiled into the binary, so a bench copied to a board with configs/ beside it
// finds its board files there, and build/bench finds the checkout it was built in.
#include <string>
#include <vector>

namespace lhb {

// A folder that may hold the data, and why it is searched.
struct DataDir {
    std::string path;  // "" when the place does not apply (e.g. $LHB_DATA_DIR unset)
    std::string why;   // "$LHB_DATA_DIR", "beside the executable", ...
};

// The folders searched, in order: $LHB_DATA_DIR; the running executable's folder; its parent
// and grandparent (build/bench and build/tests/lhb_tests -> the checkout); the parent of
// `config_dir` when given (configs/x.json -> the folder holding configs/).
std::vector<DataDir> data_dirs(const std::string& config_dir = "");

// `relative` (e.g. "configs/boards/zcu106.json") in the first folder that has it; "" if none.
std::string find_data_file(const std::string& relative, const std::string& config_dir = "");

// find_data_file, or an InputError naming `what` and every place looked.
std::string require_data_file(const std::string& relative, const std::string& what,
                              const std::string& config_dir = "");

// The same for a folder of data files (configs/published).
std::string require_data_folder(const std::string& relative, const std::string& what);

// Every data file bench looks for, relative to a data folder (what `bench list` reports).
inline constexpr const char* kDefaultBoardFile = "configs/boards/zcu106.json";
inline constexpr const char* kReportScript = "tools/report.py";

}  // namespace lhb

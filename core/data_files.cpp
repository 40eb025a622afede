#include "core/data_files.hpp"

#include <cstdlib>
#include <filesystem>

#include "core/error.hpp"

namespace fs = std::filesystem;

namespace lhb {

std::vector<DataDir> data_dirs(const std::string& config_dir) {
    std::vector<DataDir> dirs;
    const char* env = std::getenv("LHB_DATA_DIR");
    dirs.push_back({env && *env ? std::string(env) : std::string(), "$LHB_DATA_DIR"});
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    const fs::path here = ec ? fs::path() : exe.parent_path();
    dirs.push_back({here.string(), "beside the executable"});
    dirs.push_back({here.empty() ? "" : here.parent_path().string(), "the executable's parent folder"});
    dirs.push_back({here.empty() ? "" : here.parent_path().parent_path().string(), "its grandparent"});
    if (!config_dir.empty()) {
        fs::path config = fs::absolute(config_dir, ec).lexically_normal();
        if (!config.has_filename()) config = config.parent_path();  // "configs/"
        dirs.push_back({config.parent_path().string(), "the config's parent folder"});
    }
    return dirs;
}

namespace {

// The first data folder holding `relative` as a regular file, or as a folder; "" if none.
std::string find_data(const std::string& relative, const std::string& config_dir, bool folder) {
    for (const DataDir& d : data_dirs(config_dir)) {
        if (d.path.empty()) continue;
        const fs::path p = fs::path(d.path) / relative;
        std::error_code ec;
        if (folder ? fs::is_directory(p, ec) : fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    }
    return "";
}

std::string require_data(const std::string& relative, const std::string& what, const std::string& config_dir,
                         bool folder) {
    std::string found = find_data(relative, config_dir, folder);
    if (!found.empty()) return found;
    std::string looked;
    for (const DataDir& d : data_dirs(config_dir)) {
        if (!looked.empty()) looked += ", ";
        looked += d.path.empty() ? d.why + " (not set)" : (fs::path(d.path) / relative).lexically_normal().string();
    }
    throw InputError(what + " " + relative + " not found; looked in " + looked +
                     " (copy configs/ beside bench, or set LHB_DATA_DIR to the folder holding it)");
}

}  // namespace

std::string find_data_file(const std::string& relative, const std::string& config_dir) {
    return find_data(relative, config_dir, false);
}

std::string require_data_file(const std::string& relative, const std::string& what, const std::string& config_dir) {
    return require_data(relative, what, config_dir, false);
}

std::string require_data_folder(const std::string& relative, const std::string& what) {
    return require_data(relative, what, "", true);
}

}  // namespace lhb

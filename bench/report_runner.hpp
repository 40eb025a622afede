#pragma once
// Runs tools/report.py (PNG plots and index.html, issue 7) on a results file.
#include <string>

namespace lhb::bench {

// tools/report.py: $LHB_REPORT_SCRIPT, else the data lookup of core/data_files.hpp with
// `fallback_dir` as the config's folder (`fallback_dir`/../tools/report.py last). "" if none.
std::string find_report_script(const std::string& fallback_dir);

// Runs the script with /usr/bin/python3 ($LHB_PYTHON overrides) on `results_json`; its
// output goes to stderr. Returns its exit status (3: matplotlib missing; -1: could not run).
int run_report_script(const std::string& script, const std::string& results_json);

}  // namespace lhb::bench

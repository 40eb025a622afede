// bench print RESULTS.json -o FMT: an existing results file in one of llama-bench's output
// formats (bench/formats.hpp).
#include <cstdio>
#include <string>

#include "bench/command.hpp"
#include "bench/formats.hpp"
#include "bench/results.hpp"
#include "core/error.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench print RESULTS.json [-o md|csv|json|jsonl|sql]\n"
    "Prints the rows of a results file (bench run or bench merge) on stdout:\n"
    "  md     the results table and its notes (default; what bench run prints)\n"
    "  csv    one line per row, llama-bench's field names (build_commit, cpu_info, model_type,\n"
    "         n_threads, n_prompt, n_gen, avg_ts, stddev_ts, ...) then this project's\n"
    "  json   an array of those rows;  jsonl: one row per line\n"
    "  sql    CREATE TABLE test + INSERTs, for sqlite3 (bench print r.json -o sql | sqlite3 db)\n"
    "docs/results-schema.md, \"Output formats\", lists every field.\n";

int run_print(int argc, char** argv) {
    std::vector<std::string> files;
    std::string format_name = "md";
    FlagParser flags(kUsage);
    flags.text({"-o", "--output-format"}, format_name).positionals(files, 1);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.size() != 1) return flags.usage_error();
    const OutputFormat format = parse_output_format(format_name);
    std::fputs(print_results(load_results(files[0]), format).c_str(), stdout);
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(print, Command{"print", "print a results file as md, csv, json, jsonl or sql (llama-bench's formats)", run_print})

}  // namespace lhb::bench

// bench merge A.json B.json ... -o OUT.json: the rows of several runs (hosts, boards) in one
// results document, each row keeping its host and run, each run its environment
// (docs/scale-out.md). Merging is concatenation: associative, and every row is kept.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>

#include "bench/command.hpp"
#include "bench/result_row.hpp"
#include "bench/results.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace lhb::bench {
namespace {

using nlohmann::json;

const char* kUsage =
    "Usage: bench merge A.json B.json ... -o OUT.json\n"
    "Writes one results document holding every row of the inputs (results files of bench run\n"
    "or of bench merge, schema versions 1 to 3). Each row keeps its host and run, each run\n"
    "its environment (runs[]); bench report shows the hosts side by side and bench compare\n"
    "pairs rows by host too. merge(merge(A, B), C) = merge(A, merge(B, C)).\n"
    "Refused: a run found twice (a file merged twice), published figures of the same label\n"
    "that disagree, an OUT that is one of the inputs.\n"
    "  -o OUT.json  the merged document (written atomically; never clobbers a non-file)\n";

// A run of one input, with what the document says about it beside its environment.
json run_of(const json& doc, const std::string& file) {
    json run = runs_of(doc).at(0);
    run["file"] = file;
    run["config_file"] = at_path(doc, {"config", "file"});
    run["board"] = at_path(doc, {"board", "name"});
    return run;
}

// The same published figure (label) seen by several runs must be the same figure; the
// models it applies to are the union.
void add_published(json& merged, const json& figure, const std::string& file) {
    for (json& p : merged) {
        if (p["backend"] != figure["backend"]) continue;
        json a = p, b = figure;
        a.erase("applies_to_models"), b.erase("applies_to_models");
        if (a != b)
            throw InputError(file + ": /published: the figure " + figure["backend"].dump() +
                             " differs from the one of an earlier input; merge runs that quote the same figures");
        const json& applies = at_path(figure, {"applies_to_models"});
        for (size_t i = 0; applies.is_array() && i < applies.size(); ++i)
            if (std::find(p["applies_to_models"].begin(), p["applies_to_models"].end(), applies[i]) ==
                p["applies_to_models"].end())
                p["applies_to_models"].push_back(applies[i]);
        return;
    }
    json f = figure;
    if (!f.contains("applies_to_models") || !f["applies_to_models"].is_array()) f["applies_to_models"] = json::array();
    merged.push_back(f);
}

json merge_documents(const std::vector<std::string>& files) {
    json merged = {{"schema", "llama-hls-bench/results"},
                   {"schema_version", kResultsSchemaVersion},
                   {"name", "merged"},
                   {"complete", true},
                   {"interrupted", false},
                   {"runs", json::array()},
                   {"models", json::array()},
                   {"published", json::array()},
                   {"rows", json::array()}};
    std::set<std::string> run_keys;
    std::string started, finished;
    for (const std::string& file : files) {
        json doc = load_results(file);  // rows normalized: host, run, unstable
        const json runs = doc.contains("runs") ? doc["runs"] : json::array({run_of(doc, file)});
        for (const json& run : runs) {
            const std::string key = run["run"].get<std::string>();
            if (!run_keys.insert(key).second)
                throw InputError(file + ": the run " + key + " is already in an earlier input (a file merged twice?)");
            merged["runs"].push_back(run);
            const std::string run_started = text_of(at_path(run, {"started_at"}));
            if (started.empty() || run_started < started) started = run_started;
            finished = std::max(finished, text_of(at_path(run, {"finished_at"})));
        }
        if (!merged.contains("methodology") && doc.contains("methodology")) merged["methodology"] = doc["methodology"];
        if (at_path(doc, {"complete"}) != true) merged["complete"] = false;
        if (at_path(doc, {"interrupted"}) == true) merged["interrupted"] = true;
        const json& models = at_path(doc, {"models"});
        for (size_t i = 0; models.is_array() && i < models.size(); ++i) {
            if (!models[i].is_object()) throw InputError(file + ": /models/" + std::to_string(i) + ": expected a model object");
            json m = models[i];
            if (!m.contains("run")) m["run"] = runs[0]["run"];
            merged["models"].push_back(m);
        }
        const json& published = at_path(doc, {"published"});
        for (size_t i = 0; published.is_array() && i < published.size(); ++i)
            add_published(merged["published"], published[i], file);
        for (const json& r : doc["rows"]) merged["rows"].push_back(r);
    }
    merged["description"] = "bench merge of " + std::to_string(merged["runs"].size()) + " run(s)";
    merged["started_at"] = started;
    merged["finished_at"] = finished;
    merged["table"] = table_json(merged["published"], hosts_of(merged).size() > 1, has_energy(merged["rows"]));
    return merged;
}

int run_merge(int argc, char** argv) {
    std::vector<std::string> files;
    std::string out;
    FlagParser flags(kUsage);
    flags.text({"-o", "--out"}, out).positionals(files, 1000);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.empty() || out.empty()) return flags.usage_error();
    const json merged = merge_documents(files);
    // Rows of one run that share an identity (files before schema 3 gave fused and unfused
    // points one id) are all kept; say so.
    std::set<std::string> keys;
    for (const json& r : merged["rows"])
        if (!keys.insert(row_key(r, true) + text_of(r["run"])).second)
            std::fprintf(stderr, "warning: two rows %s in one run; both kept\n", row_label(r, true).c_str());
    write_file_atomically(out, merged.dump(2) + "\n");
    std::fprintf(stderr, "merged %zu run(s), %zu row(s), %zu host(s) into %s\n", merged["runs"].size(),
                 merged["rows"].size(), hosts_of(merged).size(), out.c_str());
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(merge, Command{"merge", "merge results files of several runs (hosts, boards) into one", run_merge})

}  // namespace lhb::bench

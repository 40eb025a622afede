#include "bench/fpga_view.hpp"

#include <algorithm>
#include <sstream>

#include "bench/result_row.hpp"
#include "core/backend.hpp"

using nlohmann::json;

namespace lhb::bench {

namespace {

std::string str(const json& j) { return text_of(j); }

// "1,234 / 1,728 (71%)": a resource's use against the device, or the use alone when the
// board file does not give the device's count.
std::string against(const json& used, const json& available) {
    if (!used.is_number()) return "-";
    std::string s = fixed(used.get<double>(), 0);
    if (available.is_number() && available.get<double>() > 0)
        s += " / " + fixed(available.get<double>(), 0) + " (" +
             fixed(100 * used.get<double>() / available.get<double>(), 0) + "%)";
    return s;
}

const json* row_by_id(const json& results, const json& id) {
    for (const json& r : at_path(results, {"rows"}))
        if (at_path(r, {"id"}) == id && at_path(r, {"kind"}) == "measured") return &r;
    return nullptr;
}

void resources_table(std::ostringstream& md, const json& res) {
    md << "| compute unit | DSP | BRAM36 | URAM | LUT | FF |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
    json units = at_path(res, {"compute_units"});
    if (!units.is_array()) units = json::array();
    units.push_back(at_path(res, {"xclbin"}));
    for (const json& u : units)
        md << "| " << str(at_path(u, {"unit"})) << " | " << against(at_path(u, {"dsp"}), at_path(res, {"dsp_available"}))
           << " | " << against(at_path(u, {"bram36"}), at_path(res, {"bram36_available"})) << " | "
           << against(at_path(u, {"uram"}), at_path(res, {"uram_available"})) << " | "
           << against(at_path(u, {"lut"}), at_path(res, {"lut_available"})) << " | "
           << against(at_path(u, {"ff"}), at_path(res, {"ff_available"})) << " |\n";
    md << "llama_forward " << (at_path(res, {"fits"}) == true ? "fits" : "DOES NOT FIT") << " the device; every unit in one xclbin "
       << (at_path(res, {"xclbin_fits"}) == true ? "fits" : "DOES NOT FIT") << ".\n";
}

// A prefill estimate (its detail names prompt_tokens) counts the cycles of the whole prompt,
// from its position on, not one token's.
void ops_table(std::ostringstream& md, const json& results, const json& r) {
    const json& detail = at_path(r, {"detail"});
    const json* sim = row_by_id(results, at_path(r, {"simulation", "row"}));
    const json& clock = at_path(detail, {"clock_mhz"});
    const bool prompt = at_path(detail, {"prompt_tokens"}).is_number();
    if (prompt)
        md << "| op | cycles of the " << str(at_path(detail, {"prompt_tokens"})) << "-token prompt (est., from position "
           << str(at_path(detail, {"pos"})) << ") | ms per token (est., board) | ms per token (C simulation, measured on "
           << "this host) |\n";
    else
        md << "| op | cycles per token (est., position " << str(at_path(detail, {"pos"}))
           << ") | ms per token (est., board) | ms per token (C simulation, measured on this host) |\n";
    md << "| --- | ---: | ---: | ---: |\n";
    for (int op = 0; op < kNumOps; ++op) {
        const char* name = op_name(Op(op));
        const json& cycles = at_path(detail, {"cycles_by_op_estimated", name});
        const json& est = at_path(r, {"op_ms_per_token", name});
        const json& csim = sim ? at_path(*sim, {"op_ms_per_token", name}) : json();
        md << "| " << name << " | " << (cycles.is_number() ? fixed(cycles.get<double>(), 0) : "-") << " | "
           << (est.is_number() ? num(est.get<double>()) : "-") << " | " << (csim.is_number() ? num(csim.get<double>()) : "-")
           << " |\n";
    }
    if (prompt)
        md << "(kernel clock " << str(clock) << " MHz; the prompt through llama_forward's prefill mode, "
           << str(at_path(detail, {"tokens_per_run"})) << " tokens a run)\n";
    else
        md << "(kernel clock " << str(clock) << " MHz; cycles from the estimate's middle decode position, ms the mean over "
              "the decode; C simulation runs the same kernels natively: its time is the host's, not the board's)\n";
}

}  // namespace

std::string fpga_view_markdown(const json& results) {
    std::ostringstream md;
    std::vector<std::string> shown;  // resources depend on the board and design only
    bool started = false;
    for (const json& r : at_path(results, {"rows"})) {
        if (at_path(r, {"kind"}) != "estimated" || !at_path(r, {"detail"}).is_object()) continue;
        const json& detail = at_path(r, {"detail"});
        if (!started) md << "\nFPGA view (estimated, not measured):\n";
        started = true;
        const std::string design = str(at_path(detail, {"board"})) + " / " + str(at_path(detail, {"design"}));
        // A prefill estimate carries only the design's totals: its resources are the decode
        // row's, shown with that row.
        const bool has_design = at_path(detail, {"design"}).is_string();
        if (has_design && std::find(shown.begin(), shown.end(), design) == shown.end()) {
            shown.push_back(design);
            md << "\nResources per compute unit against the device (estimated): " << design << "\n";
            resources_table(md, at_path(detail, {"resources_estimated"}));
        }
        md << "\n" << str(at_path(r, {"model"})) << " " << str(at_path(r, {"precision"})) << " → "
           << str(at_path(r, {"target"})) << ": estimated cycles per op beside C simulation\n";
        ops_table(md, results, r);
    }
    return md.str();
}

json validation_document(const std::vector<hls::PublishedCheck>& checks) {
    bool pass = true;
    json designs = json::array(), rows = json::array();
    for (const hls::PublishedCheck& c : checks) {
        pass = pass && c.pass();
        designs.push_back(c.to_json());
        rows.push_back(c.row_json());
    }
    return {{"schema", "lhb-validation/1"}, {"rows", rows}, {"designs", designs}, {"pass", pass}};
}

json validate_published_designs() {
    std::vector<hls::PublishedCheck> checks;
    for (const std::string& f : hls::published_files(hls::default_published_dir()))
        checks.push_back(hls::check_published(f));
    return validation_document(checks);
}

std::string validation_markdown(const json& doc) {
    std::ostringstream md;
    md << "\nEstimator validation (bench validate: estimated beside published):\n";
    for (const json& d : at_path(doc, {"designs"})) {
        const json& t = at_path(d, {"tok_per_s"});
        md << "- " << str(at_path(d, {"name"})) << " (" << str(at_path(d, {"board"})) << "): published "
           << num(at_path(t, {"published"}).is_number() ? at_path(t, {"published"}).get<double>() : 0) << " tok/s, estimated "
           << num(at_path(t, {"estimated"}).is_number() ? at_path(t, {"estimated"}).get<double>() : 0) << " tok/s, error "
           << fixed(at_path(t, {"error_percent"}).is_number() ? at_path(t, {"error_percent"}).get<double>() : 0, 1)
           << "%, band "
           << (at_path(t, {"band_percent"}).is_number() ? "+-" + fixed(at_path(t, {"band_percent"}).get<double>(), 0) + "%"
                                                        : std::string("reported"))
           << ": " << (at_path(d, {"pass"}) == true ? "pass" : "FAIL")
           << "\n";
    }
    return md.str();
}

}  // namespace lhb::bench

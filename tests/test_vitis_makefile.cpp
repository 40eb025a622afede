// kernels/vitis/Makefile end to end, without Vitis: the test writes stand-in `v++` and
// `platforminfo` programs that record each call and write the file it names with -o, runs
// every target (sw_emu, hw_emu, hw for every board, and package on the embedded ones), and
// checks every recorded command line against the v++ command-line reference (UG1393, "v++
// Command" and its option pages, Vitis 2022.x; UG1702 for later releases). What is checked,
// as documented there:
//  * exactly one of -c/--compile, -l/--link, -p/--package; -t/--target sw_emu|hw_emu|hw;
//    --platform (-f); every option one the reference lists for that step, its value as the
//    next word or after '=';
//  * compile: one -k/--kernel per call, naming an extern "C" top function of the source file
//    given (so a kernel renamed in kernels/llama_kernels.cpp and not in the Makefile fails);
//    --hls.clock <frequency_in_Hz>:<kernel>[,<kernel>...] naming that kernel; -I<dir> an
//    existing folder; -o a .xo;
//  * link: --config FILE whose lines are section heads or key=value; [connectivity] keys
//    nk=<kernel>:<count>:<cu>[,<cu>...] (count = number of names), sp=<cu>.<arg>:<memory>
//    (memory NAME, NAME[i] or NAME[i:j]), slr=<cu>:SLR<n>, naming only declared CUs;
//    --clock.freqHz <frequency_in_Hz>:<cu>[.<clk_pin>] (platforms with fixed clocks: the
//    embedded ones) or --kernel_frequency <MHz> | <id>:<MHz>[|<id>:<MHz>] (Alveo, scalable
//    clock 0); the inputs are .xo files that a compile of the same target and platform
//    wrote, one for every kernel the config instantiates; -o a .xclbin;
//  * package (embedded platforms; the non-Versal form `v++ -p -t T --platform P
//    input.xclbin -o output.xclbin --package.<options>`): --package.out_dir,
//    --package.rootfs and --package.kernel_image existing files, --package.sd_file existing
//    files (repeatable) including the xclbin and the host program, --package.boot_mode
//    sd|qspi|ospi; the one input is an xclbin that the link wrote;
//  * platforminfo -p <platform> before every link, and the Makefile stops when the link
//    config names a memory that is not an SP tag of the platform.
// Not checked, because nothing here can run them: synthesis, timing, the real platform.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_support.hpp"
#include "tests/vitis_sources.hpp"

namespace lhb {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kEmbedded = {"zcu106", "kv260"};
const std::vector<std::string> kAlveo = {"u250", "u280"};
const std::vector<std::string> kTargets = {"sw_emu", "hw_emu", "hw"};
constexpr int kFreqMhz = 300;

bool is_embedded(const std::string& board) {
    return std::find(kEmbedded.begin(), kEmbedded.end(), board) != kEmbedded.end();
}

// Boards whose fabric does not hold llama_forward beside the per-op kernels (the estimator's
// resources per compute unit): the per-op kernels are linked into llama_ops.xclbin from
// <board>_ops.cfg, so a build links twice.
bool has_ops_xclbin(const std::string& board) { return is_embedded(board); }
int links_of(const std::string& board) { return has_ops_xclbin(board) ? 2 : 1; }

// The platform each board is built for here, and the SP tags its stand-in platforminfo
// reports (embedded: the custom platforms the README describes; Alveo: DDR/HBM/PLRAM as the
// reference's platforminfo examples show).
struct StandInPlatform {
    std::string name;  // a path ending in .xpfm for embedded boards, a name for Alveo
    std::vector<std::string> tags;
};

// One run of a stand-in tool: where it ran and its arguments.
struct Call {
    std::string tool, cwd;
    std::vector<std::string> args;
};

Call parse_call(const std::string& text) {
    Call c;
    std::istringstream in(text);
    std::getline(in, c.tool);
    std::getline(in, c.cwd);
    for (std::string a; std::getline(in, a);) c.args.push_back(a);
    return c;
}

// A sandbox with the stand-in tools: bin/v++ and bin/platforminfo, each call recorded as
// calls/<tool>.NNNNNN (tool, cwd, one argument a line); v++ writes the same record into the
// file -o names (so the link can tell which compile wrote an .xo), and into
// <out_dir>/sd_card.img when it packages.
struct StandIns {
    test::TempDir dir;
    std::string bin() const { return dir.path + "/bin"; }
    std::string vpp() const { return bin() + "/v++"; }
    std::string platforminfo() const { return bin() + "/platforminfo"; }

    StandIns() {
        fs::create_directories(bin());
        fs::create_directories(dir.path + "/calls");
        fs::create_directories(dir.path + "/platforms");
        const std::string record =
            "rec=$(mktemp \"" + dir.path + "/calls/$(basename \"$0\").XXXXXX\")\n"
            "{ basename \"$0\"; pwd; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; } > \"$rec\"\n";
        write_script(vpp(), "#!/bin/sh\n" + record +
                                "out=; pkg=; prev=\n"
                                "for a in \"$@\"; do\n"
                                "  case \"$prev\" in -o|--output) out=$a;; --package.out_dir) pkg=$a;; esac\n"
                                "  case \"$a\" in --output=*) out=${a#--output=};; --package.out_dir=*) pkg=${a#*=};; esac\n"
                                "  prev=$a\n"
                                "done\n"
                                "if [ -n \"$out\" ]; then mkdir -p \"$(dirname \"$out\")\" && cp \"$rec\" \"$out\"; fi\n"
                                "if [ -n \"$pkg\" ]; then mkdir -p \"$pkg\" && cp \"$rec\" \"$pkg/sd_card.img\"; fi\n");
        write_script(platforminfo(), "#!/bin/sh\n" + record +
                                         "case \"$1\" in -p|--platform) ;; *) echo \"ERROR: platforminfo: no platform\" >&2; exit 1;; esac\n"
                                         "tags=\"" + dir.path + "/platforms/$(basename \"$2\" .xpfm).tags\"\n"
                                         "[ -f \"$tags\" ] || { echo \"ERROR: platform $2 not found\" >&2; exit 1; }\n"
                                         "printf '==================\\nMemory Information\\n==================\\n'\n"
                                         "while read -r t; do printf '  Bus SP Tag: %s\\n' \"$t\"; done < \"$tags\"\n");
    }

    StandInPlatform platform(const std::string& board, std::vector<std::string> tags) const {
        StandInPlatform p;
        p.tags = std::move(tags);
        const std::string stem = is_embedded(board) ? board + "_standin" : "xilinx_" + board + "_standin";
        p.name = is_embedded(board) ? dir.path + "/platforms/" + stem + ".xpfm" : stem;
        if (is_embedded(board)) test::write_file(p.name, "stand-in platform\n");
        std::string list;
        for (const auto& t : p.tags) list += t + "\n";
        test::write_file(dir.path + "/platforms/" + stem + ".tags", list);
        return p;
    }

    static void write_script(const std::string& path, const std::string& text) {
        test::write_file(path, text);
        ::chmod(path.c_str(), 0755);
    }

    std::vector<Call> calls() const {
        std::vector<std::string> files;
        for (const auto& e : fs::directory_iterator(dir.path + "/calls")) files.push_back(e.path().string());
        std::vector<Call> out;
        for (const auto& f : files) out.push_back(parse_call(test::read_file(f)));
        return out;
    }
    void forget_calls() const {
        for (const auto& e : fs::directory_iterator(dir.path + "/calls")) fs::remove(e.path());
    }
};

StandInPlatform default_platform(const StandIns& tools, const std::string& board) {
    if (is_embedded(board)) return tools.platform(board, {"HP0", "HP1", "HP2", "HP3", "HPC0", "HPC1"});
    if (board == "u280") return tools.platform(board, {"HBM", "DDR", "PLRAM"});
    return tools.platform(board, {"DDR", "PLRAM"});
}

// ---------------------------------------------------------------------------------------
// The checker: one v++ call against the reference.

// What the Makefile was asked for, which every call must carry.
struct Expected {
    std::string target, platform, board, host_exe;
    int freq_mhz = kFreqMhz;
    bool outputs_exist = true;  // false for `make -n`, where nothing was written
};

struct Option {
    const char* long_name;
    const char* short_name;  // nullptr: none
    bool takes_value;
    const char* steps;  // which of c(ompile), l(ink), p(ackage) the reference allows it in
};

// The options this Makefile may use, as the reference lists them.
const Option kOptions[] = {
    {"--compile", "-c", false, "c"},       {"--link", "-l", false, "l"},
    {"--package", "-p", false, "p"},       {"--target", "-t", true, "clp"},
    {"--platform", "-f", true, "clp"},     {"--save-temps", "-s", false, "clp"},
    {"--temp_dir", nullptr, true, "clp"},  {"--log_dir", nullptr, true, "clp"},
    {"--report_dir", nullptr, true, "clp"}, {"--output", "-o", true, "clp"},
    {"--config", nullptr, true, "clp"},    {"--include", "-I", true, "c"},
    {"--kernel", "-k", true, "c"},         {"--hls.clock", nullptr, true, "c"},
    {"--clock.freqHz", nullptr, true, "l"}, {"--kernel_frequency", nullptr, true, "l"},
    {"--package.out_dir", nullptr, true, "p"}, {"--package.rootfs", nullptr, true, "p"},
    {"--package.kernel_image", nullptr, true, "p"}, {"--package.sd_file", nullptr, true, "p"},
    {"--package.sd_dir", nullptr, true, "p"}, {"--package.boot_mode", nullptr, true, "p"},
    {"--package.image_format", nullptr, true, "p"},
};

struct ParsedCall {
    char step = 0;  // 'c', 'l', 'p'
    std::map<std::string, std::vector<std::string>> options;  // long name -> values
    std::vector<std::string> inputs;
    std::vector<std::string> problems;
    const std::vector<std::string>& values(const std::string& name) const {
        static const std::vector<std::string> none;
        auto it = options.find(name);
        return it == options.end() ? none : it->second;
    }
    std::string value(const std::string& name) const {
        const auto& v = values(name);
        return v.size() == 1 ? v[0] : std::string();
    }
};

ParsedCall parse_vpp(const std::vector<std::string>& args) {
    ParsedCall p;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        if (a.empty() || a[0] != '-') {
            p.inputs.push_back(a);
            continue;
        }
        std::string inline_value;
        bool has_inline = false;
        if (a.size() > 2 && a.rfind("-I", 0) == 0) {  // -I<dir>, as the reference writes it
            inline_value = a.substr(2);
            has_inline = true;
            a = "-I";
        } else if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = a.substr(eq + 1);
            has_inline = true;
            a = a.substr(0, eq);
        }
        const Option* opt = nullptr;
        for (const auto& o : kOptions)
            if (a == o.long_name || (o.short_name && a == o.short_name)) opt = &o;
        if (!opt) {
            p.problems.push_back("unknown option " + a);
            continue;
        }
        std::string value;
        if (opt->takes_value) {
            if (has_inline) value = inline_value;
            else if (i + 1 < args.size()) value = args[++i];
            if (value.empty() || value[0] == '-') p.problems.push_back(std::string(opt->long_name) + " needs a value");
        } else if (has_inline) {
            p.problems.push_back(std::string(opt->long_name) + " takes no value");
        }
        p.options[opt->long_name].push_back(value);
    }
    int steps = 0;
    const std::pair<const char*, char> kSteps[] = {{"--compile", 'c'}, {"--link", 'l'}, {"--package", 'p'}};
    for (const auto& [name, step] : kSteps)
        if (p.options.count(name)) {
            ++steps;
            p.step = step;
        }
    if (steps != 1) {
        p.problems.push_back("exactly one of -c, -l, -p expected");
        p.step = 0;
        return p;
    }
    for (const auto& [name, values] : p.options)
        for (const auto& o : kOptions)
            if (name == o.long_name && std::string(o.steps).find(p.step) == std::string::npos)
                p.problems.push_back(name + " does not apply to v++ -" + std::string(1, p.step));
    return p;
}

std::string at(const std::string& cwd, const std::string& path) {
    return fs::path(path).is_absolute() ? path : (fs::path(cwd) / path).string();
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A link config's CUs (cu -> kernel) and the clocks its [clock] section gives them (cu -> Hz).
struct LinkConfigFacts {
    std::map<std::string, std::string> cus, clock_hz;
};

// The same form as --clock.freqHz: <frequency_in_Hz>:<cu>[.<clk_pin>].
const std::regex kFreqHz(R"(^(\d+):(\w+)(\.\w+)?$)");

// A link config: its lines against the reference, and what it declares.
LinkConfigFacts check_link_config(const std::string& path, std::vector<std::string>& problems) {
    LinkConfigFacts facts;
    auto& cus = facts.cus;
    const std::regex nk(R"(^(\w+):(\d+):(\w+(?:[.,]\w+)*)$)");
    const std::regex sp(R"(^(\w+)\.(\w+):(\w+)(\[\d+(:\d+)?\])?$)");
    const std::regex slr(R"(^(\w+):SLR\d+$)");
    const std::set<std::string> sections = {"connectivity", "clock", "vivado", "advanced", "debug", "profile", "hls"};
    std::set<std::string> placed;
    std::vector<std::pair<int, std::string>> used_cus;  // line, cu of each sp=/slr=
    std::smatch m;
    for (const auto& e : test::read_config(test::read_file(path))) {
        const std::string where = fs::path(path).filename().string() + ":" + std::to_string(e.line) + ": ";
        if (e.is_section_head) {
            if (!sections.count(e.section)) problems.push_back(where + "[" + e.section + "] is not a v++ config section");
            continue;
        }
        if (e.section.empty()) {
            problems.push_back(where + e.key + " outside a section (the link options go under [connectivity])");
        } else if (e.section == "connectivity" && e.key == "nk") {
            if (!std::regex_match(e.value, m, nk)) {
                problems.push_back(where + "nk=" + e.value + " is not <kernel>:<count>:<cu>[,<cu>...]");
                continue;
            }
            std::string names = m[3];
            std::vector<std::string> list;
            std::stringstream ss(std::regex_replace(names, std::regex("[.,]"), " "));
            for (std::string n; ss >> n;) list.push_back(n);
            if (std::to_string(list.size()) != m[2].str()) problems.push_back(where + "nk count " + m[2].str() + " but " + std::to_string(list.size()) + " names");
            for (const auto& n : list) cus[n] = m[1];
        } else if (e.section == "connectivity" && e.key == "sp") {
            if (!std::regex_match(e.value, m, sp)) {
                problems.push_back(where + "sp=" + e.value + " is not <cu>.<arg>:<memory>");
                continue;
            }
            if (!placed.insert(m[1].str() + "." + m[2].str()).second) problems.push_back(where + m[1].str() + "." + m[2].str() + " placed twice");
            used_cus.emplace_back(e.line, m[1]);
        } else if (e.section == "connectivity" && e.key == "slr") {
            if (!std::regex_match(e.value, m, slr)) problems.push_back(where + "slr=" + e.value + " is not <cu>:SLR<n>");
            else used_cus.emplace_back(e.line, m[1]);
        } else if (e.section == "connectivity") {
            problems.push_back(where + e.key + " is not a [connectivity] key this check knows (nk, sp, slr)");
        } else if (e.section == "clock" && e.key == "freqHz") {
            if (!std::regex_match(e.value, m, kFreqHz)) problems.push_back(where + "freqHz=" + e.value + " is not <frequency_in_Hz>:<cu>[.<clk_pin>]");
            else {
                facts.clock_hz[m[2]] = m[1];
                used_cus.emplace_back(e.line, m[2]);
            }
        } else if (e.value.empty()) {
            problems.push_back(where + e.key + " has no value");
        }
    }
    for (const auto& [line, cu] : used_cus)
        if (!cus.count(cu)) problems.push_back(fs::path(path).filename().string() + ":" + std::to_string(line) + ": CU " + cu + " is declared by no nk=");
    if (cus.empty()) problems.push_back(path + ": no nk= line");
    return facts;
}

// The call that wrote `file` (a stand-in output), or an empty call.
Call writer_of(const std::string& file) { return fs::is_regular_file(file) ? parse_call(test::read_file(file)) : Call{}; }

std::vector<std::string> check_vpp_call(const Call& call, const Expected& want) {
    ParsedCall p = parse_vpp(call.args);
    std::vector<std::string> problems = p.problems;
    if (!p.step) return problems;
    const std::string step = std::string("v++ -") + p.step + ": ";
    auto fail = [&](const std::string& s) { problems.push_back(step + s); };
    auto exists = [&](const std::string& f) { return fs::exists(at(call.cwd, f)); };

    const std::set<std::string> targets = {"sw_emu", "hw_emu", "hw"};
    if (p.values("--target").size() != 1 || !targets.count(p.value("--target"))) fail("-t must be given once: sw_emu, hw_emu or hw");
    else if (p.value("--target") != want.target) fail("-t " + p.value("--target") + ", but TARGET=" + want.target);
    if (p.values("--platform").size() != 1) fail("--platform must be given once");
    else if (p.value("--platform") != want.platform) fail("--platform " + p.value("--platform") + ", but PLATFORM=" + want.platform);
    const std::string output = p.value("--output");
    if (p.values("--output").size() != 1) fail("-o must be given once");

    if (p.step == 'c') {
        if (!ends_with(output, ".xo")) fail("-o " + output + " is not a .xo");
        if (p.values("--kernel").size() != 1) {
            fail("one -k per compile expected, got " + std::to_string(p.values("--kernel").size()));
            return problems;
        }
        const std::string kernel = p.value("--kernel");
        if (p.inputs.empty()) fail("no source file");
        test::Interfaces tops;
        for (const auto& src : p.inputs) {
            if (!exists(src)) fail("source " + src + " does not exist");
            for (const auto& [k, ports] : test::parse_tops(test::read_file(at(call.cwd, src)))) tops[k] = ports;
        }
        if (!tops.count(kernel)) fail("-k " + kernel + " names no extern \"C\" top function of the sources");
        for (const auto& inc : p.values("--include"))
            if (!fs::is_directory(at(call.cwd, inc))) fail("-I" + inc + " is not a folder");
        const std::regex clock(R"(^(\d+):(\w+(?:,\w+)*)$)");
        std::smatch m;
        for (const auto& c : p.values("--hls.clock")) {
            if (!std::regex_match(c, m, clock)) {
                fail("--hls.clock " + c + " is not <frequency_in_Hz>:<kernel>[,<kernel>...]");
                continue;
            }
            if (m[1].str() != std::to_string(want.freq_mhz) + "000000") fail("--hls.clock " + c + ": not FREQ_MHZ");
            std::stringstream names(std::regex_replace(m[2].str(), std::regex(","), " "));
            for (std::string n; names >> n;)
                if (n != kernel) fail("--hls.clock names " + n + " in the compile of " + kernel);
        }
        if (p.values("--hls.clock").empty()) fail("no --hls.clock: the kernel would be compiled at the platform's default clock");
    } else if (p.step == 'l') {
        if (!ends_with(output, ".xclbin")) fail("-o " + output + " is not a .xclbin");
        if (p.values("--config").size() != 1 || !exists(p.value("--config"))) {
            fail("--config must name one existing link config");
            return problems;
        }
        const LinkConfigFacts config = check_link_config(at(call.cwd, p.value("--config")), problems);
        const auto& cus = config.cus;
        // Clocks: per CU on fixed-clock (embedded) platforms, from the command line or the
        // config's [clock] section; clock 0 on Alveo.
        const std::regex mhz(R"(^(\d+)$|^\d+:\d+(\|\d+:\d+)*$)");
        const std::string want_hz = std::to_string(want.freq_mhz) + "000000";
        std::smatch m;
        std::map<std::string, std::string> clock_hz = config.clock_hz;
        for (const auto& c : p.values("--clock.freqHz")) {
            if (!std::regex_match(c, m, kFreqHz)) fail("--clock.freqHz " + c + " is not <frequency_in_Hz>:<cu>[.<clk_pin>]");
            else if (!cus.count(m[2])) fail("--clock.freqHz names " + m[2].str() + ", no CU of the config");
            else clock_hz[m[2]] = m[1];
        }
        std::set<std::string> clocked;
        for (const auto& [cu, hz] : clock_hz) {
            if (hz != want_hz) fail("CU " + cu + " clocked at " + hz + " Hz, not FREQ_MHZ");
            clocked.insert(cu);
        }
        for (const auto& f : p.values("--kernel_frequency"))
            if (!std::regex_match(f, mhz)) fail("--kernel_frequency " + f + " is not <MHz> or <id>:<MHz>[|<id>:<MHz>]");
        if (is_embedded(want.board)) {
            for (const auto& [cu, kernel] : cus)
                if (!clocked.count(cu)) fail("CU " + cu + " has no --clock.freqHz (fixed-clock platform)");
            if (!p.values("--kernel_frequency").empty()) fail("--kernel_frequency on an embedded platform (fixed clocks)");
        } else if (p.values("--kernel_frequency") != std::vector<std::string>{std::to_string(want.freq_mhz)}) {
            fail("Alveo link without --kernel_frequency " + std::to_string(want.freq_mhz));
        }
        // Inputs: .xo files written by compiles of this target and platform, one per kernel.
        std::set<std::string> kernels_in;
        for (const auto& xo : p.inputs) {
            if (!ends_with(xo, ".xo")) fail("input " + xo + " is not a .xo");
            if (!want.outputs_exist) {
                kernels_in.insert(fs::path(xo).stem().string());
                continue;
            }
            ParsedCall compile = parse_vpp(writer_of(at(call.cwd, xo)).args);
            if (compile.step != 'c') {
                fail("input " + xo + " was not written by a v++ -c");
                continue;
            }
            if (compile.value("--target") != p.value("--target") || compile.value("--platform") != p.value("--platform"))
                fail("input " + xo + " was compiled for another target or platform");
            kernels_in.insert(compile.value("--kernel"));
        }
        for (const auto& [cu, kernel] : cus)
            if (!kernels_in.count(kernel)) fail("the config instantiates " + kernel + ", which no input .xo holds");
    } else {
        if (!is_embedded(want.board)) fail("package on an Alveo board");
        if (!ends_with(output, ".xclbin")) fail("-o " + output + " is not a .xclbin");
        if (p.inputs.size() != 1 || !ends_with(p.inputs[0], ".xclbin")) {
            fail("one input .xclbin expected");
            return problems;
        }
        if (want.outputs_exist && parse_vpp(writer_of(at(call.cwd, p.inputs[0])).args).step != 'l')
            fail("input " + p.inputs[0] + " was not written by a v++ -l");
        for (const char* file : {"--package.rootfs", "--package.kernel_image"})
            if (p.values(file).size() != 1 || !exists(p.value(file))) fail(std::string(file) + " must name one existing file");
        if (p.values("--package.out_dir").size() != 1) fail("--package.out_dir must be given once");
        const std::set<std::string> modes = {"sd", "qspi", "ospi"};
        for (const auto& b : p.values("--package.boot_mode"))
            if (!modes.count(b)) fail("--package.boot_mode " + b + " is not sd, qspi or ospi");
        std::set<std::string> sd_files;
        for (const auto& f : p.values("--package.sd_file")) {
            if (!exists(f)) fail("--package.sd_file " + f + " does not exist");
            sd_files.insert(fs::weakly_canonical(at(call.cwd, f)).string());
        }
        for (const auto& f : {p.inputs[0], want.host_exe})
            if (!sd_files.count(fs::weakly_canonical(at(call.cwd, f)).string())) fail(f + " is not on the SD card (--package.sd_file)");
        // The per-op kernels' xclbin, where the board links one, goes on the card as well.
        const std::string ops = (fs::path(p.inputs[0]).parent_path() / "llama_ops.xclbin").string();
        if (has_ops_xclbin(want.board) && !sd_files.count(fs::weakly_canonical(at(call.cwd, ops)).string()))
            fail(ops + " is not on the SD card (--package.sd_file)");
    }
    return problems;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += "\n  " + x;
    return s;
}

// ---------------------------------------------------------------------------------------
// Running the Makefile.

std::string makefile_dir(const std::string& root) { return root + "/kernels/vitis"; }

struct MakeRun {
    test::CommandResult result;
    std::vector<Call> calls;
};

MakeRun run_make(const StandIns& tools, const std::string& root, const std::string& build_dir, const std::string& args) {
    tools.forget_calls();
    MakeRun r;
    r.result = test::run_shell("make -C '" + makefile_dir(root) + "' VPP='" + tools.vpp() + "' PLATFORMINFO='" + tools.platforminfo() +
                         "' BUILD_DIR='" + build_dir + "' " + args);
    r.calls = tools.calls();
    return r;
}

// Every problem of one make run: make's own failure, each v++ call, the calls that should be
// there (a compile per kernel of the source, a link, platforminfo first).
std::vector<std::string> check_run(const MakeRun& run, const Expected& want, const std::set<std::string>& kernels, bool packaged) {
    std::vector<std::string> problems;
    if (run.result.exit_code != 0) problems.push_back("make failed: " + run.result.err);
    std::set<std::string> compiled;
    int links = 0, packages = 0, platforminfos = 0;
    for (const auto& call : run.calls) {
        if (call.tool == "platforminfo") {
            ++platforminfos;
            if (call.args != std::vector<std::string>{"-p", want.platform}) problems.push_back("platforminfo called without -p PLATFORM");
            continue;
        }
        for (const auto& p : check_vpp_call(call, want)) problems.push_back(p);
        ParsedCall p = parse_vpp(call.args);
        if (p.step == 'c') compiled.insert(p.value("--kernel"));
        links += p.step == 'l';
        packages += p.step == 'p';
    }
    if (compiled != kernels) problems.push_back("the compiles do not build exactly the top functions of kernels/llama_kernels.cpp");
    if (links != links_of(want.board))
        problems.push_back(std::to_string(links) + " links, " + std::to_string(links_of(want.board)) + " expected");
    if (platforminfos != 1) problems.push_back("platforminfo ran " + std::to_string(platforminfos) + " times, once expected (before the link)");
    if (packages != (packaged ? 1 : 0)) problems.push_back(std::to_string(packages) + " package steps");
    return problems;
}

std::set<std::string> top_functions(const std::string& root) {
    std::set<std::string> names;
    for (const auto& [k, ports] : test::parse_tops(test::read_file(root + "/kernels/llama_kernels.cpp"))) names.insert(k);
    return names;
}

struct BoardRun {
    std::string board, target;
};

std::vector<BoardRun> every_board_and_target() {
    std::vector<BoardRun> runs;
    for (const auto& boards : {kEmbedded, kAlveo})
        for (const auto& b : boards)
            for (const auto& t : kTargets) runs.push_back({b, t});
    return runs;
}

TEST(VitisMakefile, EveryTargetOnEveryBoardPassesTheReferenceCheck) {
    StandIns tools;
    test::TempDir build;
    const std::string root = test::source_dir();
    const auto kernels = top_functions(root);
    ASSERT_GE(kernels.size(), 2u);
    for (const auto& [board, target] : every_board_and_target()) {
        const StandInPlatform platform = default_platform(tools, board);
        Expected want{target, platform.name, board, "", kFreqMhz, true};
        MakeRun run = run_make(tools, root, build.path, "TARGET=" + target + " BOARD=" + board + " PLATFORM='" + platform.name + "'");
        auto problems = check_run(run, want, kernels, false);
        EXPECT_TRUE(problems.empty()) << "make TARGET=" << target << " BOARD=" << board << ":" << joined(problems);
        EXPECT_TRUE(fs::is_regular_file(build.path + "/" + target + "/" + board + "/llama.xclbin")) << target << " " << board;
        EXPECT_EQ(fs::is_regular_file(build.path + "/" + target + "/" + board + "/llama_ops.xclbin"), has_ops_xclbin(board))
            << target << " " << board;
    }
}

TEST(VitisMakefile, PackageOnTheEmbeddedBoards) {
    StandIns tools;
    test::TempDir build, images;
    const std::string root = test::source_dir();
    const auto kernels = top_functions(root);
    test::write_file(images.file("rootfs.ext4"), "stand-in rootfs\n");
    test::write_file(images.file("Image"), "stand-in kernel image\n");
    test::write_file(images.file("bench"), "stand-in aarch64 bench\n");
    for (const auto& board : kEmbedded)
        for (const std::string target : {"hw_emu", "hw"}) {
            const StandInPlatform platform = default_platform(tools, board);
            Expected want{target, platform.name, board, images.file("bench"), kFreqMhz, true};
            MakeRun run = run_make(tools, root, build.path,
                                   "package TARGET=" + target + " BOARD=" + board + " PLATFORM='" + platform.name +
                                       "' ROOTFS='" + images.file("rootfs.ext4") + "' KERNEL_IMAGE='" + images.file("Image") +
                                       "' HOST_EXE='" + images.file("bench") + "'");
            auto problems = check_run(run, want, kernels, true);
            EXPECT_TRUE(problems.empty()) << "make package TARGET=" << target << " BOARD=" << board << ":" << joined(problems);
            EXPECT_TRUE(fs::is_regular_file(build.path + "/" + target + "/" + board + "/package/sd_card.img"));
        }
}

TEST(VitisMakefile, PackageRefusesAlveoAndMissingFilesBeforeBuilding) {
    StandIns tools;
    test::TempDir build, images;
    const std::string root = test::source_dir();
    test::write_file(images.file("rootfs.ext4"), "x");
    test::write_file(images.file("Image"), "x");
    const std::string files = " ROOTFS='" + images.file("rootfs.ext4") + "' KERNEL_IMAGE='" + images.file("Image") + "'";
    const StandInPlatform u250 = default_platform(tools, "u250");
    MakeRun alveo = run_make(tools, root, build.path, "package BOARD=u250 PLATFORM='" + u250.name + "'" + files + " HOST_EXE=/etc/hostname");
    EXPECT_NE(alveo.result.exit_code, 0);
    EXPECT_NE(alveo.result.err.find("Alveo"), std::string::npos) << alveo.result.err;
    EXPECT_TRUE(alveo.calls.empty()) << "nothing may run before the check";

    const StandInPlatform zcu = default_platform(tools, "zcu106");
    MakeRun no_host = run_make(tools, root, build.path, "package PLATFORM='" + zcu.name + "'" + files + " HOST_EXE=build-aarch64/bench");
    EXPECT_NE(no_host.result.exit_code, 0);
    EXPECT_NE(no_host.result.err.find("HOST_EXE=build-aarch64/bench: no such file"), std::string::npos) << no_host.result.err;
    EXPECT_TRUE(no_host.calls.empty());

    MakeRun no_rootfs = run_make(tools, root, build.path, "package PLATFORM='" + zcu.name + "' KERNEL_IMAGE=/etc/hostname");
    EXPECT_NE(no_rootfs.result.exit_code, 0);
    EXPECT_NE(no_rootfs.result.err.find("ROOTFS="), std::string::npos) << no_rootfs.result.err;
}

TEST(VitisMakefile, LinkStopsOnAMemoryThePlatformLacks) {
    StandIns tools;
    test::TempDir build;
    const StandInPlatform lacking = tools.platform("zcu106", {"HP0", "HP1", "HP2", "HPC0"});
    MakeRun run = run_make(tools, test::source_dir(), build.path, "PLATFORM='" + lacking.name + "'");
    EXPECT_NE(run.result.exit_code, 0);
    EXPECT_NE(run.result.err.find("HP3"), std::string::npos) << run.result.err;
    for (const auto& c : run.calls) EXPECT_NE(parse_vpp(c.args).step, 'l') << "linked although HP3 is missing";
}

TEST(VitisMakefile, MissingPlatformOrBoardIsOneClearLine) {
    StandIns tools;
    test::TempDir build;
    MakeRun none = run_make(tools, test::source_dir(), build.path, "");
    EXPECT_NE(none.result.exit_code, 0);
    EXPECT_NE(none.result.err.find("PLATFORM="), std::string::npos) << none.result.err;
    EXPECT_TRUE(none.calls.empty());
    MakeRun bad_board = run_make(tools, test::source_dir(), build.path, "BOARD=zcu104 PLATFORM=x");
    EXPECT_NE(bad_board.result.exit_code, 0);
    EXPECT_NE(bad_board.result.err.find("BOARD must be one of"), std::string::npos) << bad_board.result.err;
}

// The Makefile's boards are the boards with a link config, and every board file has one.
TEST(VitisMakefile, EveryBoardFileHasALinkConfigAndABoardInTheMakefile) {
    const std::string root = test::source_dir();
    std::set<std::string> cfgs, ops_cfgs, listed;
    for (const auto& e : fs::directory_iterator(root + "/kernels/vitis"))
        if (e.path().extension() == ".cfg") {
            std::string stem = e.path().stem().string();
            // <board>_ops.cfg: the per-op kernels' link config of a board that has one.
            if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, "_ops") == 0) {
                stem.resize(stem.size() - 4);
                EXPECT_TRUE(has_ops_xclbin(stem)) << e.path().filename() << ": no board links a per-op xclbin";
                ops_cfgs.insert(stem);
                continue;
            }
            cfgs.insert(stem);
        }
    for (const auto& boards : {kEmbedded, kAlveo}) listed.insert(boards.begin(), boards.end());
    EXPECT_EQ(cfgs, listed);
    for (const auto& board : listed) EXPECT_EQ(ops_cfgs.count(board) == 1, has_ops_xclbin(board)) << board;
    for (const auto& e : fs::directory_iterator(root + "/configs/boards")) {
        const std::string board = e.path().stem().string();
        if (e.path().extension() == ".json") {
            EXPECT_TRUE(cfgs.count(board)) << board << ".json has no kernels/vitis/" << board << ".cfg";
        }
    }
    const std::string mk = test::read_file(makefile_dir(root) + "/Makefile");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(mk, m, std::regex(R"(EMBEDDED_BOARDS\s*:=\s*([^\n]+))")));
    std::istringstream names(m[1].str());
    std::vector<std::string> embedded;
    for (std::string n; names >> n;) embedded.push_back(n);
    EXPECT_EQ(embedded, kEmbedded);
}

// `make -n`: the commands a user would see, complete for every kernel without running any.
TEST(VitisMakefile, DryRunPrintsACompleteCommandForEveryKernel) {
    StandIns tools;
    test::TempDir build;
    const std::string root = test::source_dir();
    const auto kernels = top_functions(root);
    for (const std::string board : {"zcu106", "u280"}) {
        const StandInPlatform platform = default_platform(tools, board);
        MakeRun run = run_make(tools, root, build.path, "-n TARGET=hw BOARD=" + board + " PLATFORM='" + platform.name + "'");
        ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
        EXPECT_TRUE(run.calls.empty()) << "make -n ran a tool";
        // Join the recipe's continuation lines, then split each v++ command into words.
        const std::string text = std::regex_replace(run.result.out, std::regex("\\\\\n"), " ");
        std::istringstream lines(text);
        Expected want{"hw", platform.name, board, "", kFreqMhz, false};
        std::set<std::string> compiled;
        int links = 0;
        for (std::string line; std::getline(lines, line);) {
            std::istringstream words(line);
            std::string first;
            if (!(words >> first) || first != tools.vpp()) continue;
            Call call{"v++", makefile_dir(root), {}};
            for (std::string w; words >> w;) call.args.push_back(w);
            auto problems = check_vpp_call(call, want);
            EXPECT_TRUE(problems.empty()) << line << joined(problems);
            ParsedCall p = parse_vpp(call.args);
            if (p.step == 'c') compiled.insert(p.value("--kernel"));
            links += p.step == 'l';
        }
        EXPECT_EQ(compiled, kernels) << board;
        EXPECT_EQ(links, links_of(board)) << board;
    }
}

// The check is not vacuous: a kernel renamed in the source, with the Makefile left as it is,
// fails it (on a copy of the tree: the Makefile finds the source beside itself).
TEST(VitisMakefile, TheCheckCatchesAKernelRenamedInTheSource) {
    StandIns tools;
    test::TempDir copy, build;
    const std::string root = test::source_dir();
    fs::create_directories(copy.path + "/kernels/vitis");
    for (const auto& e : fs::directory_iterator(root + "/kernels/vitis"))
        if (e.is_regular_file()) fs::copy_file(e.path(), copy.path + "/kernels/vitis/" + e.path().filename().string());
    std::string source = test::read_file(root + "/kernels/llama_kernels.cpp");
    const std::string from = "extern \"C\" void op_swiglu(";
    ASSERT_NE(source.find(from), std::string::npos);
    source.replace(source.find(from), from.size(), "extern \"C\" void op_swiglu_v2(");
    test::write_file(copy.path + "/kernels/llama_kernels.cpp", source);

    const StandInPlatform platform = default_platform(tools, "zcu106");
    Expected want{"hw", platform.name, "zcu106", "", kFreqMhz, true};
    MakeRun run = run_make(tools, copy.path, build.path, "PLATFORM='" + platform.name + "'");
    auto problems = check_run(run, want, top_functions(copy.path), false);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(joined(problems).find("-k op_swiglu names no extern \"C\" top function"), std::string::npos) << joined(problems);
}

// And each kind of bad command line the reference rules out is caught.
TEST(VitisMakefile, TheCheckerRejectsWhatTheReferenceRulesOut) {
    const std::string root = test::source_dir();
    const std::string src = root + "/kernels/llama_kernels.cpp";
    Expected want{"hw", "p.xpfm", "zcu106", "", kFreqMhz, false};
    auto problems_of = [&](std::vector<std::string> args) { return check_vpp_call(Call{"v++", root, std::move(args)}, want); };
    const std::vector<std::string> good = {"-c", "-t", "hw", "--platform", "p.xpfm", "--hls.clock", "300000000:op_rope",
                                           "-k", "op_rope", "-I" + root, "-o", "x/op_rope.xo", src};
    EXPECT_TRUE(problems_of(good).empty()) << joined(problems_of(good));
    auto with = [&](size_t i, const std::string& v) {
        auto a = good;
        a[i] = v;
        return a;
    };
    EXPECT_FALSE(problems_of(with(6, "300000000:")).empty()) << "empty kernel name in --hls.clock (the old Makefile's bug)";
    EXPECT_FALSE(problems_of(with(6, "300MHz:op_rope")).empty()) << "frequency not in Hz";
    EXPECT_FALSE(problems_of(with(8, "op_ropes")).empty()) << "-k naming no top function";
    EXPECT_FALSE(problems_of(with(2, "hw_emulation")).empty()) << "unknown target";
    EXPECT_FALSE(problems_of(with(11, "x/op_rope.o")).empty()) << "output not .xo";
    EXPECT_FALSE(problems_of(with(0, "-l")).empty()) << "-k in a link";
    auto two_k = good;
    two_k.insert(two_k.end() - 1, {"-k", "op_softmax"});
    EXPECT_FALSE(problems_of(two_k).empty()) << "two kernels in one compile";
    auto unknown = good;
    unknown.insert(unknown.end() - 1, "--hls.frequency=300");
    EXPECT_FALSE(problems_of(unknown).empty()) << "an option the reference does not have";
    auto missing_value = good;
    missing_value.insert(missing_value.end() - 1, "--temp_dir");
    missing_value.insert(missing_value.end() - 1, "--save-temps");
    EXPECT_FALSE(problems_of(missing_value).empty()) << "an option without its value";

    // Link configs: malformed nk/sp/slr and keys outside [connectivity].
    test::TempDir tmp;
    auto cfg_problems = [&](const std::string& text) {
        test::write_file(tmp.file("l.cfg"), text);
        std::vector<std::string> problems;
        check_link_config(tmp.file("l.cfg"), problems);
        return problems;
    };
    const std::string ok = "[connectivity]\nnk=op_rope:1:op_rope_1\nsp=op_rope_1.q:HP0\nsp=op_rope_1.k:DDR[1]\n";
    EXPECT_TRUE(cfg_problems(ok).empty()) << joined(cfg_problems(ok));
    EXPECT_FALSE(cfg_problems(ok + "nk=op_rope:2:op_rope_2\n").empty()) << "count and names disagree";
    EXPECT_FALSE(cfg_problems(ok + "sp=op_rope_1.q:HP1\n").empty()) << "port placed twice";
    EXPECT_FALSE(cfg_problems(ok + "sp=op_rope_9.q:HP1\n").empty()) << "undeclared CU";
    EXPECT_FALSE(cfg_problems(ok + "sp=op_rope_1:HP1\n").empty()) << "sp without .arg";
    EXPECT_FALSE(cfg_problems(ok + "slr=op_rope_1:1\n").empty()) << "slr without SLR";
    EXPECT_FALSE(cfg_problems(ok + "stream=a\n").empty()) << "unknown [connectivity] key";
    EXPECT_FALSE(cfg_problems("nk=op_rope:1:op_rope_1\n").empty()) << "outside a section";
    EXPECT_FALSE(cfg_problems(ok + "[conectivity]\n").empty()) << "misspelt section";
    EXPECT_TRUE(cfg_problems(ok + "[clock]\nfreqHz=300000000:op_rope_1\n").empty());
    EXPECT_FALSE(cfg_problems(ok + "[clock]\nfreqHz=300MHz:op_rope_1\n").empty()) << "clock not in Hz";
    EXPECT_FALSE(cfg_problems(ok + "[clock]\nfreqHz=300000000:op_rope_2\n").empty()) << "clock of an undeclared CU";
}

}  // namespace
}  // namespace lhb

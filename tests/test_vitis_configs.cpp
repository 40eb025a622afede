// The board build's link configs (kernels/vitis/*.cfg) against the kernels' top functions:
// every kernel and port they name must exist with the bundle the code gives it, so the
// configs cannot drift from the code.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "backends/xrt/xrt_names.hpp"
#include "tests/test_support.hpp"
#include "tests/vitis_sources.hpp"

namespace lhb {
namespace {

namespace fs = std::filesystem;

using test::Interfaces;
using test::parse_tops;

struct LinkConfig {
    std::map<std::string, std::string> cu_kernel;                     // llama_forward_1 -> llama_forward
    std::vector<std::tuple<std::string, std::string, std::string>> sp;  // cu, arg, memory
};

LinkConfig parse_cfg(const std::string& text) {
    LinkConfig c;
    std::istringstream in(text);
    std::string line;
    const std::regex nk(R"(^nk=(\w+):(\d+):(\w+)\s*$)");
    const std::regex sp(R"(^sp=(\w+)\.(\w+):(\S+)\s*$)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, nk)) c.cu_kernel[m[3]] = m[1];
        else if (std::regex_match(line, m, sp)) c.sp.emplace_back(m[1], m[2], m[3]);
    }
    return c;
}

std::string kernels_source() { return test::read_file(test::source_dir() + "/kernels/llama_kernels.cpp"); }

TEST(VitisConfigs, ParsersSeeTheKernels) {
    Interfaces tops = parse_tops(kernels_source());
    ASSERT_TRUE(tops.count(xrt_backend::kForwardKernel));
    for (const char* k : xrt_backend::kOpKernels) EXPECT_TRUE(tops.count(k)) << k << " is not a top function";
    // At least four weight bundles, so the link can spread weights over HP0-HP3.
    std::set<std::string> weight_bundles;
    for (const char* w : {"w0", "w1", "w2", "w3"}) {
        ASSERT_TRUE(tops[xrt_backend::kForwardKernel].count(w)) << w;
        weight_bundles.insert(tops[xrt_backend::kForwardKernel][w]);
    }
    EXPECT_EQ(weight_bundles.size(), 4u);
}

// Every way a link config disagrees with the code, one line each.
std::vector<std::string> config_problems(const std::string& text, const Interfaces& tops) {
    std::vector<std::string> problems;
    LinkConfig cfg = parse_cfg(text);
    if (cfg.cu_kernel.empty()) problems.push_back("no nk= lines");
    if (cfg.sp.empty()) problems.push_back("no sp= lines");
    std::map<std::string, std::map<std::string, std::string>> memory_of_bundle;  // cu -> bundle -> memory
    std::map<std::string, std::set<std::string>> connected;                     // cu -> args
    for (const auto& [cu, kernel] : cfg.cu_kernel)
        if (!tops.count(kernel)) problems.push_back("nk names kernel " + kernel + ", which is not a top function");
    for (const auto& [cu, arg, memory] : cfg.sp) {
        auto k = cfg.cu_kernel.find(cu);
        if (k == cfg.cu_kernel.end() || !tops.count(k->second)) {
            problems.push_back("sp names compute unit " + cu + " of no known kernel");
            continue;
        }
        const auto& ports = tops.at(k->second);
        auto port = ports.find(arg);
        if (port == ports.end()) {
            problems.push_back(cu + "." + arg + ": " + k->second + " has no m_axi port " + arg);
            continue;
        }
        auto [it, fresh] = memory_of_bundle[cu].emplace(port->second, memory);
        if (it->second != memory)
            problems.push_back(cu + "." + arg + " is on bundle " + port->second + ", which another port put on " + it->second);
        connected[cu].insert(arg);
    }
    for (const auto& [cu, kernel] : cfg.cu_kernel)
        if (tops.count(kernel))
            for (const auto& [port, bundle] : tops.at(kernel))
                if (!connected[cu].count(port)) problems.push_back(cu + "." + port + " (" + bundle + ") has no sp= line");
    // The weight bundles of llama_forward go to four different memories.
    std::set<std::string> weight_memories;
    for (const auto& [cu, arg, memory] : cfg.sp)
        if (cfg.cu_kernel[cu] == xrt_backend::kForwardKernel && arg.size() == 2 && arg[0] == 'w') weight_memories.insert(memory);
    // (A config of the per-op kernels alone, <board>_ops.cfg, has no llama_forward.)
    const bool forward = std::any_of(cfg.cu_kernel.begin(), cfg.cu_kernel.end(),
                                     [](const auto& cu) { return cu.second == xrt_backend::kForwardKernel; });
    if (forward && weight_memories.size() != 4) problems.push_back("llama_forward's weights are not on four memories");
    return problems;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += "\n  " + x;
    return s;
}

TEST(VitisConfigs, EveryLinkConfigMatchesTheKernels) {
    Interfaces tops = parse_tops(kernels_source());
    int configs = 0;
    for (const auto& entry : fs::directory_iterator(test::source_dir() + "/kernels/vitis")) {
        if (entry.path().extension() != ".cfg") continue;
        auto problems = config_problems(test::read_file(entry.path().string()), tops);
        EXPECT_TRUE(problems.empty()) << entry.path().filename() << ":" << joined(problems);
        ++configs;
    }
    EXPECT_GE(configs, 4) << "zcu106, kv260, u250 and u280 link configs expected";
}

// Every top function is a compute unit on every board: in <board>.cfg, or in the per-op
// xclbin's <board>_ops.cfg where the board links one; llama_forward always in the main one.
TEST(VitisConfigs, EveryKernelIsLinkedOnEveryBoard) {
    Interfaces tops = parse_tops(kernels_source());
    std::set<std::string> defined;
    for (const auto& [k, ports] : tops) defined.insert(k);
    const std::string dir = test::source_dir() + "/kernels/vitis/";
    for (const char* board : {"zcu106", "kv260", "u250", "u280"}) {
        const LinkConfig main = parse_cfg(test::read_file(dir + board + ".cfg"));
        std::set<std::string> linked, in_main;
        for (const auto& [cu, kernel] : main.cu_kernel) in_main.insert(kernel);
        linked = in_main;
        if (fs::exists(dir + board + "_ops.cfg"))
            for (const auto& [cu, kernel] : parse_cfg(test::read_file(dir + board + "_ops.cfg")).cu_kernel) {
                EXPECT_FALSE(in_main.count(kernel)) << board << ": " << kernel << " in both xclbins";
                linked.insert(kernel);
            }
        EXPECT_EQ(linked, defined) << board;
        EXPECT_TRUE(in_main.count(xrt_backend::kForwardKernel)) << board;
    }
}

TEST(VitisConfigs, TheCheckCatchesDrift) {
    Interfaces tops = parse_tops(kernels_source());
    const std::string base = "nk=llama_forward:1:llama_forward_1\n";
    std::string all_ports;
    for (const auto& [port, bundle] : tops.at("llama_forward"))
        all_ports += "sp=llama_forward_1." + port + ":M_" + bundle + "\n";
    // A config built from the code passes (weights on four memories by construction)...
    EXPECT_TRUE(config_problems(base + all_ports, tops).empty()) << joined(config_problems(base + all_ports, tops));
    // ...and each kind of drift is caught.
    EXPECT_FALSE(config_problems(base + all_ports + "sp=llama_forward_1.weights0:HP0\n", tops).empty()) << "renamed port";
    EXPECT_FALSE(config_problems(base + all_ports + "nk=llama_fwd:1:x_1\n", tops).empty()) << "unknown kernel";
    EXPECT_FALSE(config_problems(base + all_ports + "sp=llama_forward_1.kv0:ELSEWHERE\n", tops).empty()) << "bundle split";
    std::string missing = all_ports.substr(all_ports.find('\n') + 1);  // drop one port
    EXPECT_FALSE(config_problems(base + missing, tops).empty()) << "unplaced port";
}

TEST(VitisConfigs, MakefileBuildsEveryTopFunction) {
    Interfaces tops = parse_tops(kernels_source());
    std::string mk = test::read_file(test::source_dir() + "/kernels/vitis/Makefile");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(mk, m, std::regex(R"(KERNELS\s*:=\s*([^\n]+))")));
    std::istringstream names(m[1].str());
    std::set<std::string> listed;
    for (std::string n; names >> n;) listed.insert(n);
    std::set<std::string> defined;
    for (const auto& [k, ports] : tops) defined.insert(k);
    EXPECT_EQ(listed, defined);
}

}  // namespace
}  // namespace lhb

#pragma once
// What the board build's inputs declare, read from the text the way v++ sees it: the top
// functions of an HLS source with their m_axi ports, and the lines of a v++ config file.
// Shared by test_vitis_configs (the link configs against the kernels) and
// test_vitis_makefile (the Makefile's v++ command lines against the reference).
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace lhb::test {

// kernel -> (m_axi port -> bundle), from the INTERFACE pragmas of each extern "C" top.
using Interfaces = std::map<std::string, std::map<std::string, std::string>>;

inline Interfaces parse_tops(const std::string& source) {
    Interfaces tops;
    std::istringstream in(source);
    std::string line, current;
    const std::regex top(R"(^extern\s+"C"\s+void\s+(\w+)\s*\()");
    const std::regex maxi(R"(#pragma\s+HLS\s+INTERFACE\s+.*mode=m_axi\s+.*port=(\w+)\s+.*bundle=(\w+))");
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_search(line, m, top)) {
            current = m[1];
            tops[current];
        } else if (!current.empty() && std::regex_search(line, m, maxi)) {
            tops[current][m[1]] = m[2];
        }
    }
    return tops;
}

// One meaningful line of a v++ config file: `key=value` under `[section]` ("" before the
// first section head). Comments (#) and blank lines are dropped; `line` counts from 1.
struct ConfigEntry {
    int line = 0;
    std::string section, key, value;
    bool is_section_head = false;
};

inline std::vector<ConfigEntry> read_config(const std::string& text) {
    std::vector<ConfigEntry> entries;
    std::istringstream in(text);
    std::string raw, section;
    int number = 0;
    while (std::getline(in, raw)) {
        ++number;
        const auto first = raw.find_first_not_of(" \t\r");
        if (first == std::string::npos || raw[first] == '#') continue;
        const std::string line = raw.substr(first, raw.find_last_not_of(" \t\r") + 1 - first);
        ConfigEntry e;
        e.line = number;
        if (line.front() == '[' && line.back() == ']') {
            section = line.substr(1, line.size() - 2);
            e.is_section_head = true;
            e.section = section;
        } else {
            const auto eq = line.find('=');
            e.section = section;
            e.key = line.substr(0, eq);
            e.value = eq == std::string::npos ? std::string() : line.substr(eq + 1);
        }
        entries.push_back(e);
    }
    return entries;
}

}  // namespace lhb::test

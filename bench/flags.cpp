#include "bench/flags.hpp"

#include <cctype>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.hpp"

namespace lhb::bench {

int parse_int(const std::string& flag, const std::string& text, int min, int max) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < INT32_MIN || v > INT32_MAX)
        throw InputError(flag + ": expected an integer, found '" + text + "'");
    if (v < min || v > max) {
        const std::string range = max == INT_MAX   ? ">= " + std::to_string(min)
                                  : min == INT_MIN ? "<= " + std::to_string(max)
                                                   : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
        throw InputError(flag + ": expected an integer " + range + ", found " + text);
    }
    return int(v);
}

std::string parse_kv_type(const std::string& flag, const std::string& text) {
    std::string known;
    for (const char* t : kKvTypes) {
        if (text == t) return text;
        known += (known.empty() ? "" : ", ") + std::string(t);
    }
    throw InputError(flag + ": expected one of " + known + ", found '" + text + "'");
}

uint64_t parse_byte_size(const std::string& flag, const std::string& text) {
    const std::string units = "KMGT";
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    const std::string rest = text.substr(digits);
    const size_t unit = rest.size() == 1 ? units.find(char(std::toupper(static_cast<unsigned char>(rest[0])))) : 0;
    if (digits == 0 || digits > 15 || (!rest.empty() && (rest.size() != 1 || unit == std::string::npos)))
        throw InputError(flag + ": expected a byte count (digits, optionally K, M, G or T), found '" + text + "'");
    uint64_t v = std::stoull(text.substr(0, digits));
    for (size_t k = 0; !rest.empty() && k <= unit; ++k) {
        if (v > (UINT64_MAX >> 10)) throw InputError(flag + ": expected a byte count below 2^64, found '" + text + "'");
        v <<= 10;
    }
    return v;
}

double parse_double(const std::string& flag, const std::string& text) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') throw InputError(flag + ": expected a number, found '" + text + "'");
    if (!std::isfinite(v)) throw InputError(flag + ": expected a finite number, found '" + text + "'");
    return v;
}

float parse_float(const std::string& flag, const std::string& text) {
    const double v = parse_double(flag, text);
    if (std::fabs(v) > double(FLT_MAX)) throw InputError(flag + ": expected a finite number, found '" + text + "'");
    return float(v);
}

FlagParser& FlagParser::flag(std::vector<std::string> names, bool& set) {
    flags_.push_back({std::move(names), false, [&set](const std::string&, const std::string&) { set = true; }});
    return *this;
}

FlagParser& FlagParser::value(std::vector<std::string> names,
                              std::function<void(const std::string&, const std::string&)> set) {
    flags_.push_back({std::move(names), true, std::move(set)});
    return *this;
}

FlagParser& FlagParser::text(std::vector<std::string> names, std::string& to) {
    return value(std::move(names), [&to](const std::string&, const std::string& v) { to = v; });
}

FlagParser& FlagParser::integer(std::vector<std::string> names, int& to, int min, int max) {
    return value(std::move(names), [&to, min, max](const std::string& f, const std::string& v) {
        to = parse_int(f, v, min, max);
    });
}

FlagParser& FlagParser::number(std::vector<std::string> names, double& to) {
    return value(std::move(names), [&to](const std::string& f, const std::string& v) { to = parse_double(f, v); });
}

FlagParser& FlagParser::positionals(std::vector<std::string>& to, size_t max, std::string too_many) {
    positionals_ = &to;
    max_positionals_ = max;
    too_many_ = std::move(too_many);
    return *this;
}

FlagParser& FlagParser::pass_through(std::string prefix, std::vector<char*>& to) {
    pass_prefix_ = std::move(prefix);
    passed_ = &to;
    return *this;
}

const FlagParser::Flag* FlagParser::find(const std::string& name) const {
    for (const Flag& f : flags_)
        for (const std::string& n : f.names)
            if (n == name) return &f;
    return nullptr;
}

int FlagParser::usage_error(const std::string& problem) const {
    if (!problem.empty()) std::fprintf(stderr, "%s\n", problem.c_str());
    std::fputs(usage_.c_str(), stderr);
    return 1;
}

std::optional<int> FlagParser::parse(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(usage_.c_str(), stdout);
            return 0;
        }
        if (passed_ && a.rfind(pass_prefix_, 0) == 0) {
            passed_->push_back(argv[i]);
            continue;
        }
        if (a.size() > 1 && a[0] == '-') {
            const Flag* f = find(a);
            if (!f) return usage_error("unknown option " + a);
            if (!f->takes_value) {
                f->set(a, "");
                continue;
            }
            if (i + 1 >= argc) return usage_error(a + " needs a value");
            f->set(a, argv[++i]);
            continue;
        }
        if (!positionals_ || positionals_->size() >= max_positionals_) return usage_error(too_many_ + a);
        positionals_->push_back(a);
    }
    return std::nullopt;
}

}  // namespace lhb::bench

#include "bench/command.hpp"

#include <algorithm>
#include <cstdlib>

#include "core/error.hpp"

namespace lhb::bench {

namespace {
std::vector<Command>& list() {
    static std::vector<Command> l;
    return l;
}
}  // namespace

void register_command(Command c) {
    list().push_back(c);
    std::sort(list().begin(), list().end(),
              [](const Command& a, const Command& b) { return std::string(a.name) < b.name; });
}

const std::vector<Command>& commands() { return list(); }

int parse_int(const std::string& flag, const std::string& text) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < INT32_MIN || v > INT32_MAX)
        throw InputError(flag + ": expected an integer, found '" + text + "'");
    return int(v);
}

double parse_double(const std::string& flag, const std::string& text) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0')
        throw InputError(flag + ": expected a number, found '" + text + "'");
    return v;
}

}  // namespace lhb::bench

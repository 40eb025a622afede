#include "bench/command.hpp"

#include <algorithm>

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

}  // namespace lhb::bench

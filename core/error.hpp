#pragma once
// One exception type for every bad input (file, field, flag): its message is the single
// line the user sees, and `bench` turns it into a non-zero exit.
#include <stdexcept>
#include <string>

namespace lhb {

struct InputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "FILE: FIELD: expected EXPECTED, found FOUND"
[[noreturn]] inline void fail_input(const std::string& where, const std::string& field,
                                    const std::string& expected, const std::string& found) {
    throw InputError(where + ": " + field + ": expected " + expected + ", found " + found);
}

}  // namespace lhb

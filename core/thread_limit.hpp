#pragma once
// How many threads a backend may be asked for: a count the machine cannot create would
// otherwise end in the threading runtime's own abort ("libgomp: Thread creation failed").
#include <string>

namespace lhb {

// The largest thread count accepted here: at most kMaxThreads, and no more than the
// process may create (RLIMIT_NPROC, /proc/sys/kernel/threads-max).
constexpr int kMaxThreads = 1024;
int max_thread_count();

// Throws InputError "WHERE: threads: expected 0 (the default) to N (...), found T" unless
// 0 <= threads <= max_thread_count().
void check_thread_count(int threads, const std::string& where);

}  // namespace lhb

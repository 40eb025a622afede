#include "core/thread_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>

#include "core/error.hpp"

namespace lhb {

int max_thread_count() {
    long limit = kMaxThreads;
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        limit = std::min<long>(limit, long(rl.rlim_cur));
    std::ifstream f("/proc/sys/kernel/threads-max");
    long threads_max = 0;
    if (f >> threads_max && threads_max > 0) limit = std::min(limit, threads_max);
    return int(std::max(1L, limit));
}

void check_thread_count(int threads, const std::string& where) {
    const int max = max_thread_count();
    if (threads < 0 || threads > max)
        fail_input(where, "threads",
                   "0 (the default) to " + std::to_string(max) + " (at most " + std::to_string(kMaxThreads) +
                       ", and what this machine lets a process create)",
                   std::to_string(threads));
}

}  // namespace lhb

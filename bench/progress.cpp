#include "bench/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace lhb::bench {

std::string format_duration(double seconds) {
    long s = long(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

Progress::Progress(int total, bool quiet, bool log_lines)
    : total_(total), tty_(!quiet && ::isatty(STDERR_FILENO)), log_lines_(log_lines),
      t0_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { done(); }

double Progress::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Progress::draw(const std::string& label) {
    if (!tty_) return;
    std::string eta = "?";
    // Points differ in cost, so this is a rough average-based estimate.
    if (done_ > 0) eta = format_duration(elapsed() / done_ * (total_ - done_));
    std::fprintf(stderr, "\r\033[K[%d/%d] %s | elapsed %s | ETA %s", done_, total_, label.c_str(),
                 format_duration(elapsed()).c_str(), eta.c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void Progress::start(const std::string& label) { draw(label); }

void Progress::finish(const std::string& label, const std::string& outcome) {
    ++done_;
    if (log_lines_) {
        if (drawn_) std::fprintf(stderr, "\r\033[K"), drawn_ = false;
        std::fprintf(stderr, "point %d/%d done: %s: %s (elapsed %s)\n", done_, total_, label.c_str(),
                     outcome.c_str(), format_duration(elapsed()).c_str());
        std::fflush(stderr);
    }
    draw(label);
}

void Progress::note(const std::string& line) {
    if (drawn_) std::fprintf(stderr, "\r\033[K"), drawn_ = false;
    std::fprintf(stderr, "%s\n", line.c_str());
}

void Progress::done() {
    if (drawn_) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        drawn_ = false;
    }
}

}  // namespace lhb::bench

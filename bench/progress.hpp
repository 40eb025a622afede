#pragma once
// Progress of a sweep on stderr: "[3/12] openmp fp32 t2 pp32 | elapsed 0:41 | ETA 1:50",
// redrawn in place. Silent unless stderr is a terminal (and not --quiet), so logs and
// pipes stay clean; `log_lines` prints one plain line per finished point instead.
#include <chrono>
#include <string>

namespace lhb::bench {

class Progress {
public:
    Progress(int total, bool quiet, bool log_lines);
    ~Progress();
    void start(const std::string& label);  // a point begins
    void finish(const std::string& label, const std::string& outcome);  // and ends
    void note(const std::string& line);    // a message that must not be overdrawn
    void done();                           // clears the line

private:
    void draw(const std::string& label);
    double elapsed() const;
    int total_, done_ = 0;
    bool tty_, log_lines_, drawn_ = false;
    std::chrono::steady_clock::time_point t0_;
};

std::string format_duration(double seconds);  // "1:05", "1:02:03"

}  // namespace lhb::bench

#pragma once
// The stand-in for the vendor header hls_stream.h in C simulation: kernels/hls_support.hpp
// includes it when not synthesizing, where Vitis would include its own. Like a vendor header
// it is host C++ (heap memory, std::vector) and exempt from the synthesizability scan
// (tests/test_hls_rules.cpp); synthesis never sees it.
//
// C simulation's model of hls::stream: an unbounded FIFO, as Vitis models streams in C
// simulation, where the processes of a DATAFLOW region run one after another in call order.
// A read from an empty FIFO, or data left in one when it is destroyed, is a producer and a
// consumer that disagree: on the device, a deadlock or a region that never finishes. Both
// stop the simulation with a message instead of going on with wrong data.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <vector>

#ifdef __SYNTHESIS__
#error "hls_stream_csim.hpp is C simulation's stand-in for hls_stream.h: synthesis includes the vendor's"
#endif

namespace lhk::csim {

template <class T>
using HostVector = std::vector<T>;  // host memory: C simulation only

// ---- Memory a kernel call only reads -------------------------------------------------------
// The weight readers stream every weight of a call into their FIFOs before the compute
// process runs (61 MB a token for the stories15M shape in fp32): copied, that is a round trip
// through DRAM that costs C simulation about as much as the matmuls. The C-simulation runner
// (backends/hls_csim) declares the weight buffers read-only for the length of a call; a FIFO
// written from such memory keeps where the values are (runs of consecutive addresses), and a
// read returns the value there. Exact because nothing writes that memory before the call
// ends, and a stream is empty when its call ends (else the simulation stops, as above).
struct ReadOnlySpan {
    const void* begin;
    const void* end;  // one past the last byte
};

inline HostVector<ReadOnlySpan>& read_only_spans() {
    static thread_local HostVector<ReadOnlySpan> spans;
    return spans;
}

// Declares spans read-only while it lives (on this thread): the caller guarantees that
// nothing writes them meanwhile.
class ReadOnlyScope {
public:
    explicit ReadOnlyScope(std::initializer_list<ReadOnlySpan> spans) : first_(read_only_spans().size()) {
        for (const ReadOnlySpan& s : spans) read_only_spans().push_back(s);
    }
    ReadOnlyScope(const ReadOnlyScope&) = delete;
    ReadOnlyScope& operator=(const ReadOnlyScope&) = delete;
    ~ReadOnlyScope() { read_only_spans().resize(first_); }

private:
    size_t first_;
};

// The end of the declared read-only span holding `bytes` bytes from p, or nullptr if none does.
inline const void* read_only_end(const void* p, size_t bytes) {
    const auto at = reinterpret_cast<uintptr_t>(p);
    for (const ReadOnlySpan& s : read_only_spans()) {
        const auto b = reinterpret_cast<uintptr_t>(s.begin), e = reinterpret_cast<uintptr_t>(s.end);
        if (at >= b && e >= at && e - at >= bytes) return s.end;
    }
    return nullptr;
}

// Storage of finished FIFOs, kept for the next ones: fresh memory for each kernel call would
// cost page faults on every value a FIFO copies.
template <class T>
HostVector<HostVector<T>>& spare_storage() {
    static thread_local HostVector<HostVector<T>> spare;
    return spare;
}

template <class T>
class Fifo {
public:
    Fifo() {
        auto& spare = spare_storage<T>();
        if (!spare.empty()) {
            own_ = std::move(spare.back());
            spare.pop_back();
        }
    }
    Fifo(const Fifo&) = delete;
    Fifo& operator=(const Fifo&) = delete;
    ~Fifo() {
        if (!empty()) {
            std::fprintf(stderr, "csim: a stream was left holding %lld values (its consumer read fewer than its producer wrote)\n",
                         static_cast<long long>(written_ - read_));
            std::abort();
        }
        own_.clear();
        spare_storage<T>().push_back(std::move(own_));
    }

    void write(const T& v) {
        if (&v == wr_next_ && wr_next_ != wr_limit_) {  // the next address of the run being written
            ++wr_next_;
            ++written_;
            return;
        }
        write_new_run(v);
    }
    T read() {
        if (rd_ == rd_end_) find_position();
        ++read_;
        return *rd_++;
    }
    bool empty() const { return read_ == written_; }

private:
    // Consecutive values of the FIFO: n values at `from` in read-only memory, or, with
    // from == nullptr, n copies at own_[at]. The last run, while it is a run in read-only
    // memory that writes extend, ends at wr_next_ instead (its span ends at wr_limit_).
    struct Run {
        const T* from;
        int64_t at;
        int64_t n;
    };

    void write_new_run(const T& v) {
        if (empty() && !runs_.empty()) restart();
        ++written_;
        const T* p = &v;
        if (wr_next_ != nullptr) {  // the open run ends here
            runs_.back().n = wr_next_ - runs_.back().from;
            wr_next_ = wr_limit_ = nullptr;
        }
        if (const void* end = read_only_end(p, sizeof(T))) {
            runs_.push_back(Run{p, 0, 0});
            wr_next_ = p + 1;
            wr_limit_ = static_cast<const T*>(end);
            return;
        }
        // A copy. own_ may move: a run being read there is found again on the next read.
        if (cur_ < runs_.size() && runs_[cur_].from == nullptr) forget_position();
        own_.push_back(v);
        if (!runs_.empty() && runs_.back().from == nullptr)
            ++runs_.back().n;
        else
            runs_.push_back(Run{nullptr, int64_t(own_.size()) - 1, 1});
    }
    int64_t run_values(size_t i) const {
        return wr_next_ != nullptr && i + 1 == runs_.size() ? wr_next_ - runs_[i].from : runs_[i].n;
    }
    // rd_..rd_end_ caches the rest of run cur_ as it was when found; `taken_` counts its
    // values read before rd_base_.
    void forget_position() {
        taken_ += rd_ - rd_base_;
        rd_ = rd_end_ = rd_base_ = nullptr;
    }
    void find_position() {
        if (empty()) {
            std::fputs("csim: read from an empty stream (its producer wrote fewer than its consumer reads)\n", stderr);
            std::abort();
        }
        forget_position();
        while (taken_ == run_values(cur_)) {  // a value is left, so a later run holds it
            ++cur_;
            taken_ = 0;
        }
        const Run& r = runs_[cur_];
        const T* base = r.from != nullptr ? r.from : own_.data() + r.at;
        rd_base_ = rd_ = base + taken_;
        rd_end_ = base + run_values(cur_);
    }
    // Drained: start over in the same memory.
    void restart() {
        runs_.clear();
        own_.clear();
        cur_ = 0;
        taken_ = 0;
        rd_ = rd_end_ = rd_base_ = nullptr;
        wr_next_ = wr_limit_ = nullptr;
    }

    HostVector<Run> runs_;
    HostVector<T> own_;
    size_t cur_ = 0;  // the run being read
    int64_t taken_ = 0;
    const T* rd_ = nullptr;
    const T* rd_end_ = nullptr;
    const T* rd_base_ = nullptr;
    const T* wr_next_ = nullptr;
    const T* wr_limit_ = nullptr;
    int64_t written_ = 0, read_ = 0;
};

}  // namespace lhk::csim

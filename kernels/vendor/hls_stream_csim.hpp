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
#include <cstdio>
#include <cstdlib>
#include <vector>

#ifdef __SYNTHESIS__
#error "hls_stream_csim.hpp is C simulation's stand-in for hls_stream.h: synthesis includes the vendor's"
#endif

namespace lhk::csim {

template <class T>
using HostVector = std::vector<T>;  // host memory: C simulation only

// Storage of finished FIFOs, kept for the next ones: a kernel call streams every weight of
// the model (61 MB a token for the stories15M shape in fp32), and fresh memory for each
// call would cost more page faults than the simulation itself.
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
            q_ = std::move(spare.back());
            spare.pop_back();
        }
    }
    Fifo(const Fifo&) = delete;
    Fifo& operator=(const Fifo&) = delete;
    ~Fifo() {
        if (!empty()) {
            std::fprintf(stderr, "csim: a stream was left holding %zu values (its consumer read fewer than its producer wrote)\n",
                         q_.size() - head_);
            std::abort();
        }
        q_.clear();
        spare_storage<T>().push_back(std::move(q_));
    }
    void write(const T& v) { q_.push_back(v); }
    T read() {
        if (empty()) {
            std::fputs("csim: read from an empty stream (its producer wrote fewer than its consumer reads)\n", stderr);
            std::abort();
        }
        const T v = q_[head_++];
        if (head_ == q_.size()) {  // drained: start over in the same memory
            q_.clear();
            head_ = 0;
        }
        return v;
    }
    bool empty() const { return head_ == q_.size(); }

private:
    // Writes append, reads advance head_: in C simulation a region's producers run before its
    // consumers, so the whole stream is written first and then read once.
    HostVector<T> q_;
    size_t head_ = 0;
};

}  // namespace lhk::csim

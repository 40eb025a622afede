// The kernels' table of traced ops and loops (LHK_TRACE_OPS, LHK_TRACE_LOOPS in
// kernels/hls_trace.hpp) against what uses it: every loop has a name the trace reader
// prints, a rule the estimator times it by, and a trace point in the kernels, seen in C
// simulation under the op its line names. A loop added to the table without its kernel code,
// or kernel code that stops tracing a loop, fails here; one without its datapath fails to
// build (host/cycle_model.cpp).
#include <map>
#include <regex>
#include <set>

#include "backends/hls_csim/hls_csim.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/packing.hpp"
#include "host/trace.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using lhk::LoopId;
using lhk::TraceOp;

// The ops under which each loop ran in a trace.
using Seen = std::map<LoopId, std::set<TraceOp>>;

void collect(const hls::Trace& t, Seen* seen) {
    for (const hls::TraceOpRun& op : t.ops)
        for (const hls::TraceStep& s : op.steps)
            for (const hls::TraceLoop& l : s.loops) (*seen)[l.id].insert(op.op);
}

// llama_forward in every mode: fp32, int8 and 4-bit weights, host-sampled, device-greedy and prefill.
Seen seen_in_forward_passes() {
    Seen seen;
    const ModelConfig c = parse_shape("stories260K");
    for (int gs : {0, 4})  // stories260K: dim 64, hidden 172
        for (hls::DecodeMode mode : {hls::DecodeMode::HostSampled, hls::DecodeMode::DeviceGreedy})
            collect(hls::trace_forward(c, 3, gs, mode), &seen);
    for (int gs : {0, 4})  // and its prefill mode
        collect(hls::trace_prefill(c, 3, 5, gs, lhk::kPromptLogitsLast), &seen);
    // 4-bit weights (whole Q8_K blocks: dim 256): layer matrices Q4_0, the classifier in 8-bit codes.
    const ModelConfig q4 = parse_shape("dim=256,hidden=512,layers=1,heads=4,kv_heads=4,vocab=64,seq=8");
    const int cls = 2 * lhk::kQ4Classifier;
    const int formats = (hls::q4_uniform_formats(lhk::kQ4FormatQ4_0) & ~(3 << cls)) | (lhk::kQ4FormatBytes << cls);
    for (hls::DecodeMode mode : {hls::DecodeMode::HostSampled, hls::DecodeMode::DeviceGreedy})
        collect(hls::trace_forward(q4, 3, hls::q4_precision(formats), mode), &seen);
    return seen;
}

// The per-op tops: a token through hls-csim op by op, and op_softmax (which the forward pass
// does not call on its own).
Seen seen_in_per_op_tops() {
    test::TempDir tmp;
    write_synthetic_model(parse_shape("stories260K"), tmp.file("m.bin"), 1);
    Model model = Model::open(tmp.file("m.bin"));
    BackendOptions o;
    o.fused = false;
    auto b = make_hls_csim_backend(o);
    b->load(model);
    Seen seen;
    hls::TraceRecorder rec;
    b->forward(1, 0);
    std::vector<float> x(40, 0.5f);
    b->softmax(x.data(), int(x.size()));
    collect(rec.take(), &seen);
    return seen;
}

lhk::Design compiled() { return lhk::kDesign; }

TEST(HlsLoopTable, NamesAreTheTraceReadersAndDistinct) {
    std::set<std::string> names;
    const std::regex snake("[a-z][a-z0-9_]*");
    for (const lhk::LoopInfo& l : lhk::kLoops) {
        SCOPED_TRACE(l.name);
        EXPECT_EQ(std::string(hls::loop_name(l.id)), l.name);
        EXPECT_TRUE(std::regex_match(std::string(l.name), snake));
        EXPECT_TRUE(names.insert(l.name).second) << "two loops named " << l.name;
    }
    EXPECT_EQ(names.size(), size_t(lhk::kNumLoops));
    std::set<std::string> ops;
    for (int i = 0; i < lhk::kNumTraceOps; ++i) EXPECT_TRUE(ops.insert(hls::trace_op_name(TraceOp(i))).second);
    EXPECT_EQ(ops.count("io"), 0u);  // the name of loops outside any op
    EXPECT_STREQ(hls::trace_op_name(TraceOp::Count), "io");
}

// Every loop has the estimator's rule: the copies' by kind, the others' datapath (a loop
// without one would get the placeholder depth of 1; every real one has memory or operators
// on its path). Engines take weights.
TEST(HlsLoopTable, EveryLoopHasAnEstimatorRule) {
    hls::BoardSpec board = hls::load_board(test::source_dir() + "/configs/boards/zcu106.json");
    const hls::OperatorLatencies lat = hls::OperatorLatencies::of(board, 300);
    const hls::OperatorLatencies copy_lat;  // defaults: every operator 1 cycle, memory 2
    for (const lhk::LoopInfo& l : lhk::kLoops) {
        SCOPED_TRACE(l.name);
        double ii = 0, depth = 0;
        hls::loop_timing(l.id, compiled(), lat, &ii, &depth);
        EXPECT_GE(ii, 1);
        EXPECT_GT(depth, 1);
        if (l.rule == lhk::LoopRule::PortCopy || l.rule == lhk::LoopRule::LocalCopy) {
            hls::loop_timing(l.id, compiled(), copy_lat, &ii, &depth);
            EXPECT_EQ(ii, 1);
            EXPECT_EQ(depth, l.rule == lhk::LoopRule::PortCopy ? 4 : 3);
        }
        if (l.rule == lhk::LoopRule::Engine) {
            EXPECT_GT(hls::engine_weight_bytes(l.id, compiled()), 0);
        }
    }
    double ii = 0, depth = 0;
    hls::loop_timing(LoopId::Count, compiled(), lat, &ii, &depth);
    EXPECT_EQ(depth, 1);  // the placeholder the check above tells apart
}

// Every loop's trace point exists: the loop shows up in C simulation, under the op of its
// line (op Count: only in the per-op tops, never in llama_forward).
TEST(HlsLoopTable, EveryLoopIsTracedUnderItsOp) {
    const Seen forward = seen_in_forward_passes();
    const Seen per_op = seen_in_per_op_tops();
    for (const lhk::LoopInfo& l : lhk::kLoops) {
        SCOPED_TRACE(l.name);
        const auto f = forward.find(l.id);
        if (l.op == TraceOp::Count) {
            EXPECT_EQ(f, forward.end()) << "runs in llama_forward, under " << hls::trace_op_name(*f->second.begin());
            EXPECT_NE(per_op.find(l.id), per_op.end()) << "no per-op top traced it";
            continue;
        }
        if (f == forward.end()) {
            ADD_FAILURE() << "llama_forward never traced it (in fp32, int8, 4-bit, host-sampled or greedy)";
            continue;
        }
        EXPECT_EQ(f->second.count(l.op), 1u) << "not traced under its op " << hls::trace_op_name(l.op);
    }
}

}  // namespace
}  // namespace lhb

// The estimator's description of other designs (host/board.hpp DesignTraits), checked by
// hand: a 4-bit engine, an HBM-channel design, a bare-metal host, ops fused in one dataflow
// pipeline, the shape-only op list against the kernels' trace, and `bench validate`
// against the published designs (configs/published/).
#include <cmath>

#include "core/error.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/shape_trace.hpp"
#include "host/validation.hpp"
#include "tests/board_fixture.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using nlohmann::json;

std::string repo(const std::string& rel) { return test::source_dir() + "/" + rel; }

json v(double x) { return json{{"value", x}, {"source", "test"}}; }

// A board with round numbers: 4 ports of 128 bits, 19.2 GB/s, operators as at 300 MHz.
json simple_board() { return test::simple_board_json(); }

// A design from a file: one fp32 MAC per clock unless changed.
json simple_design() {
    return {{"schema", "lhb-design/1"}, {"name", "test design"}, {"clock_mhz", 300}, {"weight_ports", 4},
            {"port_bits", 128}, {"lanes", 4}, {"partial_sums", 8}, {"burst_beats", 16}, {"outstanding", 16},
            {"kv_ports", 4}, {"flatten_rows", 1}};
}

// The simple board with HBM: 32 pseudo-channels behind 32 ports, 460 GB/s in all.
json hbm_board() {
    json bj = simple_board();
    bj["axi"]["hp_ports"] = v(32);
    bj["ddr"]["peak_gb_per_s"] = v(460);
    bj["ddr"]["channels"] = v(32);
    bj["ddr"]["kind"] = "hbm";
    return bj;
}

// The matmul op of one engine's share: rows x cols, no trace needed.
hls::TraceOpRun matmul_op(int rows, int cols) {
    hls::TraceOpRun op;
    op.op = lhk::TraceOp::MatMul;
    op.args = {rows, cols, 0, 0};
    return op;
}

int64_t matmul_bytes(const std::vector<hls::TraceStep>& steps) {
    int64_t b = 0;
    for (const hls::TraceStep& s : steps)
        for (const hls::TraceLoop& l : s.loops)
            if (l.id == lhk::LoopId::MatEngine) b += l.bytes;
    return b;
}

TEST(Validate, ShapeOpsAreTheTracedOps) {
    for (const char* shape : {"stories260K", "stories15M"})
        for (bool q8 : {false, true})
            for (auto mode : {hls::DecodeMode::HostSampled, hls::DecodeMode::DeviceGreedy})
                for (int pos : {0, 7}) {
                    const ModelConfig c = parse_shape(shape);
                    const int gs = q8 ? default_group_size(c) : 0;
                    const hls::Trace traced = hls::trace_forward(c, pos, gs, mode);
                    const hls::Trace shaped = hls::shape_trace(c, pos, gs, mode);
                    std::vector<std::pair<lhk::TraceOp, std::array<int32_t, 4>>> a, b;
                    for (const auto& o : traced.ops)
                        if (o.op != lhk::TraceOp::WeightStream) a.push_back({o.op, o.args});
                    for (const auto& o : shaped.ops) b.push_back({o.op, o.args});
                    ASSERT_EQ(a, b) << shape << " gs " << gs << " pos " << pos;
                }
}

TEST(Validate, FourBitEngineReadsAnEighthAndItsScales) {
    json j = simple_design();
    j["lanes"] = 32;
    j["weights"] = {{"bits", 4}, {"group_size", 128}, {"scale_bits", 16}, {"source", "test"}};
    const hls::DesignSpec d4 = hls::parse_design(j, "d4.json");
    EXPECT_FALSE(d4.compiled);
    EXPECT_EQ(d4.traits.weight_bits, 4);
    // 256 rows x 512 columns: 131072 weights at half a byte, 1024 groups of 2-byte scales.
    EXPECT_EQ(matmul_bytes(hls::model_op(matmul_op(256, 512), d4.d, d4.traits)), 65536 + 2048);
    // One engine: 64 rows x 16 iterations of 32 weights, II 1.
    const auto steps = hls::model_op(matmul_op(256, 512), d4.d, d4.traits);
    for (const auto& s : steps)
        for (const auto& l : s.loops)
            if (l.id == lhk::LoopId::MatEngine) {
                EXPECT_EQ(l.trips, 64 * 16);
            }
    // The same shape in fp32 with the same lanes reads 8x the weights (no scales).
    json j32 = simple_design();
    j32["lanes"] = 32;
    const hls::DesignSpec d32 = hls::parse_design(j32, "d32.json");
    EXPECT_EQ(matmul_bytes(hls::model_op(matmul_op(256, 512), d32.d, d32.traits)), 256 * 512 * 4);
    // A whole token: the matmuls' bytes are params / 2 + scales, and it is faster.
    const ModelConfig c = parse_shape("stories15M");
    const hls::BoardSpec b = hls::parse_board(simple_board(), "b");
    const auto e4 = hls::estimate_token(c, 0, d4, b);
    const auto e32 = hls::estimate_token(c, 0, d32, b);
    EXPECT_EQ(e4.precision, "int4 (groups of 128, 16-bit scales)");
    const int64_t layer = int64_t(c.dim) * c.dim * 4 + 3 * int64_t(c.dim) * c.hidden_dim;
    const int64_t weights = layer * c.n_layers + int64_t(c.vocab_size) * c.dim;
    int64_t mat = 0;
    for (const auto& l : e4.loops)
        if (l.name == "mat_engine") mat += l.bytes;
    EXPECT_EQ(mat, weights / 2 + weights / 128 * 2);
    EXPECT_GT(e4.tok_per_s, 3 * e32.tok_per_s);
}

// A 4-bit engine on 8 of an HBM board's 32 pseudo-channels, on paper: a matmul of 2048 rows x
// 4096 columns over 8 engines is 256 rows each; a 128-bit beat holds 32 4-bit weights, so 128
// iterations a row, 32,768 in all at II 1. An engine reads 256 x 4096 / 2 = 524,288 bytes of
// weights and 256 x 4096 / 128 x 2 = 16,384 of 16-bit scales: 540,672 bytes. Its port moves 16
// bytes a cycle at 300 MHz in 16-beat bursts with one idle cycle (16/17), its 16 outstanding
// bursts cover the 30-cycle read latency (100 ns at 300 MHz; rate 1): 540,672 x 17 / 256 + 30
// = 35,934 cycles, more than its 32,768 iterations: port-bound. The 8 channels' share of the
// peak (460 / 4 x 0.8 GB/s = 306.67 bytes a cycle) moves the engine's bytes in 1,793 cycles.
TEST(Validate, FourBitEngineOnHbmChannelsByHand) {
    const hls::BoardSpec hbm = hls::parse_board(hbm_board(), "hbm.json");
    json j = simple_design();
    j["lanes"] = 32;
    j["weight_ports"] = 8;
    j["kv_ports"] = 8;
    j["weights"] = {{"bits", 4}, {"group_size", 128}, {"scale_bits", 16}, {"source", "test"}};
    const hls::DesignSpec d = hls::parse_design(j, "d4hbm.json");
    const hls::MemoryModel mem = hls::MemoryModel::of(d.d, hbm, 300, d.traits);
    EXPECT_DOUBLE_EQ(mem.port_bytes_per_cycle, 16);
    EXPECT_DOUBLE_EQ(mem.burst_efficiency, 16.0 / 17);
    EXPECT_DOUBLE_EQ(mem.port_rate, 1);
    EXPECT_NEAR(mem.latency_cycles, 30, 1e-9);
    int engines = 0;
    for (const hls::TraceStep& s : hls::model_op(matmul_op(2048, 4096), d.d, d.traits))
        for (const hls::TraceLoop& l : s.loops) {
            if (l.id != lhk::LoopId::MatEngine) continue;
            ++engines;
            EXPECT_EQ(l.trips, 32768);
            EXPECT_EQ(l.bytes, 540672);
            hls::LoopCost cost;
            cost.trips = l.trips;
            cost.port = l.port;
            cost.bytes = l.bytes;
            const hls::Cycles cy = hls::loop_cycles(cost, mem);
            EXPECT_EQ(cy.bound, hls::Bound::Port);
            EXPECT_NEAR(cy.cycles, 540672.0 * 17 / 256 + 30, 1e-6);
            EXPECT_NEAR(540672.0 / mem.ddr_bytes_per_cycle + 30, 1793.1, 0.1);
        }
    EXPECT_EQ(engines, 8);
}

TEST(Validate, HbmChannelsGiveTheirShareOfThePeak) {
    const hls::BoardSpec hbm = hls::parse_board(hbm_board(), "hbm.json");
    EXPECT_EQ(hbm.memory_channels, 32);
    EXPECT_EQ(hbm.memory_kind, "hbm");
    json j = simple_design();
    j["weight_ports"] = 8;
    j["kv_ports"] = 8;
    const hls::DesignSpec d8 = hls::parse_design(j, "d8.json");
    // 8 of 32 channels: 460 / 4 GB/s x 0.8 usable, at 300 MHz = 306.67 bytes a cycle.
    EXPECT_NEAR(hls::MemoryModel::of(d8.d, hbm, 300, d8.traits).ddr_bytes_per_cycle, 115e9 * 0.8 / 300e6, 1e-9);
    j["weight_ports"] = 32;
    j["kv_ports"] = 32;
    const hls::DesignSpec d32 = hls::parse_design(j, "d32.json");
    EXPECT_NEAR(hls::MemoryModel::of(d32.d, hbm, 300, d32.traits).ddr_bytes_per_cycle, 460e9 * 0.8 / 300e6, 1e-9);
    // The file may say how many channels the weights are spread over.
    j["memory"] = {{"channels", 16}, {"source", "test"}};
    const hls::DesignSpec d16 = hls::parse_design(j, "d16.json");
    EXPECT_NEAR(hls::MemoryModel::of(d16.d, hbm, 300, d16.traits).ddr_bytes_per_cycle, 230e9 * 0.8 / 300e6, 1e-9);
    // A one-controller board (no channels field) is not split.
    EXPECT_NEAR(hls::MemoryModel::of(d8.d, hls::parse_board(simple_board(), "b"), 300, d8.traits).ddr_bytes_per_cycle,
                19.2e9 * 0.8 / 300e6, 1e-9);
}

TEST(Validate, BareMetalHostPaysOnlyItsStatedCost) {
    json j = simple_design();
    j["host"] = {{"os", "bare-metal"}, {"per_token_us", 7}, {"source", "test"}};
    const hls::DesignSpec bm = hls::parse_design(j, "bm.json");
    EXPECT_TRUE(bm.traits.bare_metal);
    const hls::BoardSpec b = hls::parse_board(simple_board(), "b");
    const ModelConfig c = parse_shape("stories260K");
    const auto e = hls::estimate_token(c, 3, bm, b);
    EXPECT_DOUBLE_EQ(e.host_seconds, 7e-6);
    const auto linux_host = hls::estimate_token(c, 3, hls::parse_design(simple_design(), "l.json"), b);
    EXPECT_DOUBLE_EQ(linux_host.host_seconds, 60e-6);  // launch 10 + logits 20 + sampling 30
    EXPECT_DOUBLE_EQ(e.kernel_cycles, linux_host.kernel_cycles);
    // A bare-metal host must say what it costs.
    j["host"].erase("per_token_us");
    EXPECT_THROW(hls::parse_design(j, "bm.json"), InputError);
}

TEST(Validate, FusedOpsTakeTheLongerOfComputeAndMemory) {
    json j = simple_design();
    j["dataflow_between_ops"] = v(1);
    const hls::DesignSpec fused = hls::parse_design(j, "f.json");
    const hls::DesignSpec apart = hls::parse_design(simple_design(), "a.json");
    const hls::BoardSpec b = hls::parse_board(simple_board(), "b");
    const ModelConfig c = parse_shape("stories15M");
    const auto ef = hls::estimate_token(c, 10, fused, b);
    const auto ea = hls::estimate_token(c, 10, apart, b);
    const hls::MemoryModel mem = hls::MemoryModel::of(fused.d, b, 300, fused.traits);
    const double memory = double(ef.total_bytes) / mem.ddr_bytes_per_cycle + mem.latency_cycles;
    EXPECT_DOUBLE_EQ(ef.kernel_cycles, std::max(ef.compute_cycles, memory));
    EXPECT_LE(ef.kernel_cycles, ea.kernel_cycles);
    EXPECT_EQ(ef.total_bytes, ea.total_bytes);
    double ops = 0;
    for (const auto& [name, cy] : ef.kernel_op_cycles) ops += cy;
    EXPECT_NEAR(ops, ef.kernel_cycles, 1e-6 * ef.kernel_cycles);
}

TEST(Validate, ResourcesOfEveryComputeUnit) {
    const hls::BoardSpec zcu = hls::load_board(repo("configs/boards/zcu106.json"));
    const hls::ResourceEstimate r = hls::estimate_resources(lhk::kDesign, zcu);
    ASSERT_EQ(r.units.size(), hls::compute_units().size());
    EXPECT_EQ(r.units.front().unit, "llama_forward");
    double dsp = 0, lut = 0, ff = 0, bram = 0;
    for (const auto& u : r.units) {
        EXPECT_GT(u.lut, 0) << u.unit;
        EXPECT_GT(u.ff, 0) << u.unit;
        dsp += u.dsp;
        lut += u.lut;
        ff += u.ff;
        bram += u.bram36;
    }
    EXPECT_DOUBLE_EQ(r.xclbin.dsp, dsp);
    EXPECT_DOUBLE_EQ(r.xclbin.lut, lut);
    EXPECT_DOUBLE_EQ(r.xclbin.ff, ff);
    EXPECT_DOUBLE_EQ(r.xclbin.bram36, bram);
    EXPECT_DOUBLE_EQ(r.lut, r.units.front().lut);
    EXPECT_EQ(r.lut_avail, 230400);
    // The per-op kernels repeat llama_forward's engines: together they exceed one kernel.
    EXPECT_GT(r.xclbin.dsp, r.dsp);
    EXPECT_EQ(r.xclbin_fits, r.xclbin.dsp <= zcu.dsp && r.xclbin.lut <= zcu.lut && r.xclbin.ff <= zcu.ff &&
                                 r.xclbin.bram36 <= zcu.bram36 && r.xclbin.uram <= zcu.uram);
    // Fabric grows with the lanes.
    lhk::Design wide = lhk::kDesign;
    wide.lanes *= 2;
    EXPECT_GT(hls::estimate_resources(wide, zcu).lut, r.lut);
    // A board without LUT/FF counts checks DSP, BRAM and URAM only.
    const hls::ResourceEstimate nolut = hls::estimate_resources(lhk::kDesign, hls::parse_board(simple_board(), "b"));
    EXPECT_EQ(nolut.lut_avail, 0);
    EXPECT_EQ(nolut.fits, nolut.dsp <= 1000 && nolut.bram36 <= 100 && nolut.uram <= 10);
}

// The two xclbins of the ZCU106 (kernels/vitis/zcu106.cfg and zcu106_ops.cfg): together the
// compute units do not fit the XCZU7EV, llama_forward alone does, and so do the per-op
// kernels alone.
TEST(Validate, MainAndPerOpXclbinsEachFitTheZcu106) {
    const hls::BoardSpec zcu = hls::load_board(repo("configs/boards/zcu106.json"));
    const hls::ResourceEstimate r = hls::estimate_resources(lhk::kDesign, zcu);
    EXPECT_FALSE(r.xclbin_fits) << "if every unit fits in one xclbin, zcu106_ops.cfg is not needed";
    EXPECT_TRUE(r.fits) << r.detail.dump(1);
    EXPECT_LE(r.lut, zcu.lut);
    EXPECT_LE(r.ff, zcu.ff);
    hls::ResourceTotals ops;
    for (size_t u = 1; u < r.units.size(); ++u) {
        ops.dsp += r.units[u].dsp;
        ops.bram36 += r.units[u].bram36;
        ops.uram += r.units[u].uram;
        ops.lut += r.units[u].lut;
        ops.ff += r.units[u].ff;
    }
    EXPECT_LE(ops.dsp, zcu.dsp);
    EXPECT_LE(ops.bram36, zcu.bram36);
    EXPECT_LE(ops.uram, zcu.uram);
    EXPECT_LE(ops.lut, zcu.lut);
    EXPECT_LE(ops.ff, zcu.ff);
}

// The seed's resources from its structure (configs/designs/published-zcu106.json at its
// csynth shape: dim 288, hidden 768, 6 heads, seq 257), on paper with the ZCU106 board's
// operators (fadd 2 DSP, fmul 3, fexp 7, fdiv and fsqrt 0) and the design's
// resource_structure (operators as its report binds them, two rmsnorm instances):
//   matmul 1 fmul + 1 fadd                                   5
//   rmsnorm: squares 1 fmul + 1 fadd, scaling 8 x 2 fmul     2 * (2 + 3 * 17) = 106 (two instances)
//   RoPE: bound to 96 fmul + 56 fadd                          288 + 112 = 400
//   scores 1 + 1, weighted sum 1 + 1                          10
//   softmax: 2 fadd, 1 fexp, 32 fmul (its unrolled scaling)   4 + 7 + 96 = 107
//   residual 32 fadd                                          64
//   SwiGLU bound to 7 fexp + 7 fdiv (its sums and products    7 * 7 = 49
//   on the kernel's shared cores)
//   DSP = 741 (csynth: 700).
// BRAM_18K: S_att is 6 x 257 floats in 32 banks of 49 words (1568 bits > 1024: block RAM,
// 2 BRAM18 a bank) = 64; the 9- and 24-word banks are LUT RAM; m_axi: 512 bits / 18 = 29
// BRAM18 a buffer of 64 x 16 beats, 3 read-only bundles and 1 read-write (2 buffers) = 145;
// 209 in all (csynth: 209).
TEST(Validate, SeedResourcesFromItsStructure) {
    const hls::DesignSpec seed = hls::load_design(repo("configs/designs/published-zcu106.json"));
    const hls::BoardSpec zcu = hls::load_board(repo("configs/boards/zcu106.json"));
    const ModelConfig c = parse_shape("dim=288,hidden=768,layers=6,heads=6,kv_heads=6,vocab=32000,seq=257");
    const hls::ResourceEstimate r = hls::estimate_resources(seed, c, zcu);
    EXPECT_DOUBLE_EQ(r.dsp, 741);
    EXPECT_DOUBLE_EQ(2 * r.bram36, 209);
    ASSERT_EQ(r.units.size(), 1u);  // one kernel, no per-op units
    // Twice the partitions: the 49-word banks become 25 words (800 bits: LUT RAM), so only
    // the m_axi buffers are block RAM.
    hls::DesignSpec finer = seed;
    finer.traits.array_partition = 64;
    EXPECT_DOUBLE_EQ(2 * hls::estimate_resources(finer, c, zcu).bram36, 145);
    // Our kernels' designs keep their own resource model.
    EXPECT_DOUBLE_EQ(hls::estimate_resources(hls::compiled_design(), c, zcu).dsp,
                     hls::estimate_resources(lhk::kDesign, zcu).dsp);
}

// The seed's softmax scaling (32 lanes, unaligned over 32 banks of S_att), on paper with the
// rule of host/resources.cpp: reads 32 lanes x 32 bits x 32/4 LUT6 = 8,192; writes 32 banks x
// (32 data + 6 address (49 words a bank) + 1 enable) bits x 32/4 = 9,984; each lane's index
// adder and trip-count compare 32 x 2 x 32 = 2,048: 20,224 LUT. Registers: 2 directions x 32
// lanes x 32 banks x 32 bits = 65,536 FF. Without the unaligned access the part is absent.
TEST(Validate, SeedSoftmaxCrossbarFromItsStructure) {
    const hls::DesignSpec seed = hls::load_design(repo("configs/designs/published-zcu106.json"));
    const hls::BoardSpec zcu = hls::load_board(repo("configs/boards/zcu106.json"));
    const ModelConfig c = parse_shape("dim=288,hidden=768,layers=6,heads=6,kv_heads=6,vocab=32000,seq=257");
    auto crossbar = [&](const hls::DesignSpec& d) {
        for (const json& part : hls::estimate_resources(d, c, zcu).detail)
            if (part.at("part").get<std::string>().find("crossbar") != std::string::npos) return part;
        return json();
    };
    const json x = crossbar(seed);
    ASSERT_TRUE(x.is_object());
    EXPECT_DOUBLE_EQ(x.at("lut").get<double>(), 20224);
    EXPECT_DOUBLE_EQ(x.at("ff").get<double>(), 65536);
    hls::DesignSpec aligned = seed;
    aligned.traits.unaligned_unroll.clear();
    EXPECT_TRUE(crossbar(aligned).is_null());
    EXPECT_DOUBLE_EQ(hls::estimate_resources(seed, c, zcu).ff - hls::estimate_resources(aligned, c, zcu).ff, 65536);
}

// The whole kernel's FF are checked in the published file's band (+-25%); the seed described
// without its resource structure (operators as written, one rmsnorm, no crossbar) leaves it,
// and the check says so.
TEST(Validate, SeedFlipFlopsCheckedAndFailOutsideTheBand) {
    auto ff_of = [](const hls::PublishedCheck& c) {
        for (const hls::FigureCheck& f : c.csynth)
            if (f.what == "FF (whole kernel)") return f;
        return hls::FigureCheck{};
    };
    const hls::FigureCheck ff = ff_of(hls::check_published(repo("configs/published/seed-zcu106.json")));
    EXPECT_TRUE(ff.checked());
    EXPECT_DOUBLE_EQ(ff.band_percent, 25);
    EXPECT_TRUE(ff.pass()) << ff.error_percent();
    const test::TempDir dir;
    json design = json::parse(test::read_file(repo("configs/designs/published-zcu106.json")));
    design.erase("resource_structure");
    test::write_file(dir.file("plain.json"), design.dump());
    json seed = json::parse(test::read_file(repo("configs/published/seed-zcu106.json")));
    seed["design"] = dir.file("plain.json");
    seed["board"] = repo("configs/boards/zcu106.json");
    json plain_seed = seed;
    plain_seed["csynth"]["resources"].erase("modules");  // they name the crossbar the plain design lacks
    test::write_file(dir.file("seed.json"), plain_seed.dump());
    const hls::PublishedCheck plain = hls::check_published(dir.file("seed.json"));
    EXPECT_TRUE(ff_of(plain).checked());
    EXPECT_FALSE(ff_of(plain).pass()) << ff_of(plain).error_percent();
    EXPECT_FALSE(plain.pass());
    // Per-module rows name parts of the model; a label that names none is refused.
    seed["design"] = repo("configs/designs/published-zcu106.json");
    seed["csynth"]["resources"]["modules"][0]["parts"] = {"no such part"};
    test::write_file(dir.file("badpart.json"), seed.dump());
    EXPECT_THROW(hls::check_published(dir.file("badpart.json")), InputError);
}

TEST(Validate, DesignTraitsRejectBadFields) {
    auto bad = [](const char* key, json value) {
        json j = simple_design();
        j[key] = value;
        EXPECT_THROW(hls::parse_design(j, "d.json"), InputError) << key << " " << value.dump();
    };
    bad("weights", {{"bits", 5}, {"group_size", 64}, {"scale_bits", 16}, {"source", "x"}});
    bad("weights", {{"bits", 4}, {"scale_bits", 16}, {"source", "x"}});  // no group size
    bad("weights", {{"bits", 4}, {"group_size", 64}, {"scale_bits", 16}});  // no source
    bad("kv_cache", {{"bits", 3}, {"source", "x"}});
    bad("host", {{"os", "windows"}, {"per_token_us", 1}, {"source", "x"}});
    bad("dataflow_between_ops", 1);  // a design's knob carries its source
    bad("loop_structure", {{"attention", "sideways"}, {"source", "x"}});
    bad("operator_latencies", {{"fmac", 3}, {"source", "x"}});
    bad("loop_structure", {{"unroll", {{"mat_engine", 4}}}, {"source", "x"}});  // element-wise loops only
    bad("loop_structure", {{"array_partition", 0}, {"source", "x"}});
    bad("axi_bundles", {{"read_only", 0}, {"read_write", 0}, {"source", "x"}});  // no bundle at all
    bad("axi_bundles", {{"read_only", 2}, {"read_write", 1}});                   // no source
    bad("resource_structure", {{"bound_operators", {{"matmul", {{"fmul", 1}}}}}, {"source", "x"}});  // unknown part
    bad("resource_structure", {{"bound_operators", {{"rope", {{"fmac", 1}}}}}, {"source", "x"}});    // unknown operator
    bad("resource_structure", {{"instances", {{"rmsnorm", 0}}}, {"source", "x"}});
    bad("resource_structure", {{"unaligned_unroll", {"residual"}}, {"source", "x"}});
    bad("resource_structure", {{"instances", {{"rmsnorm", 2}}}});  // no source
    // The project's own design file is still the compiled kernels.
    EXPECT_TRUE(hls::load_design(repo("configs/designs/llama-hls.json")).compiled);
}

TEST(Validate, PublishedDesignsStayInTheirBands) {
    for (const std::string& f : hls::published_files(hls::default_published_dir())) {
        const hls::PublishedCheck c = hls::check_published(f);
        EXPECT_TRUE(c.tok_per_s.checked()) << f;
        EXPECT_TRUE(c.pass()) << f << ": " << c.to_json().dump(1);
    }
}

TEST(Validate, BenchValidatePassesAndFailsOutsideItsBand) {
    const test::TempDir dir;
    const test::CommandResult ok = test::run_bench("validate --json '" + dir.file("v.json") + "'");
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("8.71"), std::string::npos);
    EXPECT_NE(ok.out.find("kernel_forward (one token) cycles"), std::string::npos);
    const json out = json::parse(test::read_file(dir.file("v.json")));
    EXPECT_EQ(out.at("schema"), "lhb-validation/1");
    EXPECT_TRUE(out.at("pass").get<bool>());
    EXPECT_GE(out.at("designs").size(), 2u);
    // The report's flat rows: one a design, the published figure beside the estimate.
    ASSERT_EQ(out.at("rows").size(), out.at("designs").size());
    for (const json& row : out.at("rows")) {
        for (const char* key : {"design", "board", "model", "published_tok_per_s", "source", "estimated_tok_per_s",
                                "error_percent", "band_percent", "pass"})
            EXPECT_TRUE(row.contains(key)) << key;
        const double pub = row.at("published_tok_per_s"), est = row.at("estimated_tok_per_s");
        EXPECT_NEAR(row.at("error_percent").get<double>(), 100 * (est - pub) / pub, 1e-9);
        EXPECT_TRUE(row.at("pass").get<bool>());
    }
    EXPECT_NE(ok.out.find("BRAM_18K (whole kernel)"), std::string::npos);
    // The seed's file with a band no estimate meets: exit 1, the row marked.
    json seed = json::parse(test::read_file(repo("configs/published/seed-zcu106.json")));
    seed["band_percent"] = 0.1;
    seed["design"] = repo("configs/designs/published-zcu106.json");
    seed["board"] = repo("configs/boards/zcu106.json");
    test::write_file(dir.file("tight.json"), seed.dump());
    const test::CommandResult tight = test::run_bench("validate --file '" + dir.file("tight.json") + "'");
    EXPECT_EQ(tight.exit_code, 1) << tight.out << tight.err;
    EXPECT_NE(tight.out.find("FAIL"), std::string::npos);
    // A malformed file: one line naming it, exit 1.
    seed.erase("published_tok_per_s");
    test::write_file(dir.file("bad.json"), seed.dump());
    const test::CommandResult bad = test::run_bench("validate --file '" + dir.file("bad.json") + "'");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("published_tok_per_s"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace lhb

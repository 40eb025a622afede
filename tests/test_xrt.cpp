// zcu106-xrt where there is no board: it must say why it cannot run, in one line, without
// crashing, hanging or letting XRT end the process; and it must tell a bad xclbin apart.
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "backends/xrt/xrt_names.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

// A minimal xclbin (the axlf container of XRT's xclbin.h): the header, an
// EMBEDDED_METADATA section declaring the kernels and an IP_LAYOUT section with one
// compute unit each. Enough for xrt::xclbin to parse and list kernels; no bitstream.
std::string tiny_xclbin(const std::vector<std::string>& kernels) {
    std::string xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project name=\"t\"><platform vendor=\"xilinx\" "
        "boardid=\"zcu106\" name=\"t\" featureRomTime=\"0\"><version major=\"1\" minor=\"0\"/>"
        "<device name=\"fpga0\" fpgaDevice=\"zynquplus:xczu7ev:ffvc1156:-2:e\" addrWidth=\"0\">"
        "<core name=\"OCL_REGION_0\" target=\"hw\" type=\"clc_region\" clockFreq=\"300MHz\" numComputeUnits=\"1\">";
    for (size_t i = 0; i < kernels.size(); ++i) {
        const std::string& k = kernels[i];
        char base[32];
        std::snprintf(base, sizeof base, "0x%llX", 0xA0000000ull + 0x10000ull * i);
        xml += "<kernel name=\"" + k + "\" language=\"c\" vlnv=\"xilinx.com:hls:" + k +
               ":1.0\" preferredWorkGroupSizeMultiple=\"0\" workGroupSize=\"1\" interrupt=\"true\" "
               "hwControlProtocol=\"ap_ctrl_hs\"><port name=\"S_AXI_CONTROL\" mode=\"slave\" range=\"0x1000\" "
               "dataWidth=\"32\" portType=\"addressable\" base=\"0x0\"/><arg name=\"n\" addressQualifier=\"0\" "
               "id=\"0\" port=\"S_AXI_CONTROL\" size=\"0x4\" offset=\"0x10\" hostOffset=\"0x0\" hostSize=\"0x4\" "
               "type=\"int\"/><instance name=\"" + k + "_1\"><addrRemap base=\"" + base +
               "\" range=\"0x10000\" port=\"S_AXI_CONTROL\"/></instance></kernel>";
    }
    xml += "</core></device></platform></project>";
    while (xml.size() % 8) xml += ' ';
    // ip_layout: int32 count, then 80-byte ip_data {u32 type, u32 properties, u64 base, char name[64]}
    std::string ip(8, '\0');
    const int32_t count = int32_t(kernels.size());
    std::memcpy(ip.data(), &count, 4);
    for (size_t i = 0; i < kernels.size(); ++i) {
        std::string d(80, '\0');
        const uint32_t ip_kernel = 1, properties = 1 | (1u << 8);  // interrupt on, ap_ctrl_hs
        const uint64_t base = 0xA0000000ull + 0x10000ull * i;
        std::memcpy(d.data(), &ip_kernel, 4);
        std::memcpy(d.data() + 4, &properties, 4);
        std::memcpy(d.data() + 8, &base, 8);
        std::string name = kernels[i] + ":" + kernels[i] + "_1";
        std::memcpy(d.data() + 16, name.data(), std::min<size_t>(name.size(), 63));
        ip += d;
    }
    const size_t kSections = 2, kHeader = 496 + 40 * (kSections - 1);
    std::string out(kHeader, '\0');
    auto put = [&](size_t off, const void* p, size_t n) { std::memcpy(out.data() + off, p, n); };
    put(0, "xclbin2", 8);
    const int32_t no_signature = -1;
    put(8, &no_signature, 4);
    std::memset(out.data() + 12, 0xff, 28);
    const size_t hdr = 304;  // struct axlf_header
    const uint64_t length = kHeader + xml.size() + ip.size();
    put(hdr + 0, &length, 8);
    const uint8_t major = 2, minor = 1;
    put(hdr + 26, &major, 1);
    put(hdr + 27, &minor, 1);
    put(hdr + 112, "0123456789abcdef", 16);  // uuid
    const uint32_t sections = kSections;
    put(hdr + 144, &sections, 4);
    auto section = [&](size_t i, uint32_t kind, uint64_t offset, uint64_t size) {
        const size_t h = hdr + 152 + 40 * i;  // struct axlf_section_header
        put(h + 0, &kind, 4);
        put(h + 24, &offset, 8);
        put(h + 32, &size, 8);
    };
    section(0, /*EMBEDDED_METADATA*/ 2, kHeader, xml.size());
    section(1, /*IP_LAYOUT*/ 8, kHeader + xml.size(), ip.size());
    return out + xml + ip;
}

struct XrtTest : ::testing::Test {
    void SetUp() override {
        ::unsetenv("XCL_EMULATION_MODE");
        ::unsetenv(xrt_backend::kXclbinEnv);
        factory = BackendRegistry::find(xrt_backend::kBackendName);
        ASSERT_NE(factory, nullptr) << "zcu106-xrt is not registered";
    }
    Availability check(const std::string& xclbin, bool fused = true) {
        BackendOptions o;
        o.xclbin = xclbin;
        o.fused = fused;
        return factory->available(o);
    }
    const BackendFactory* factory = nullptr;
    test::TempDir dir;
};

TEST_F(XrtTest, NoXclbinGivenIsTheFirstReason) {
    Availability a = check("");
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("no xclbin"), std::string::npos) << a.reason;
    EXPECT_EQ(a.reason.find('\n'), std::string::npos);
}

TEST_F(XrtTest, MissingAndCorruptXclbins) {
    Availability a = check(dir.file("nope.xclbin"));
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("nope.xclbin: no such file"), std::string::npos) << a.reason;

    test::write_file(dir.file("junk.xclbin"), std::string(600, 'x'));
    a = check(dir.file("junk.xclbin"));
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("junk.xclbin: not a valid xclbin"), std::string::npos) << a.reason;

    std::string good = tiny_xclbin({"llama_forward"});
    test::write_file(dir.file("cut.xclbin"), good.substr(0, 300));  // XRT itself crashes on this one
    a = check(dir.file("cut.xclbin"));
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("cut.xclbin: not a valid xclbin"), std::string::npos) << a.reason;

    std::string overrun = good;
    const uint64_t huge = 1ull << 40;
    std::memcpy(overrun.data() + 304 + 152 + 32, &huge, 8);  // section 0's size
    test::write_file(dir.file("overrun.xclbin"), overrun);
    a = check(dir.file("overrun.xclbin"));
    EXPECT_NE(a.reason.find("runs past the end"), std::string::npos) << a.reason;

    test::write_file(dir.file("short.xclbin"), good.substr(0, good.size() - 1));
    a = check(dir.file("short.xclbin"));
    EXPECT_NE(a.reason.find("header says"), std::string::npos) << a.reason;
}

TEST_F(XrtTest, XclbinWithoutOurKernels) {
    test::write_file(dir.file("vadd.xclbin"), tiny_xclbin({"vadd"}));
    Availability a = check(dir.file("vadd.xclbin"));
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("has no llama_forward kernel"), std::string::npos) << a.reason;

    // The fused forward needs only llama_forward; per-op mode needs every op kernel too.
    test::write_file(dir.file("fwd.xclbin"), tiny_xclbin({"llama_forward"}));
    a = check(dir.file("fwd.xclbin"), /*fused=*/false);
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("has no op_rmsnorm kernel"), std::string::npos) << a.reason;

    // The embedded boards' per-op xclbin (llama_ops.xclbin) holds the op kernels alone: fine
    // for per-op mode, refused for the fused forward.
    std::vector<std::string> ops;
    for (const char* k : xrt_backend::kOpKernels) ops.push_back(k);
    test::write_file(dir.file("ops.xclbin"), tiny_xclbin(ops));
    a = check(dir.file("ops.xclbin"), /*fused=*/false);
    EXPECT_EQ(a.reason.rfind("no device: ", 0), 0u) << a.reason;
    a = check(dir.file("ops.xclbin"));
    EXPECT_NE(a.reason.find("has no llama_forward kernel"), std::string::npos) << a.reason;
}

TEST_F(XrtTest, GoodXclbinButNoDevice) {
    std::vector<std::string> all = {xrt_backend::kForwardKernel};
    for (const char* k : xrt_backend::kOpKernels) all.push_back(k);
    test::write_file(dir.file("llama.xclbin"), tiny_xclbin(all));
    for (bool fused : {true, false}) {
        Availability a = check(dir.file("llama.xclbin"), fused);
        EXPECT_FALSE(a.available) << "this machine has no FPGA";
        EXPECT_EQ(a.reason.rfind("no device: ", 0), 0u) << a.reason;
    }
    // The environment variable is the fallback for the path.
    ::setenv(xrt_backend::kXclbinEnv, dir.file("llama.xclbin").c_str(), 1);
    EXPECT_EQ(check("").reason.rfind("no device: ", 0), 0u) << check("").reason;
    ::unsetenv(xrt_backend::kXclbinEnv);
}

TEST_F(XrtTest, EmulationModeIsRefusedNotEntered) {
    ::setenv("XCL_EMULATION_MODE", "hw_emu", 1);
    Availability a = check(dir.file("any.xclbin"));
    ::unsetenv("XCL_EMULATION_MODE");
    EXPECT_FALSE(a.available);
    EXPECT_NE(a.reason.find("XCL_EMULATION_MODE"), std::string::npos) << a.reason;
}

TEST_F(XrtTest, CreatingItFailsWithOneLineAndBenchSaysWhy) {
    try {
        BackendRegistry::create(xrt_backend::kBackendName, BackendOptions{});
        ADD_FAILURE() << "created a board backend with no board";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("not available here"), std::string::npos) << e.what();
    }
    auto r = test::run_bench("list");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("| zcu106-xrt | no | no xclbin given"), std::string::npos) << r.out;

    test::write_file(dir.file("junk.xclbin"), "junk");
    r = test::run_bench("generate model.bin --backend zcu106-xrt --xclbin '" + dir.file("junk.xclbin") + "'");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("not a valid xclbin"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

}  // namespace
}  // namespace lhb

// kernels/ must stay synthesizable: no heap, no recursion, no virtual calls, no standard
// library containers, no exceptions, every loop bounded (a compile-time bound or a
// LOOP_TRIPCOUNT pragma). Two checks, each tested against deliberately bad snippets:
//  * a source scan (comments and strings stripped) for forbidden constructs and for loops
//    whose bound is a runtime value without LOOP_TRIPCOUNT (kernels/vendor/, the
//    C-simulation stand-ins for vendor headers, and kernels/vitis/ are passed over);
//  * a compile of every kernels/*.cpp with g++ -std=c++17 -fno-exceptions -fno-rtti
//    -fcallgraph-info=su -fstack-usage: it must compile, the call graph must have no cycle
//    (recursion, direct or mutual) and no indirect call, and no function may have an
//    unbounded stack frame (VLA, alloca).
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_support.hpp"

namespace fs = std::filesystem;

namespace lhb {
namespace {

// ---- Source scan ---------------------------------------------------------------------------

// Replaces comments and string/char literals by spaces (keeping newlines, so line numbers
// hold) and keeps preprocessor lines.
std::string strip(const std::string& s) {
    std::string out = s;
    enum { Code, Line, Block, Str, Chr } st = Code;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i], n = i + 1 < s.size() ? s[i + 1] : '\0';
        switch (st) {
            case Code:
                if (c == '/' && n == '/') st = Line, out[i] = ' ';
                else if (c == '/' && n == '*') st = Block, out[i] = ' ';
                else if (c == '"') st = Str;
                else if (c == '\'') st = Chr;
                break;
            case Line:
                if (c == '\n') st = Code;
                else out[i] = ' ';
                break;
            case Block:
                if (c == '*' && n == '/') {
                    out[i] = out[i + 1] = ' ';
                    ++i;
                    st = Code;
                } else if (c != '\n') {
                    out[i] = ' ';
                }
                break;
            case Str:
            case Chr:
                if (c == '\\') {
                    out[i] = ' ';
                    if (i + 1 < s.size()) out[++i] = ' ';
                } else if ((st == Str && c == '"') || (st == Chr && c == '\'')) {
                    st = Code;
                } else if (c != '\n') {
                    out[i] = ' ';
                }
                break;
        }
    }
    return out;
}

int line_of(const std::string& s, size_t pos) { return 1 + int(std::count(s.begin(), s.begin() + long(pos), '\n')); }

size_t matching(const std::string& s, size_t open, char o, char c) {
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
        if (s[i] == o) ++depth;
        if (s[i] == c && --depth == 0) return i;
    }
    return std::string::npos;
}

// A bound is constant when it is built only from numbers, operators, and names of
// compile-time constants: kCamelCase constants and capitalised template parameters.
bool constant_bound(const std::string& expr) {
    static const std::regex ident(R"([A-Za-z_]\w*)");
    bool any = false;
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), ident); it != std::sregex_iterator(); ++it) {
        const std::string id = it->str();
        any = true;
        const bool k_const = id.size() > 1 && id[0] == 'k' && std::isupper(static_cast<unsigned char>(id[1]));
        const bool capital = std::isupper(static_cast<unsigned char>(id[0]));
        if (!k_const && !capital) return false;
    }
    (void)any;
    return true;
}

// Violations found in one file's text, as "file:line: what".
std::vector<std::string> scan_source(const std::string& name, const std::string& raw) {
    std::vector<std::string> out;
    const std::string s = strip(raw);
    auto report = [&](size_t pos, const std::string& what) {
        out.push_back(name + ":" + std::to_string(line_of(s, pos)) + ": " + what);
    };
    struct Rule {
        const char* pattern;
        const char* what;
    };
    static const Rule rules[] = {
        {R"(\bnew\b)", "heap allocation (new)"},
        {R"(\bdelete\b)", "heap allocation (delete)"},
        {R"(\b(malloc|calloc|realloc|free|alloca|aligned_alloc)\s*\()", "heap allocation (C allocator)"},
        {R"(\bvirtual\b)", "virtual function"},
        {R"(\b(throw|try|catch)\b)", "exceptions"},
        {R"(\bgoto\b)", "goto"},
        {R"(\bwhile\s*\()", "while loop (use a bounded for loop)"},
        {R"(\bdo\s*\{)", "do-while loop (use a bounded for loop)"},
        {R"(\bstd\s*::)", "standard library (std::) in a kernel"},
        {R"(#\s*include\s*<(vector|map|unordered_map|set|unordered_set|list|forward_list|deque|queue|stack|string|memory|functional|array|iostream|sstream|thread|mutex|any|variant|optional)>)",
         "standard library container/utility header"},
    };
    for (const Rule& r : rules) {
        const std::regex re(r.pattern);
        for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
            report(size_t(it->position()), r.what);
    }
    // Loops: every for must have a compile-time bound or a LOOP_TRIPCOUNT in its own body.
    const std::regex for_re(R"(\bfor\s*\()");
    for (auto it = std::sregex_iterator(s.begin(), s.end(), for_re); it != std::sregex_iterator(); ++it) {
        const size_t open = size_t(it->position() + it->length() - 1);
        const size_t close = matching(s, open, '(', ')');
        if (close == std::string::npos) {
            report(open, "unterminated for");
            continue;
        }
        const std::string header = s.substr(open + 1, close - open - 1);
        const size_t semi1 = header.find(';'), semi2 = semi1 == std::string::npos ? semi1 : header.find(';', semi1 + 1);
        if (semi2 == std::string::npos) {
            report(open, "range-for or malformed for (no bound to check)");
            continue;
        }
        const std::string cond = header.substr(semi1 + 1, semi2 - semi1 - 1);
        static const std::regex cmp(R"(^\s*(.*?)\s*(<=|<|!=)\s*(.+?)\s*$)");
        std::smatch m;
        if (cond.find_first_not_of(" \t\n") == std::string::npos) {
            report(open, "for loop without a condition (unbounded)");
            continue;
        }
        if (!std::regex_match(cond, m, cmp)) {
            report(open, "for loop condition '" + cond + "' is not 'i < bound'");
            continue;
        }
        if (constant_bound(m[3].str())) continue;
        // Runtime bound: LOOP_TRIPCOUNT must appear in this loop's body before any nested loop.
        const size_t body = s.find_first_not_of(" \t\n", close + 1);
        size_t end = body != std::string::npos && s[body] == '{' ? matching(s, body, '{', '}') : s.find(';', close);
        const size_t nested = s.find("for", body);
        if (nested != std::string::npos && nested < end) end = nested;
        const std::string text = body == std::string::npos ? "" : s.substr(body, end - body);
        if (!std::regex_search(text, std::regex(R"(#\s*pragma\s+HLS\s+LOOP_TRIPCOUNT\b[^\n]*\bmax\s*=)")))
            report(open, "loop bounded by the runtime value '" + m[3].str() + "' has no LOOP_TRIPCOUNT max");
    }
    return out;
}

// What the scan passes over, by the first folder below kernels/: vitis/ holds the board build
// (scripts and configs), vendor/ the C-simulation stand-ins for the vendor's headers (host
// C++ like the vendor headers they replace, never synthesized).
bool exempt_from_scan(const fs::path& rel) {
    const std::string top = rel.begin()->string();
    return top == "vitis" || top == "vendor";
}

std::vector<std::string> scan_tree(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string ext = e.path().extension().string();
        if (ext != ".hpp" && ext != ".cpp" && ext != ".h") continue;
        const fs::path rel = fs::relative(e.path(), dir);
        if (exempt_from_scan(rel)) continue;
        std::ifstream f(e.path());
        std::stringstream ss;
        ss << f.rdbuf();
        auto v = scan_source(rel.string(), ss.str());
        out.insert(out.end(), v.begin(), v.end());
    }
    return out;
}

// ---- Compile check -----------------------------------------------------------------------

std::string compiler() {
    const char* cxx = std::getenv("CXX");
    return cxx && *cxx ? cxx : "g++";
}

// Probed in a temporary folder: -fcallgraph-info writes its .ci file beside the output.
bool have_gcc() {
    test::TempDir tmp;
    return std::system(("cd '" + tmp.path + "' && " + compiler() +
                        " -fcallgraph-info=su -x c++ -c /dev/null -o probe.o 2>/dev/null").c_str()) == 0;
}

int run(const std::string& cmd) {
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// Parses a GCC .ci (VCG) call graph: edges caller -> callee by node title.
std::map<std::string, std::set<std::string>> call_graph(const std::string& ci, std::map<std::string, std::string>* labels) {
    std::map<std::string, std::set<std::string>> g;
    const std::regex node(R"(node:\s*\{\s*title:\s*\"([^\"]+)\"\s*label:\s*\"([^\"\\]*))");
    const std::regex edge(R"(edge:\s*\{\s*sourcename:\s*\"([^\"]+)\"\s*targetname:\s*\"([^\"]+)\")");
    for (auto it = std::sregex_iterator(ci.begin(), ci.end(), node); it != std::sregex_iterator(); ++it)
        (*labels)[(*it)[1].str()] = (*it)[2].str();
    for (auto it = std::sregex_iterator(ci.begin(), ci.end(), edge); it != std::sregex_iterator(); ++it)
        g[(*it)[1].str()].insert((*it)[2].str());
    return g;
}

// Compiles every .cpp of `dir` (include root `root`) and reports what a synthesizer rejects.
std::vector<std::string> compile_check(const fs::path& dir, const fs::path& root) {
    std::vector<std::string> out;
    test::TempDir tmp;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (e.path().extension() != ".cpp" || e.path().string().find("/vitis/") != std::string::npos) continue;
        const std::string stem = e.path().stem().string();
        const std::string obj = tmp.file(stem + ".o");
        const std::string cmd = compiler() + " -std=c++17 -O0 -fno-exceptions -fno-rtti -DLHK_NO_TRACE -Wno-unknown-pragmas "
                                "-fcallgraph-info=su -fstack-usage -I'" + root.string() + "' -c '" + e.path().string() +
                                "' -o '" + obj + "' 2>'" + tmp.file(stem + ".err") + "'";
        if (run(cmd) != 0) {
            out.push_back(e.path().filename().string() + ": does not compile as C++17 without exceptions/RTTI: " +
                          test::read_file(tmp.file(stem + ".err")).substr(0, 300));
            continue;
        }
        std::map<std::string, std::string> labels;
        const auto g = call_graph(test::read_file(tmp.file(stem + ".ci")), &labels);
        // Cycles: depth-first search with colours.
        std::map<std::string, int> colour;
        std::function<void(const std::string&)> dfs = [&](const std::string& n) {
            colour[n] = 1;
            auto it = g.find(n);
            if (it != g.end())
                for (const std::string& m : it->second) {
                    if (colour[m] == 1)
                        out.push_back(e.path().filename().string() + ": recursion: " + labels[n] + " calls " + labels[m] +
                                      " which is on the current call path");
                    else if (colour[m] == 0)
                        dfs(m);
                }
            colour[n] = 2;
        };
        for (const auto& [n, _] : g)
            if (colour[n] == 0) dfs(n);
        for (const auto& [n, callees] : g)
            for (const std::string& m : callees)
                if (m.find("__indirect_call") != std::string::npos)
                    out.push_back(e.path().filename().string() + ": indirect call (function pointer) in " + labels[n]);
        // Unbounded stack frames (VLA, alloca): GCC qualifies them "dynamic". ("dynamic,bounded"
        // is a frame realigned for 16-byte-aligned beats: its size is known.)
        std::istringstream su(test::read_file(tmp.file(stem + ".su")));
        for (std::string line; std::getline(su, line);) {
            const std::string qualifier = line.substr(line.rfind('\t') + 1);
            if (qualifier == "dynamic")
                out.push_back(e.path().filename().string() + ": dynamically sized stack frame: " + line);
        }
    }
    return out;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

bool mentions(const std::vector<std::string>& v, const std::string& what) {
    return std::any_of(v.begin(), v.end(), [&](const std::string& x) { return x.find(what) != std::string::npos; });
}

// ---- The checks ---------------------------------------------------------------------------

TEST(HlsRules, KernelSourcesPassTheScan) {
    const fs::path kernels = fs::path(test::source_dir()) / "kernels";
    ASSERT_TRUE(fs::exists(kernels / "llama_kernels.cpp"));
    const auto v = scan_tree(kernels);
    EXPECT_TRUE(v.empty()) << join(v);
}

TEST(HlsRules, KernelsCompileWithoutExceptionsAndHaveNoRecursion) {
    if (!have_gcc()) GTEST_SKIP() << compiler() << " lacks -fcallgraph-info (GCC >= 10 needed)";
    const fs::path root = test::source_dir();
    const auto v = compile_check(root / "kernels", root);
    EXPECT_TRUE(v.empty()) << join(v);
}

// Each kind of violation on its own, so that every check is shown to fail when it should.
TEST(HlsRules, ScanCatchesEachForbiddenConstruct) {
    struct Case {
        const char* code;
        const char* expect;
    };
    const Case cases[] = {
        {"#include <vector>\nvoid f() {}\n", "container/utility header"},
        {"void f() { std::vector<int> v; }\n", "standard library (std::)"},
        {"void f() { int* p = new int[4]; (void)p; }\n", "heap allocation (new)"},
        {"void f(int* p) { delete p; }\n", "heap allocation (delete)"},
        {"void f() { void* p = malloc(4); (void)p; }\n", "C allocator"},
        {"struct A { virtual void g(); };\n", "virtual function"},
        {"void f() { throw 1; }\n", "exceptions"},
        {"void f(int n) { while (n) --n; }\n", "while loop"},
        {"void f(int n) { do { --n; } while (n > 0); }\n", "do-while loop"},
        {"void f(int n) { for (int i = 0; i < n; ++i) { } }\n", "runtime value 'n' has no LOOP_TRIPCOUNT"},
        {"void f() { for (;;) { } }\n", "without a condition"},
        {"void f(int n) {\n  for (int i = 0; i < n; ++i) {\n    for (int j = 0; j < n; ++j) {\n"
         "#pragma HLS LOOP_TRIPCOUNT max=4\n    }\n  }\n}\n",
         "runtime value 'n' has no LOOP_TRIPCOUNT"},  // the outer loop's pragma must be its own
    };
    for (const Case& c : cases) {
        const auto v = scan_source("bad.cpp", c.code);
        EXPECT_TRUE(mentions(v, c.expect)) << "not caught: " << c.code << "\nfound:\n" << join(v);
    }
    // ... and accepts what the kernels do.
    const char* good =
        "constexpr int kN = 8;\n"
        "template <int N> float t(const float* v) { float s = 0; for (int i = 0; i + 1 < N; ++i) {\n"
        "#pragma HLS UNROLL\n s += v[i]; } return s; }\n"
        "void f(int n, float* x) {\n"
        "  // a comment with new, while (1) and std::vector is fine\n"
        "  const char* s = \"throw new std::vector\"; (void)s;\n"
        "  for (int i = 0; i < n; ++i) {\n#pragma HLS PIPELINE II=1\n#pragma HLS LOOP_TRIPCOUNT min=1 max=kN\n"
        "    for (int l = 0; l < kN; ++l) x[l] += 1;\n  }\n}\n";
    const auto v = scan_source("good.cpp", good);
    EXPECT_TRUE(v.empty()) << join(v);
}

// The vendor stand-ins are passed over (the real one would fail the scan: it is host C++),
// and a violation anywhere else, a file named like a stand-in included, is still caught.
TEST(HlsRules, ScanPassesOverTheVendorStandInsOnly) {
    const fs::path stand_in = fs::path(test::source_dir()) / "kernels/vendor/hls_stream_csim.hpp";
    ASSERT_TRUE(fs::exists(stand_in));
    EXPECT_TRUE(mentions(scan_source("hls_stream_csim.hpp", test::read_file(stand_in.string())), "std::"));

    test::TempDir dir;
    fs::create_directories(dir.file("vendor"));
    fs::create_directories(dir.file("primitives"));
    const char* host_code = "#include <vector>\nstd::vector<int>* f() { return new std::vector<int>; }\n";
    test::write_file(dir.file("vendor/hls_stream_csim.hpp"), host_code);
    test::write_file(dir.file("primitives/hls_stream_csim.hpp"), host_code);
    test::write_file(dir.file("vendor.hpp"), "void g(int* p) { delete p; }\n");
    const auto v = scan_tree(dir.path);
    EXPECT_FALSE(mentions(v, "vendor/hls_stream_csim.hpp")) << join(v);
    EXPECT_TRUE(mentions(v, "primitives/hls_stream_csim.hpp:2: heap allocation (new)")) << join(v);
    EXPECT_TRUE(mentions(v, "vendor.hpp:1: heap allocation (delete)")) << join(v);
}

TEST(HlsRules, CompileCheckCatchesRecursionIndirectCallsVlasAndExceptions) {
    if (!have_gcc()) GTEST_SKIP() << compiler() << " lacks -fcallgraph-info (GCC >= 10 needed)";
    struct Case {
        const char* code;
        const char* expect;
    };
    const Case cases[] = {
        {"int fact(int n) { return n ? n * fact(n - 1) : 1; }\n", "recursion: int fact(int)"},
        {"int odd(int n);\nint even(int n) { return n == 0 ? 1 : odd(n - 1); }\n"
         "int odd(int n) { return n == 0 ? 0 : even(n - 1); }\n",
         "recursion"},
        {"int call(int (*f)(int), int x) { return f(x); }\n", "indirect call"},
        {"float g(int n) { float buf[n]; for (int i = 0; i < n; ++i) buf[i] = i; return buf[n - 1]; }\n",
         "dynamically sized stack frame"},
        {"int h(int n) { if (n < 0) throw n; return n; }\n", "does not compile"},
    };
    for (const Case& c : cases) {
        test::TempDir dir;
        test::write_file(dir.file("bad.cpp"), c.code);
        const auto v = compile_check(dir.path, dir.path);
        EXPECT_TRUE(mentions(v, c.expect)) << "not caught: " << c.code << "\nfound:\n" << join(v);
    }
    test::TempDir dir;
    test::write_file(dir.file("good.cpp"), "static int sq(int x) { return x * x; }\nint f(int a) { return sq(a) + sq(a + 1); }\n");
    const auto v = compile_check(dir.path, dir.path);
    EXPECT_TRUE(v.empty()) << join(v);
}

}  // namespace
}  // namespace lhb

// Tokenizer: loading/validation of tokenizer.bin, run.c-exact encode/decode, safe_printf.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/tokenizer.hpp"
#include "tests/expected_cases.hpp"
#include "tests/test_support.hpp"

using lhb::InputError;
using lhb::Tokenizer;
using lhb::test::TempDir;
using lhb::test::write_file;

namespace {

// ---- building tokenizer.bin files by hand -------------------------------------------

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}
void put_i32(std::string& out, int32_t v) { put_u32(out, uint32_t(v)); }
void put_f32(std::string& out, float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_u32(out, bits);
}
void put_piece(std::string& out, float score, const std::string& text) {
    put_f32(out, score);
    put_i32(out, int32_t(text.size()));
    out += text;
}

struct Entry {
    std::string text;
    float score;
};

// The standard first 259 entries: <unk>, BOS, EOS and the 256 byte pieces "<0xHH>".
std::vector<Entry> base_vocab() {
    std::vector<Entry> v = {{"<unk>", 0.0f}, {"\n<s>\n", 0.0f}, {"\n</s>\n", 0.0f}};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        v.push_back({buf, 0.0f});
    }
    return v;
}

std::string serialize(uint32_t max_token_length, const std::vector<Entry>& v) {
    std::string out;
    put_u32(out, max_token_length);
    for (const Entry& e : v) put_piece(out, e.score, e.text);
    return out;
}

// A small vocabulary with a few merges; ids: 259 " ", 260 "a", 261 "b", 262 "ab",
// 263 "ba", 264 " a", 265 "🙂", 266 "c".
std::vector<Entry> small_vocab(float space_a_score = -2.0f) {
    std::vector<Entry> v = base_vocab();
    v.push_back({" ", -10.0f});
    v.push_back({"a", -11.0f});
    v.push_back({"b", -12.0f});
    v.push_back({"ab", -1.0f});
    v.push_back({"ba", -1.0f});
    v.push_back({" a", space_a_score});
    v.push_back({"\xF0\x9F\x99\x82", -13.0f});
    v.push_back({"c", -14.0f});
    return v;
}

Tokenizer load_vocab(const TempDir& dir, const std::vector<Entry>& v, const char* name = "t.bin") {
    const std::string path = dir.file(name);
    write_file(path, serialize(7, v));
    return Tokenizer::load(path, int(v.size()));
}

std::string decode_all(const Tokenizer& t, const std::vector<int>& ids) {
    std::string s;
    for (size_t i = 1; i < ids.size(); ++i) s += t.decode(ids[i - 1], ids[i]);
    return s;
}

// Expects Tokenizer::load(path, vocab) to throw InputError with a one-line message naming
// the path; returns the message for further checks.
std::string load_error(const std::string& path, int vocab) {
    try {
        (void)Tokenizer::load(path, vocab);
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
        EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
        EXPECT_NE(msg.find("found"), std::string::npos) << msg;
        return msg;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type for " << path << ": " << e.what();
        return {};
    }
    ADD_FAILURE() << "no InputError for " << path;
    return {};
}

const std::vector<std::string>& round_trip_texts() {
    static const std::vector<std::string> texts = {
        "Once upon a time",
        "Tom had a big dog. He said: \"Hello, World!\" 12345 + 67 = ?",
        "naïve café 日本語 🙂",
        " leading space",
        "double  space, trailing space ",
        "tabs\tand\nnewlines\r\n",
        "ÿ € 𝄞 ñ Ω",
        "\x80 stray continuation, \xC3 truncated lead, \xFF\xFE invalid",
        "\xF0\x9F\x99\x82\x80\x80 emoji plus extra continuation bytes",
        "x",
    };
    return texts;
}

}  // namespace

// ---- real vocabularies ----------------------------------------------------------------

TEST(TokenizerReal, Llama32000HeaderAndEncodings) {
    LHB_REQUIRE_MODELS();
    const Tokenizer t = Tokenizer::load(lhb::test::model_path("tokenizer.bin"), 32000);
    EXPECT_EQ(t.vocab_size(), 32000);
    EXPECT_EQ(t.max_token_length(), 27u);
    EXPECT_EQ(t.piece(29871), " ");
    EXPECT_EQ(t.piece(1), "\n<s>\n");
    EXPECT_EQ(t.piece(2), "\n</s>\n");
    EXPECT_EQ(t.piece(3), "<0x00>");
    EXPECT_EQ(t.piece(259), "  ");
    EXPECT_FLOAT_EQ(t.score(259), -1e9f);
    EXPECT_FLOAT_EQ(t.score(260), -1.0f);

    EXPECT_EQ(t.encode("", true, false), std::vector<int>({1}));
    EXPECT_EQ(t.encode("", false, false), std::vector<int>());
    EXPECT_EQ(t.encode("", true, true), std::vector<int>({1, 2}));
    EXPECT_EQ(t.encode("I believe the meaning of life is", true, false),
              std::vector<int>({1, 306, 4658, 278, 6593, 310, 2834, 338}));
    EXPECT_EQ(t.encode("I believe the meaning of life is", false, true),
              std::vector<int>({306, 4658, 278, 6593, 310, 2834, 338, 2}));
    // The dummy prefix alone: a single space text becomes " " + " " = "  " (id 259).
    EXPECT_EQ(t.encode(" ", true, false), std::vector<int>({1, 259}));
}

TEST(TokenizerReal, Tok512HeaderAndEncodings) {
    LHB_REQUIRE_MODELS();
    const Tokenizer t = Tokenizer::load(lhb::test::model_path("tok512.bin"), 512);
    EXPECT_EQ(t.vocab_size(), 512);
    EXPECT_EQ(t.max_token_length(), 7u);
    EXPECT_EQ(t.piece(410), " ");
    EXPECT_EQ(t.piece(259), " t");
    EXPECT_EQ(t.piece(260), "he");
    EXPECT_FLOAT_EQ(t.score(260), -1.0f);
    EXPECT_FLOAT_EQ(t.score(511), -252.0f);

    EXPECT_EQ(t.encode("", true, false), std::vector<int>({1}));
    EXPECT_EQ(t.encode("Once upon a time", true, false),
              std::vector<int>({1, 403, 407, 261, 378}));
    EXPECT_EQ(t.encode("Tom had a big dog", true, false),
              std::vector<int>({1, 274, 287, 381, 261, 370, 400, 428}));
    EXPECT_EQ(t.encode("The café was", true, false),
              std::vector<int>({1, 291, 280, 412, 431, 485, 286}));
    EXPECT_EQ(t.encode("Once upon a time", true, true),
              std::vector<int>({1, 403, 407, 261, 378, 2}));
    // run.c stops at the first NUL: the rest of the string does not exist.
    EXPECT_EQ(t.encode(std::string("Once upon a time\0 garbage", 25), true, false),
              std::vector<int>({1, 403, 407, 261, 378}));
}

TEST(TokenizerReal, RoundTripBothVocabularies) {
    LHB_REQUIRE_MODELS();
    const std::pair<const char*, int> files[] = {{"tokenizer.bin", 32000}, {"tok512.bin", 512}};
    for (const auto& [name, n] : files) {
        const Tokenizer t = Tokenizer::load(lhb::test::model_path(name), n);
        for (const std::string& s : round_trip_texts()) {
            const std::vector<int> ids = t.encode(s, true, false);
            ASSERT_FALSE(ids.empty());
            EXPECT_EQ(ids[0], 1);
            for (int id : ids) {
                EXPECT_GE(id, 0);
                EXPECT_LT(id, n);
            }
            EXPECT_EQ(decode_all(t, ids), s) << name << ": " << s;
        }
    }
}

TEST(TokenizerReal, Tok512ByteFallbackForUnknownCodePoints) {
    LHB_REQUIRE_MODELS();
    const Tokenizer t = Tokenizer::load(lhb::test::model_path("tok512.bin"), 512);
    // U+1F642 is not a tok512 piece: its four bytes appear as byte pieces (byte + 3),
    // which do not merge with anything.
    const std::vector<int> ids = t.encode("\xF0\x9F\x99\x82", true, false);
    EXPECT_EQ(ids, std::vector<int>({1, 410, 0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3}));
    EXPECT_EQ(t.decode(410, 0xF0 + 3), "\xF0");
}

TEST(TokenizerReal, DecodeMatchesReferenceGreedyOutput) {
    LHB_REQUIRE_MODELS();
    const Tokenizer t = Tokenizer::load(lhb::test::model_path("tok512.bin"), 512);
    const std::string expected_file =
        lhb::test::read_file(lhb::test::model_path("expected-stories260K.txt"));
    ASSERT_FALSE(expected_file.empty());

    // "# tokens: 1 403 ..." (greedy ids, BOS first) and the greedy default-prompt stdout.
    std::vector<int> ids;
    std::string expected_stdout;
    {
        std::istringstream in(expected_file);
        std::string line;
        bool in_case = false, past_note = false;
        while (std::getline(in, line)) {
            if (line.rfind("# tokens:", 0) == 0 && ids.empty()) {
                std::istringstream nums(line.substr(9));
                for (int id; nums >> id;) ids.push_back(id);
            } else if (line == "=== CASE greedy_default_prompt") {
                in_case = true;
            } else if (in_case && line == "=== END") {
                break;
            } else if (in_case && !past_note) {
                if (line.rfind("# note:", 0) == 0) past_note = true;
            } else if (in_case) {
                expected_stdout += line + "\n";
            }
        }
    }
    // BOS plus 200 generated ids: run.c's -n 200 runs 200 forward passes and samples after
    // each one (the file's comment says "199 generated", but its id list and stdout hold 200).
    ASSERT_EQ(ids.size(), 201u);
    ASSERT_EQ(ids[0], 1);
    ASSERT_FALSE(expected_stdout.empty());

    // run.c's generate loop: print decode(token, next) for every generated token, then "\n".
    std::string out;
    for (size_t i = 1; i < ids.size(); ++i) {
        const std::string piece = t.decode(ids[i - 1], ids[i]);
        if (Tokenizer::printable(piece)) out += piece;
    }
    out += "\n";
    EXPECT_EQ(out, expected_stdout);
}

TEST(TokenizerReal, RejectsTruncatedAndMisSizedRealFiles) {
    LHB_REQUIRE_MODELS();
    const std::string bytes = lhb::test::read_file(lhb::test::model_path("tok512.bin"));
    ASSERT_EQ(bytes.size(), 6227u);
    TempDir dir;
    // Cuts inside the header, inside a score, inside a length, inside piece bytes, exactly at
    // an entry boundary, and one byte short of the end.
    const size_t cuts[] = {0, 1, 3, 4, 6, 8, 10, 12, 13, 17, 1000, 3113, 6226};
    for (size_t cut : cuts) {
        const std::string path = dir.file("cut" + std::to_string(cut) + ".bin");
        write_file(path, bytes.substr(0, cut));
        load_error(path, 512);
    }
    // The right file with the wrong vocab_size: too few pieces leaves trailing bytes, too
    // many runs off the end.
    const std::string real = lhb::test::model_path("tok512.bin");
    EXPECT_NE(load_error(real, 511).find("trailing"), std::string::npos);
    EXPECT_NE(load_error(real, 513).find("piece 512"), std::string::npos);
    EXPECT_NE(load_error(lhb::test::model_path("tokenizer.bin"), 512).find("trailing"),
              std::string::npos);
    // The 32000 a Llama model would claim: the file ends after piece 511.
    EXPECT_NE(load_error(real, 32000).find("piece 512 score"), std::string::npos);
}

// ---- synthetic vocabularies (no models needed) ---------------------------------------------

TEST(TokenizerSynthetic, MergesPickHighestScoreLeftmostOnTies) {
    TempDir dir;
    const Tokenizer t = load_vocab(dir, small_vocab());
    ASSERT_EQ(t.vocab_size(), 267);
    // [BOS, " ", a, b, a]: " a" (-2), "ab" (-1), "ba" (-1): the leftmost of the two -1 pairs
    // wins; then nothing else merges.
    EXPECT_EQ(t.encode("aba", true, false), std::vector<int>({1, 259, 262, 260}));
    EXPECT_EQ(t.encode("aba", false, true), std::vector<int>({259, 262, 260, 2}));
    // A strictly higher score wins regardless of position.
    const Tokenizer t2 = load_vocab(dir, small_vocab(-0.5f), "t2.bin");
    EXPECT_EQ(t2.encode("aba", true, false), std::vector<int>({1, 264, 263}));
}

TEST(TokenizerSynthetic, Utf8WalkAndByteFallback) {
    TempDir dir;
    const Tokenizer t = load_vocab(dir, small_vocab());
    // Known 4-byte code point, then a fifth continuation byte that starts a new (unknown)
    // unit of its own: byte fallback 0x80 + 3.
    EXPECT_EQ(t.encode("\xF0\x9F\x99\x82\x80", true, false),
              std::vector<int>({1, 259, 265, 0x80 + 3}));
    // Unknown 2-byte code point: each byte separately.
    EXPECT_EQ(t.encode("\xC3\xA9", true, false), std::vector<int>({1, 259, 0xC3 + 3, 0xA9 + 3}));
    // Unknown ASCII falls back too; "c" is known.
    EXPECT_EQ(t.encode("zc", false, false), std::vector<int>({259, 'z' + 3, 266}));
    EXPECT_EQ(decode_all(t, t.encode("a\xC3\xA9z\xF0\x9F\x99\x82", true, false)),
              "a\xC3\xA9z\xF0\x9F\x99\x82");
}

TEST(TokenizerSynthetic, BosTakesPartInMergesLikeRunC) {
    TempDir dir;
    std::vector<Entry> v = small_vocab();
    v.push_back({"\n<s>\n ", 5.0f});  // id 267: BOS + dummy prefix
    const std::string path = dir.file("bosmerge.bin");
    write_file(path, serialize(7, v));
    const Tokenizer t = Tokenizer::load(path, int(v.size()));
    EXPECT_EQ(t.encode("c", true, false), std::vector<int>({267, 266}));
    EXPECT_EQ(t.encode("c", false, false), std::vector<int>({259, 266}));
}

TEST(TokenizerSynthetic, MissingSpacePieceOrTooSmallVocabThrows) {
    TempDir dir;
    // No " " piece: run.c would push id -1; we refuse instead.
    std::vector<Entry> nospace = base_vocab();
    nospace.push_back({"a", -1.0f});
    const Tokenizer t = load_vocab(dir, nospace);
    EXPECT_EQ(t.encode("", true, true), std::vector<int>({1, 2}));
    EXPECT_THROW((void)t.encode("a", true, false), InputError);

    // Byte fallback ids beyond the vocabulary: run.c would index past its arrays.
    std::vector<Entry> tiny = {{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}, {" ", 0}, {"a", 0}};
    const Tokenizer t2 = load_vocab(dir, tiny, "tiny.bin");
    EXPECT_EQ(t2.encode("aa", true, false), std::vector<int>({1, 3, 4, 4}));
    EXPECT_THROW((void)t2.encode("z", true, false), InputError);

    // BOS (1) and EOS (2) need a vocabulary that holds those ids.
    const Tokenizer t3 = load_vocab(dir, {{" ", 0}, {"a", 0}}, "two.bin");
    EXPECT_EQ(t3.encode("", false, false), std::vector<int>());
    EXPECT_EQ(t3.encode("", true, false), std::vector<int>({1}));
    EXPECT_THROW((void)t3.encode("", true, true), InputError);
    EXPECT_THROW((void)t3.encode("a", false, true), InputError);
    const Tokenizer t4 = load_vocab(dir, {{" ", 0}}, "one.bin");
    EXPECT_EQ(t4.encode(" ", false, false), std::vector<int>({0, 0}));
    EXPECT_THROW((void)t4.encode("", true, false), InputError);

    // A default-constructed (empty) tokenizer refuses rather than misbehaving.
    const Tokenizer empty;
    EXPECT_EQ(empty.vocab_size(), 0);
    EXPECT_EQ(empty.encode("", false, false), std::vector<int>());
    EXPECT_THROW((void)empty.encode("a", false, false), InputError);
    EXPECT_THROW((void)empty.encode("", true, false), InputError);
    EXPECT_THROW((void)empty.decode(1, 0), std::out_of_range);
}

TEST(TokenizerSynthetic, DecodeRules) {
    TempDir dir;
    std::vector<Entry> v = small_vocab();
    v.push_back({std::string("q\0zz", 4), -20.0f});  // 267: embedded NUL, C string "q"
    v.push_back({" <0x41>", -21.0f});                 // 268
    const std::string path = dir.file("dec.bin");
    write_file(path, serialize(7, v));
    const Tokenizer t = Tokenizer::load(path, int(v.size()));

    EXPECT_EQ(t.decode(1, 264), "a");    // " a" after BOS loses its space
    EXPECT_EQ(t.decode(5, 264), " a");   // ... but not after anything else
    EXPECT_EQ(t.decode(1, 259), "");     // the lone dummy prefix after BOS
    EXPECT_EQ(t.decode(0, 259), " ");
    EXPECT_EQ(t.decode(7, 0x41 + 3), "A");                  // <0x41>
    EXPECT_EQ(t.decode(1, 0x20 + 3), " ");                  // <0x20>: no space to strip
    EXPECT_EQ(t.decode(7, 0xFF + 3), std::string("\xFF"));  // raw byte, not UTF-8
    EXPECT_EQ(t.decode(7, 0x0A + 3), "\n");
    EXPECT_EQ(t.decode(7, 3), "");       // <0x00>: a C string holding NUL is empty
    EXPECT_EQ(t.decode(7, 267), "q");    // pieces are C strings
    EXPECT_EQ(t.decode(1, 268), "A");    // space stripped, then parsed as a byte piece
    EXPECT_EQ(t.decode(7, 268), " <0x41>");
    EXPECT_EQ(t.decode(7, 1), "\n<s>\n");

    EXPECT_THROW((void)t.decode(1, -1), std::out_of_range);
    EXPECT_THROW((void)t.decode(1, t.vocab_size()), std::out_of_range);
    EXPECT_THROW((void)t.decode(1, 1 << 30), std::out_of_range);
}

TEST(TokenizerSynthetic, Printable) {
    EXPECT_FALSE(Tokenizer::printable(""));
    EXPECT_FALSE(Tokenizer::printable(std::string(1, '\0')));
    EXPECT_FALSE(Tokenizer::printable("\x01"));
    EXPECT_FALSE(Tokenizer::printable("\x7F"));
    EXPECT_FALSE(Tokenizer::printable("\xE2"));  // lone UTF-8 lead byte
    EXPECT_FALSE(Tokenizer::printable("\xFF"));  // must not be passed to isprint as -1
    EXPECT_TRUE(Tokenizer::printable("a"));
    EXPECT_TRUE(Tokenizer::printable(" "));
    EXPECT_TRUE(Tokenizer::printable("\n"));
    EXPECT_TRUE(Tokenizer::printable("\t"));
    EXPECT_TRUE(Tokenizer::printable("ab"));
    EXPECT_TRUE(Tokenizer::printable("\x01\x02"));  // only single bytes are filtered
    EXPECT_TRUE(Tokenizer::printable("\xC3\xA9"));
}

TEST(TokenizerSynthetic, LoadsValidFileAndKeepsScores) {
    TempDir dir;
    std::vector<Entry> v = small_vocab();
    v.push_back({"", -30.0f});         // empty pieces are legal
    v.push_back({"abcdefg", -31.0f});  // exactly max_token_length
    const std::string path = dir.file("ok.bin");
    write_file(path, serialize(7, v));
    const Tokenizer t = Tokenizer::load(path, int(v.size()));
    EXPECT_EQ(t.vocab_size(), int(v.size()));
    EXPECT_EQ(t.max_token_length(), 7u);
    for (size_t i = 0; i < v.size(); ++i) {
        EXPECT_EQ(t.piece(int(i)), v[i].text) << i;
        EXPECT_EQ(t.score(int(i)), v[i].score) << i;
    }
    EXPECT_EQ(t.piece(268), "abcdefg");
}

TEST(TokenizerSynthetic, RejectsCorruptFiles) {
    TempDir dir;
    const std::vector<Entry> v = small_vocab();
    const int n = int(v.size());
    const std::string good = serialize(7, v);
    auto write = [&](const std::string& name, const std::string& bytes) {
        const std::string path = dir.file(name);
        write_file(path, bytes);
        return path;
    };

    // Truncated at every offset of the first entries and at a sample of later ones.
    for (size_t cut = 0; cut < good.size(); cut += (cut < 40 ? 1 : 97))
        load_error(write("cut.bin", good.substr(0, cut)), n);
    load_error(write("cut_last.bin", good.substr(0, good.size() - 1)), n);

    // Piece 17: negative length.
    {
        std::vector<Entry> bad = v;
        std::string bytes;
        put_u32(bytes, 7);
        for (int i = 0; i < n; ++i) {
            if (i == 17) {
                put_f32(bytes, 0.0f);
                put_i32(bytes, -5);
            } else {
                put_piece(bytes, bad[size_t(i)].score, bad[size_t(i)].text);
            }
        }
        const std::string msg = load_error(write("neg.bin", bytes), n);
        EXPECT_NE(msg.find("piece 17 length"), std::string::npos) << msg;
        EXPECT_NE(msg.find("found -5"), std::string::npos) << msg;
    }
    // Piece 20: length above max_token_length (7).
    {
        std::string bytes;
        put_u32(bytes, 7);
        for (int i = 0; i < n; ++i)
            put_piece(bytes, v[size_t(i)].score, i == 20 ? std::string("12345678") : v[size_t(i)].text);
        const std::string msg = load_error(write("long.bin", bytes), n);
        EXPECT_NE(msg.find("piece 20 length"), std::string::npos) << msg;
        EXPECT_NE(msg.find("found 8"), std::string::npos) << msg;
    }
    // Huge lengths: INT32_MIN and INT32_MAX (with max_token_length 0xFFFFFFFF so that only
    // the end of the file stops it).
    {
        std::string bytes;
        put_u32(bytes, 7);
        put_f32(bytes, 0.0f);
        put_i32(bytes, INT32_MIN);
        load_error(write("min.bin", bytes), 1);

        std::string bytes2;
        put_u32(bytes2, 0xFFFFFFFFu);
        put_f32(bytes2, 0.0f);
        put_i32(bytes2, INT32_MAX);
        bytes2 += "abc";
        const std::string msg = load_error(write("max.bin", bytes2), 1);
        EXPECT_NE(msg.find("piece 0 bytes"), std::string::npos) << msg;

        // A negative length is reported as such even when max_token_length would not
        // catch it as an unsigned value.
        std::string bytes3;
        put_u32(bytes3, 0xFFFFFFFFu);
        put_f32(bytes3, 0.0f);
        put_i32(bytes3, -5);
        bytes3 += "abcdef";
        const std::string msg3 = load_error(write("neg_bigmax.bin", bytes3), 1);
        EXPECT_NE(msg3.find("piece 0 length"), std::string::npos) << msg3;
        EXPECT_NE(msg3.find("found -5"), std::string::npos) << msg3;
    }
    // The last piece's bytes run past the end of the file.
    {
        std::string bytes = good;
        bytes.resize(bytes.size() - 1);  // last piece "c" declared 1 byte, 0 present
        const std::string msg = load_error(write("pastend.bin", bytes), n);
        EXPECT_NE(msg.find("piece " + std::to_string(n - 1) + " bytes"), std::string::npos) << msg;
    }
    // Trailing garbage after the last piece.
    {
        const std::string msg = load_error(write("trail.bin", good + "JUNK"), n);
        EXPECT_NE(msg.find("4 trailing bytes"), std::string::npos) << msg;
        load_error(write("trail1.bin", good + std::string(1, '\0')), n);
    }
    // Bad vocab_size, missing file, a directory.
    {
        const std::string path = write("ok.bin", good);
        EXPECT_NO_THROW((void)Tokenizer::load(path, n));
        load_error(path, 0);
        load_error(path, -3);
        load_error(path, n - 1);
        load_error(path, n + 1);
        load_error(dir.file("does-not-exist.bin"), n);
        load_error(dir.path, n);
        load_error(write("empty.bin", ""), n);
    }
}

// ---- the O(n log n) merge against run.c's quadratic loop --------------------------------

namespace {

// run.c's encode as it is written (a full rescan of every pair after each merge), kept
// here as the reference the heap-based Tokenizer::encode must reproduce exactly. Lookup is
// by C string, as run.c's bsearch; the vocabularies used have no duplicate pieces.
struct QuadraticEncoder {
    explicit QuadraticEncoder(const Tokenizer& t) : t(t) {
        for (int i = 0; i < t.vocab_size(); ++i) ids.emplace(std::string(t.piece(i).c_str()), i);
    }
    int lookup(const std::string& s) const {
        auto it = ids.find(s);
        return it == ids.end() ? -1 : it->second;
    }
    std::vector<int> encode(const std::string& text_in, bool bos, bool eos) const {
        const char* text = text_in.c_str();
        std::vector<int> tokens;
        if (bos) tokens.push_back(1);
        if (text[0] != '\0') tokens.push_back(lookup(" "));
        std::string buf;
        for (const char* c = text; *c != '\0'; ++c) {
            if ((static_cast<unsigned char>(*c) & 0xC0) != 0x80) buf.clear();
            buf.push_back(*c);
            if ((static_cast<unsigned char>(c[1]) & 0xC0) == 0x80 && buf.size() < 4) continue;
            const int id = lookup(buf);
            if (id != -1) tokens.push_back(id);
            else
                for (char b : buf) tokens.push_back(int(static_cast<unsigned char>(b)) + 3);
            buf.clear();
        }
        for (;;) {
            float best_score = -1e10f;
            int best_id = -1;
            long best_idx = -1;
            for (size_t i = 0; i + 1 < tokens.size(); ++i) {
                const std::string merged =
                    std::string(t.piece(tokens[i]).c_str()) + t.piece(tokens[i + 1]).c_str();
                const int id = lookup(merged);
                if (id != -1 && t.score(id) > best_score) {
                    best_score = t.score(id);
                    best_id = id;
                    best_idx = long(i);
                }
            }
            if (best_idx == -1) break;
            tokens[size_t(best_idx)] = best_id;
            tokens.erase(tokens.begin() + best_idx + 1);
        }
        if (eos) tokens.push_back(2);
        return tokens;
    }
    const Tokenizer& t;
    std::map<std::string, int> ids;
};

// Random text from pieces of the vocabulary itself (so that long merges happen), single
// characters, UTF-8 that no vocabulary holds, and stray bytes.
std::string random_text(std::mt19937& rng, const Tokenizer& t, size_t max_len) {
    static const char* extras[] = {" ", "  ", "\n", "é", "日本", "🙂", "\xC3", "\x80", "\xFF", ",", ".", "'"};
    std::uniform_int_distribution<int> piece(0, t.vocab_size() - 1), kind(0, 9), extra(0, 11);
    std::string s;
    const size_t len = std::uniform_int_distribution<size_t>(0, max_len)(rng);
    while (s.size() < len) {
        const int k = kind(rng);
        if (k < 7) {
            const std::string p = t.piece(piece(rng)).c_str();
            if (p.rfind("<0x", 0) != 0 && p.find('\n') == std::string::npos) s += p;
        } else {
            s += extras[extra(rng)];
        }
    }
    return s;
}

void expect_same_as_quadratic(const Tokenizer& t, uint32_t seed, int cases, size_t max_len) {
    const QuadraticEncoder ref(t);
    ASSERT_EQ(int(ref.ids.size()), t.vocab_size()) << "duplicate pieces: the reference lookup would differ";
    std::mt19937 rng(seed);
    for (int i = 0; i < cases; ++i) {
        const std::string text = random_text(rng, t, max_len);
        const bool bos = i % 3 != 0, eos = i % 4 == 0;
        ASSERT_EQ(t.encode(text, bos, eos), ref.encode(text, bos, eos)) << "case " << i << ": \"" << text << "\"";
    }
}

}  // namespace

TEST(TokenizerEncodeFast, SameAsQuadraticOnBothRealVocabularies) {
    LHB_REQUIRE_MODELS();
    const Tokenizer llama = Tokenizer::load(lhb::test::model_path("tokenizer.bin"), 32000);
    const Tokenizer tok512 = Tokenizer::load(lhb::test::model_path("tok512.bin"), 512);
    expect_same_as_quadratic(tok512, 1, 400, 200);
    expect_same_as_quadratic(llama, 2, 150, 200);
}

// Scores chosen to tie often (three values) and to hit run.c's edges: a merged piece
// scoring at or below the initial best -1e10, or NaN, never merges.
TEST(TokenizerEncodeFast, SameAsQuadraticWithTiesAndUnmergeableScores) {
    TempDir dir;
    std::vector<Entry> v = base_vocab();
    v.push_back({" ", -5.0f});
    const std::string letters = "abc";
    std::mt19937 rng(7);
    const float scores[] = {-1.0f, -2.0f, -2.0f, -3.0f, -1e10f, -1e11f, std::nanf("")};
    std::uniform_int_distribution<int> pick(0, 6);
    std::vector<std::string> pieces = {"a", "b", "c"};
    for (char x : letters)
        for (char y : letters) pieces.push_back(std::string{x, y});
    for (char x : letters)
        for (char y : letters)
            for (char z : letters) pieces.push_back(std::string{x, y, z});
    pieces.insert(pieces.end(), {" a", " b", " ab", "aaaa", "abab", "baba"});
    for (const std::string& p : pieces) v.push_back({p, scores[pick(rng)]});
    const Tokenizer t = load_vocab(dir, v);
    const QuadraticEncoder ref(t);
    std::uniform_int_distribution<int> ch(0, 3), len(0, 60);
    for (int i = 0; i < 2000; ++i) {
        std::string text;
        for (int n = len(rng); n > 0; --n) text += " abc"[ch(rng)];
        ASSERT_EQ(t.encode(text, i % 2 == 0, false), ref.encode(text, i % 2 == 0, false)) << "\"" << text << "\"";
    }
}

// Every case of expected-stories260K.txt (its prompt, and its whole output text as a long
// prompt) and the encodings listed in llama2c-formats.md.
TEST(TokenizerEncodeFast, ExpectedCasesAndDocumentedEncodings) {
    LHB_REQUIRE_MODELS();
    const Tokenizer tok512 = Tokenizer::load(lhb::test::model_path("tok512.bin"), 512);
    const Tokenizer llama = Tokenizer::load(lhb::test::model_path("tokenizer.bin"), 32000);
    const QuadraticEncoder ref512(tok512);
    const auto runs = lhb::test::load_expected_runs(lhb::test::model_path("expected-stories260K.txt"));
    ASSERT_FALSE(runs.cases.empty());
    for (const auto& c : runs.cases) {
        std::string prompt;
        if (size_t at = c.args.find("-i \""); at != std::string::npos)
            prompt = c.args.substr(at + 4, c.args.find('"', at + 4) - (at + 4));
        EXPECT_EQ(tok512.encode(prompt, true, false), ref512.encode(prompt, true, false)) << c.name;
        EXPECT_EQ(tok512.encode(c.stdout_text, true, false), ref512.encode(c.stdout_text, true, false)) << c.name;
    }
    EXPECT_EQ(tok512.encode("Once upon a time", true, false), std::vector<int>({1, 403, 407, 261, 378}));
    EXPECT_EQ(tok512.encode("Tom had a big dog", true, false), std::vector<int>({1, 274, 287, 381, 261, 370, 400, 428}));
    EXPECT_EQ(tok512.encode("The café was", true, false), std::vector<int>({1, 291, 280, 412, 431, 485, 286}));
    EXPECT_EQ(llama.encode("", true, false), std::vector<int>({1}));
    EXPECT_EQ(llama.encode("I believe the meaning of life is", true, false),
              std::vector<int>({1, 306, 4658, 278, 6593, 310, 2834, 338}));
}

// A 100 kB prompt (the quadratic loop took seconds for 20 kB). The bound is loose because
// the machine is shared and the sanitize build is slow; the measured time is printed.
TEST(TokenizerEncodeFast, HundredKilobytePromptIsFast) {
    LHB_REQUIRE_MODELS();
    const Tokenizer llama = Tokenizer::load(lhb::test::model_path("tokenizer.bin"), 32000);
    const auto runs = lhb::test::load_expected_runs(lhb::test::model_path("expected-stories260K.txt"));
    std::string text;
    while (text.size() < 100000) text += runs.cases.at(0).stdout_text;
    text.resize(100000);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int> ids = llama.encode(text, true, false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("encoded %zu bytes into %zu tokens in %.3f s (measured, tokenizer.bin)\n", text.size(), ids.size(), seconds);
    EXPECT_GT(ids.size(), 10000u);
    EXPECT_LT(seconds, 5.0);
}

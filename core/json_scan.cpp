#include "core/json_scan.hpp"

#include "core/input_file.hpp"

#include <set>
#include <vector>

#include "core/error.hpp"

namespace lhb {

namespace {

struct Position {
    size_t line = 1, column = 1;
};

Position position_at(const std::string& text, size_t at) {
    Position p;
    size_t line_start = 0;
    for (size_t i = 0; i < at && i < text.size(); ++i)
        if (text[i] == '\n') ++p.line, line_start = i + 1;
    p.column = at - line_start + 1;
    return p;
}

[[noreturn]] void refuse(const std::string& text, const std::string& where, size_t at, const std::string& why) {
    const Position p = position_at(text, at);
    throw InputError(where + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + why);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// Reads the string starting at the quote text[i]; returns the index after the closing
// quote (text.size() if unterminated) and, when `decoded` is given, its value with the
// escapes resolved, so that "a" and "\u0061" count as the same key.
size_t read_string(const std::string& text, size_t i, std::string* decoded) {
    for (++i; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') return i + 1;
        if (c != '\\') {
            if (decoded) *decoded += c;
            continue;
        }
        if (++i >= text.size()) break;
        const char e = text[i];
        if (e == 'u') {
            uint32_t cp = 0;
            int k = 0;
            for (; k < 4 && i + 1 < text.size() && hex_value(text[i + 1]) >= 0; ++k) cp = cp * 16 + uint32_t(hex_value(text[++i]));
            if (k < 4) continue;  // malformed: the parser says so
            // A high surrogate followed by an escaped low one is one code point.
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < text.size() && text[i + 1] == '\\' && text[i + 2] == 'u') {
                uint32_t lo = 0;
                bool ok = true;
                for (int j = 0; j < 4; ++j) {
                    const int h = hex_value(text[i + 3 + size_t(j)]);
                    ok = ok && h >= 0;
                    lo = lo * 16 + uint32_t(h < 0 ? 0 : h);
                }
                if (ok && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (decoded) append_utf8(*decoded, cp);
        } else if (decoded) {
            switch (e) {
                case 'b': *decoded += '\b'; break;
                case 'f': *decoded += '\f'; break;
                case 'n': *decoded += '\n'; break;
                case 'r': *decoded += '\r'; break;
                case 't': *decoded += '\t'; break;
                default: *decoded += e;  // \" \\ \/ (anything else is the parser's error)
            }
        }
    }
    return text.size();
}

std::string shown_key(const std::string& key) {
    std::string s;
    for (unsigned char c : key) {
        if (s.size() >= 60) return "\"" + s + "...\"";
        s += (c < 0x20 || c == 0x7F) ? '?' : char(c);
    }
    return "\"" + s + "\"";
}

struct Frame {
    bool object = false;
    bool expecting_key = false;
    std::set<std::string> keys;
};

}  // namespace

void scan_json(const std::string& text, const std::string& where, const JsonLimits& limits) {
    if (text.size() > limits.max_bytes)
        throw InputError(where + ": JSON text of " + std::to_string(text.size()) + " bytes: expected at most " +
                         std::to_string(limits.max_bytes) + " bytes");
    std::vector<Frame> stack;
    for (size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c == '"') {
            Frame* top = stack.empty() ? nullptr : &stack.back();
            if (top && top->object && top->expecting_key) {
                std::string key;
                const size_t start = i;
                i = read_string(text, i, &key);
                top->expecting_key = false;
                if (!top->keys.insert(key).second)
                    refuse(text, where, start, "duplicate key " + shown_key(key) + " in one object (each key may appear once)");
            } else {
                i = read_string(text, i, nullptr);
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (int(stack.size()) >= limits.max_depth)
                refuse(text, where, i, "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
            stack.push_back(Frame{c == '{', c == '{', {}});
        } else if (c == '}' || c == ']') {
            if (stack.empty()) return;  // unbalanced: the parser reports it
            stack.pop_back();
        } else if (c == ',') {
            if (!stack.empty() && stack.back().object) stack.back().expecting_key = true;
        }
        ++i;
    }
}

std::string read_json_file(const std::string& path, uint64_t max_bytes, const std::string& what) {
    std::string text = read_input_file(path, max_bytes, what);
    scan_json(text, path, {kMaxNestingDepth, max_bytes});
    return text;
}

}  // namespace lhb

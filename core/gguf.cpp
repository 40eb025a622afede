// GGUF reader. The layout (gguf.h / the GGUF spec in ggml's docs):
//   "GGUF", uint32 version, uint64 tensor_count, uint64 kv_count,
//   kv_count x {string key, uint32 type, value},
//   tensor_count x {string name, uint32 n_dims, uint64 ne[n_dims], uint32 ggml_type, uint64 offset},
//   padding to general.alignment (default 32), the data section.
// A string is uint64 length + bytes (no NUL); an array is uint32 element type, uint64 count,
// the elements. Every read below is checked against the bytes that remain, every count against
// the file before anything is reserved, so no value in the file can make us read outside it or
// allocate more than a small multiple of its size.
#include "core/gguf.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.hpp"
#include "core/mapped_file.hpp"

namespace lhb {

const char* gguf_type_name(GgufType t) {
    switch (t) {
        case GgufType::UINT8: return "uint8";
        case GgufType::INT8: return "int8";
        case GgufType::UINT16: return "uint16";
        case GgufType::INT16: return "int16";
        case GgufType::UINT32: return "uint32";
        case GgufType::INT32: return "int32";
        case GgufType::FLOAT32: return "float32";
        case GgufType::BOOL: return "bool";
        case GgufType::STRING: return "string";
        case GgufType::ARRAY: return "array";
        case GgufType::UINT64: return "uint64";
        case GgufType::INT64: return "int64";
        case GgufType::FLOAT64: return "float64";
    }
    return "an unknown type";
}

namespace {

constexpr uint32_t kLastGgufType = uint32_t(GgufType::FLOAT64);

// Size of a fixed-size value, 0 for STRING and ARRAY.
size_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::UINT8:
        case GgufType::INT8:
        case GgufType::BOOL: return 1;
        case GgufType::UINT16:
        case GgufType::INT16: return 2;
        case GgufType::UINT32:
        case GgufType::INT32:
        case GgufType::FLOAT32: return 4;
        case GgufType::UINT64:
        case GgufType::INT64:
        case GgufType::FLOAT64: return 8;
        default: return 0;
    }
}

uint64_t load_le(const unsigned char* p, size_t n) {
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | p[k];
    return v;
}

// Decodes a fixed-size little-endian value of type t into v's u / i / f.
void decode_scalar(GgufType t, const unsigned char* p, GgufValue& v) {
    const size_t n = scalar_size(t);
    const uint64_t raw = load_le(p, n);
    switch (t) {
        case GgufType::INT8: v.i = int8_t(raw); break;
        case GgufType::INT16: v.i = int16_t(raw); break;
        case GgufType::INT32: v.i = int32_t(raw); break;
        case GgufType::INT64: v.i = int64_t(raw); break;
        case GgufType::FLOAT32: {
            float f;
            const uint32_t bits = uint32_t(raw);
            std::memcpy(&f, &bits, 4);
            v.f = f;
            break;
        }
        case GgufType::FLOAT64: std::memcpy(&v.f, &raw, 8); break;
        default: v.u = raw; break;
    }
}

std::string quoted(std::string_view s);

// Where a read happens, formatted only when it fails: "metadata 3 ('llama.block_count')
// element 7 string length".
struct Field {
    const char* part;
    const char* kind = nullptr;  // "metadata" or "tensor"; nullptr for the header
    uint64_t index = 0;
    std::string_view name;
    int64_t element = -1;
    int64_t inner = -1;

    explicit Field(const char* p) : part(p) {}
    Field(const char* p, const char* k, uint64_t i, std::string_view n = {}) : part(p), kind(k), index(i), name(n) {}

    std::string str() const {
        std::string s;
        if (kind) {
            s = std::string(kind) + " " + std::to_string(index);
            if (!name.empty()) s += " (" + quoted(name) + ")";  // a key's first 64 bytes, escaped
            s += " ";
        }
        if (element >= 0) s += "element " + std::to_string(element) + " ";
        if (inner >= 0) s += "element " + std::to_string(inner) + " ";
        return s + part;
    }
    Field with(const char* p) const {
        Field f = *this;
        f.part = p;
        return f;
    }
};

// Bounds-checked little-endian reads over the file's bytes.
struct Reader {
    const unsigned char* data;
    size_t size;
    size_t off;
    const std::string& where;

    size_t left() const { return size - off; }
    [[noreturn]] void fail(const Field& f, const std::string& expected, const std::string& found) const {
        fail_input(where, f.str(), expected, found);
    }
    void need(uint64_t n, const Field& f) const {
        if (n > left())
            fail(f, std::to_string(n) + " bytes at offset " + std::to_string(off),
                 std::to_string(left()) + " bytes (end of file)");
    }
    const unsigned char* take(uint64_t n, const Field& f) {
        need(n, f);
        const unsigned char* p = data + off;
        off += size_t(n);
        return p;
    }
    uint32_t u32(const Field& f) { return uint32_t(load_le(take(4, f), 4)); }
    uint64_t u64(const Field& f) { return load_le(take(8, f), 8); }
    std::string_view str(const Field& f, uint64_t max_bytes) {
        const uint64_t len = u64(f);
        if (len > max_bytes)
            fail(f, "a length of at most " + std::to_string(max_bytes) + " bytes", std::to_string(len));
        const unsigned char* p = take(len, f);
        return {reinterpret_cast<const char*>(p), size_t(len)};
    }
    // A count of items of at least min_bytes each, bounded by `max` and by the bytes left.
    uint64_t count(const Field& f, uint64_t max, uint64_t min_bytes) {
        const uint64_t n = u64(f);
        if (n > max) fail(f, "at most " + std::to_string(max), std::to_string(n));
        if (n > left() / min_bytes)
            fail(f, "at most " + std::to_string(left() / min_bytes) + " (" + std::to_string(left()) +
                        " bytes left in the file, " + std::to_string(min_bytes) + " per item at least)",
                 std::to_string(n));
        return n;
    }
};

GgufType read_value_type(Reader& r, const Field& f) {
    const uint32_t t = r.u32(f);
    if (t > kLastGgufType)
        r.fail(f, "a GGUF value type 0..12", std::to_string(t));
    return GgufType(t);
}

void read_scalar_or_string(Reader& r, GgufType t, const Field& f, GgufValue& v) {
    v.type = t;
    if (t == GgufType::STRING) {
        v.str = r.str(f.with("string"), GgufLimits::kMaxStringBytes);
        return;
    }
    decode_scalar(t, r.take(scalar_size(t), f.with("value")), v);
    if (t == GgufType::BOOL && v.u > 1) r.fail(f.with("bool value"), "0 or 1", std::to_string(v.u));
}

// An array's element type, count and elements. depth is 1 for a metadata value, 2 for an
// array inside it; the depth check makes the self-call below at most one level deep,
// whatever the file says.
void read_array(Reader& r, const Field& f, int depth, GgufValue& v) {
    v.type = GgufType::ARRAY;
    v.elem_type = read_value_type(r, f.with("array element type"));
    const size_t elem_size = scalar_size(v.elem_type);
    if (v.elem_type == GgufType::ARRAY && depth >= GgufLimits::kMaxArrayDepth)
        r.fail(f.with("array element type"),
               "arrays nested at most " + std::to_string(GgufLimits::kMaxArrayDepth) + " deep",
               "an array of arrays of arrays");
    // Smallest encoding of one element: its fixed size, a string's 8-byte length, an inner
    // array's 4-byte type and 8-byte count.
    const uint64_t min_bytes =
        elem_size ? elem_size : v.elem_type == GgufType::STRING ? 8 : 12;
    // Inner arrays become GgufValues of their own (~150 bytes for at least 12 in the file):
    // a lower cap keeps that within a few MB.
    const uint64_t max_count =
        v.elem_type == GgufType::ARRAY ? GgufLimits::kMaxNestedArrays : GgufLimits::kMaxArrayElements;
    v.count = r.count(f.with("array count"), max_count, min_bytes);
    if (elem_size) {
        v.elems = r.take(v.count * elem_size, f.with("array elements"));
        if (v.elem_type == GgufType::BOOL)
            for (uint64_t k = 0; k < v.count; ++k)
                if (v.elems[k] > 1) {
                    Field e = f.with("bool value");
                    (depth == 1 ? e.element : e.inner) = int64_t(k);
                    r.fail(e, "0 or 1", std::to_string(v.elems[k]));
                }
        return;
    }
    if (v.elem_type == GgufType::STRING) {
        v.strings.reserve(size_t(v.count));
        Field e = f.with("string");
        for (uint64_t k = 0; k < v.count; ++k) {
            (depth == 1 ? e.element : e.inner) = int64_t(k);
            v.strings.push_back(r.str(e, GgufLimits::kMaxStringBytes));
        }
        return;
    }
    v.items.resize(size_t(v.count));
    Field e = f;
    for (uint64_t k = 0; k < v.count; ++k) {
        e.element = int64_t(k);
        read_array(r, e, depth + 1, v.items[size_t(k)]);
    }
}

bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

std::string quoted(std::string_view s) {
    std::string out = "'";
    for (unsigned char c : s.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f) {
            out += char(c);
        } else {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (s.size() > 64) out += "...";
    return out + "'";
}

}  // namespace

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::UINT8: case GgufType::INT8: case GgufType::UINT16: case GgufType::INT16:
        case GgufType::UINT32: case GgufType::INT32: case GgufType::UINT64: case GgufType::INT64:
            return true;
        default:
            return false;
    }
}

int64_t GgufValue::int_at(uint64_t k) const {
    GgufValue e;
    e.type = elem_type;
    decode_scalar(elem_type, elems + k * scalar_size(elem_type), e);
    if (e.is_integer() && (elem_type == GgufType::INT8 || elem_type == GgufType::INT16 ||
                           elem_type == GgufType::INT32 || elem_type == GgufType::INT64))
        return e.i;
    return e.u > uint64_t(std::numeric_limits<int64_t>::max()) ? -1 : int64_t(e.u);
}

double GgufValue::float_at(uint64_t k) const {
    GgufValue e;
    decode_scalar(elem_type, elems + k * scalar_size(elem_type), e);
    return e.f;
}

std::string GgufTensorInfo::shape() const {
    std::string s = "[";
    for (uint32_t d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
    return s + "]";
}

GgufFile::GgufFile(const std::string& path) : path_(path), map_(std::make_unique<MappedFile>(path)) {
    parse(map_->data(), map_->size());
}

GgufFile::GgufFile(std::string name, const unsigned char* data, size_t size) : path_(std::move(name)) {
    parse(data, size);
}

GgufFile::~GgufFile() = default;
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;

// One pass over the file, front to back, as the comment at the top lays it out. Long because
// it is the format itself; each step is a few lines and says what it checks.
void GgufFile::parse(const unsigned char* data, size_t size) {
    size_ = size;
    Reader r{data, size, 0, path_};

    const unsigned char* magic = r.take(4, Field{"magic"});
    if (std::memcmp(magic, "GGUF", 4) != 0)
        r.fail(Field{"magic"}, "'GGUF'", quoted({reinterpret_cast<const char*>(magic), 4}));
    version_ = r.u32(Field{"version"});
    if (version_ != 2 && version_ != 3) {
        std::string found = std::to_string(version_);
        if (version_ == 1) found += " (version 1 has 32-bit counts and is not read)";
        if (version_ == 0x02000000u || version_ == 0x03000000u) found += " (a big-endian file)";
        r.fail(Field{"version"}, "2 or 3, little-endian", found);
    }
    // A tensor info takes at least 33 bytes (1-byte name), a key/value at least 14.
    const uint64_t n_tensors = r.count(Field{"tensor_count"}, GgufLimits::kMaxTensors, 33);
    const uint64_t n_kv = r.count(Field{"metadata_kv_count"}, GgufLimits::kMaxKeyValues, 14);

    kvs_.resize(size_t(n_kv));
    kv_index_.reserve(size_t(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        Field f{"key", "metadata", k};
        GgufKeyValue& kv = kvs_[size_t(k)];
        kv.key = r.str(f, GgufLimits::kMaxKeyBytes);
        if (kv.key.empty()) r.fail(f, "a non-empty key", "an empty one");
        f.name = kv.key;
        if (!kv_index_.emplace(kv.key, size_t(k)).second)
            r.fail(f, "a key not seen before", "a second " + quoted(kv.key));
        const GgufType t = read_value_type(r, f.with("value type"));
        if (t == GgufType::ARRAY)
            read_array(r, f, 1, kv.value);
        else
            read_scalar_or_string(r, t, f, kv.value);
    }

    if (const GgufValue* a = find("general.alignment")) {
        if (a->type != GgufType::UINT32)
            fail_input(path_, "general.alignment", "a uint32", std::string("a ") + gguf_type_name(a->type));
        if (!is_power_of_two(a->u))
            fail_input(path_, "general.alignment", "a power of two", std::to_string(a->u));
        alignment_ = a->u;
    }

    tensors_.resize(size_t(n_tensors));
    tensor_index_.reserve(size_t(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        GgufTensorInfo& t = tensors_[size_t(k)];
        Field f{"name", "tensor", k};
        t.name = r.str(f, GgufLimits::kMaxTensorName);
        if (t.name.empty()) r.fail(f, "a non-empty name", "an empty one");
        f.name = t.name;
        if (!tensor_index_.emplace(t.name, size_t(k)).second)
            r.fail(f, "a name not seen before", "a second " + quoted(t.name));
        t.n_dims = r.u32(f.with("n_dims"));
        if (t.n_dims < 1 || t.n_dims > GgufLimits::kMaxDims)
            r.fail(f.with("n_dims"), "1.." + std::to_string(GgufLimits::kMaxDims), std::to_string(t.n_dims));
        uint64_t elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            t.ne[d] = r.u64(f.with("dimension"));
            if (t.ne[d] == 0) r.fail(f.with("dimension"), "at least 1", "0");
            // ggml keeps sizes in int64: the product must stay below 2^63.
            if (elements > uint64_t(std::numeric_limits<int64_t>::max()) / t.ne[d])
                r.fail(f.with("dimensions"), "an element count below 2^63", t.shape());
            elements *= t.ne[d];
        }
        t.type = r.u32(f.with("type"));
        const auto layout = block_layout(t.type);
        if (!layout)
            r.fail(f.with("type"), "a ggml type this reader knows the block size of (it computes with " +
                                       std::string(supported_weight_types()) + ")",
                   std::to_string(t.type) + " (" + ggml_type_name(t.type) + ")");
        if (t.ne[0] % layout->block_elems != 0)
            r.fail(f.with("dimension 0"),
                   std::string("a multiple of ") + ggml_type_name(t.type) + "'s block of " +
                       std::to_string(layout->block_elems),
                   std::to_string(t.ne[0]));
        const uint64_t blocks = elements / layout->block_elems;
        if (blocks > uint64_t(size) / layout->block_bytes)
            r.fail(f.with("dimensions"),
                   "a tensor that fits in the file's " + std::to_string(size) + " bytes",
                   t.shape() + " of " + ggml_type_name(t.type));
        t.nbytes = blocks * layout->block_bytes;
        t.offset = r.u64(f.with("offset"));
        if (t.offset % alignment_ != 0)
            r.fail(f.with("offset"), "a multiple of the alignment " + std::to_string(alignment_),
                   std::to_string(t.offset));
    }

    // The data section starts at the next multiple of the alignment.
    data_offset_ = (uint64_t(r.off) + alignment_ - 1) / alignment_ * alignment_;
    if (n_tensors > 0 && data_offset_ > size)
        fail_input(path_, "data section",
                   "to start at offset " + std::to_string(data_offset_) + " inside the file",
                   "a file of " + std::to_string(size) + " bytes");
    const uint64_t data_size = size - std::min<uint64_t>(size, data_offset_);
    for (size_t k = 0; k < tensors_.size(); ++k) {
        GgufTensorInfo& t = tensors_[k];
        if (t.offset > data_size || t.nbytes > data_size - t.offset)
            fail_input(path_, Field{"offset", "tensor", k, t.name}.str(),
                       std::to_string(t.nbytes) + " bytes of data inside the data section (" +
                           std::to_string(data_size) + " bytes)",
                       std::to_string(t.offset));
        t.data = data + data_offset_ + t.offset;
    }
    // No two tensors may share bytes (stable: of two at one offset, the later one is named).
    std::vector<size_t> by_offset(tensors_.size());
    for (size_t k = 0; k < by_offset.size(); ++k) by_offset[k] = k;
    std::stable_sort(by_offset.begin(), by_offset.end(), [&](size_t a, size_t b) {
        return tensors_[a].offset < tensors_[b].offset;
    });
    for (size_t k = 1; k < by_offset.size(); ++k) {
        const GgufTensorInfo& prev = tensors_[by_offset[k - 1]];
        const GgufTensorInfo& t = tensors_[by_offset[k]];
        if (t.offset < prev.offset + prev.nbytes)
            fail_input(path_, Field{"offset", "tensor", by_offset[k], t.name}.str(),
                       "at least " + std::to_string(prev.offset + prev.nbytes) + " (the end of tensor " +
                           quoted(prev.name) + ")",
                       std::to_string(t.offset));
    }
}

const GgufValue* GgufFile::find(std::string_view key) const {
    const auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

std::string describe(const GgufValue& v) {
    switch (v.type) {
        case GgufType::STRING: return "the string " + quoted(v.str);
        case GgufType::ARRAY: return std::string("an array of ") + gguf_type_name(v.elem_type);
        case GgufType::FLOAT32:
        case GgufType::FLOAT64: return std::to_string(v.f);
        case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
            return std::to_string(v.i);
        default: return std::to_string(v.u);
    }
}

}  // namespace

uint64_t GgufFile::get_uint(std::string_view key, uint64_t lo, uint64_t hi) const {
    const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    const GgufValue* v = find(key);
    if (!v) fail_input(path_, std::string(key), expected, "no such key");
    if (!v->is_integer()) fail_input(path_, std::string(key), expected, describe(*v));
    const bool is_signed = v->type == GgufType::INT8 || v->type == GgufType::INT16 ||
                           v->type == GgufType::INT32 || v->type == GgufType::INT64;
    if (is_signed ? (v->i < 0 || uint64_t(v->i) < lo || uint64_t(v->i) > hi) : (v->u < lo || v->u > hi))
        fail_input(path_, std::string(key), expected, describe(*v));
    return is_signed ? uint64_t(v->i) : v->u;
}

uint64_t GgufFile::get_uint_or(std::string_view key, uint64_t lo, uint64_t hi, uint64_t fallback) const {
    return find(key) ? get_uint(key, lo, hi) : fallback;
}

double GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail_input(path_, std::string(key), "a float32 or float64", "no such key");
    if (v->type != GgufType::FLOAT32 && v->type != GgufType::FLOAT64)
        fail_input(path_, std::string(key), "a float32 or float64", describe(*v));
    return v->f;
}

double GgufFile::get_float_or(std::string_view key, double fallback) const {
    return find(key) ? get_float(key) : fallback;
}

std::string_view GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail_input(path_, std::string(key), "a string", "no such key");
    if (v->type != GgufType::STRING) fail_input(path_, std::string(key), "a string", describe(*v));
    return v->str;
}

const GgufValue& GgufFile::get_array(std::string_view key, GgufType elem) const {
    const std::string expected = std::string("an array of ") + gguf_type_name(elem);
    const GgufValue* v = find(key);
    if (!v) fail_input(path_, std::string(key), expected, "no such key");
    if (v->type != GgufType::ARRAY || v->elem_type != elem) fail_input(path_, std::string(key), expected, describe(*v));
    return *v;
}

// ---- llama --------------------------------------------------------------------------

namespace {

constexpr uint64_t kMaxDim = 1u << 16;     // Llama 2 70B: 8192
constexpr uint64_t kMaxHidden = 1u << 18;  // Llama 2 70B: 28672
constexpr uint64_t kMaxLayers = 1024;      // Llama 2 70B: 80

// Finds `name`, checks its type and its shape (llama2.c order [out][in]; out 0 for a vector).
const GgufTensorInfo* llama_tensor(const GgufFile& f, const std::string& name, uint64_t out,
                                   uint64_t in, bool norm) {
    const GgufTensorInfo* t = f.find_tensor(name);
    if (!t) fail_input(f.path(), "tensor " + name, "present (a llama model has it)", "absent");
    const bool type_ok = norm ? t->ggml_type() == GgmlType::F32 : weight_type_supported(t->ggml_type());
    if (!type_ok)
        fail_input(f.path(), "tensor " + name + ": type",
                   norm ? std::string("F32 (norm weights)") : std::string("one of ") + supported_weight_types(),
                   ggml_type_name(t->type));
    GgufTensorInfo want;
    want.n_dims = out ? 2 : 1;
    want.ne[0] = in;
    want.ne[1] = out ? out : 1;
    bool same = t->n_dims == want.n_dims;
    for (uint32_t d = 0; d < GgufLimits::kMaxDims; ++d) same = same && t->ne[d] == want.ne[d];
    if (!same) fail_input(f.path(), "tensor " + name + ": shape", want.shape() + " (GGUF order, row length first)", t->shape());
    return t;
}

}  // namespace

GgufLlama read_llama(const GgufFile& f) {
    const std::string_view arch = f.get_string("general.architecture");
    if (arch != "llama")
        fail_input(f.path(), "general.architecture", "'llama' (the only architecture read)", quoted(arch));
    if (const GgufValue* e = f.find("llama.expert_count"); e && !(e->is_integer() && e->u == 0 && e->i == 0))
        fail_input(f.path(), "llama.expert_count", "0 or absent (mixture-of-experts models are not read)", describe(*e));
    if (const GgufValue* s = f.find("llama.rope.scaling.type"); s && !(s->type == GgufType::STRING && s->str == "none"))
        fail_input(f.path(), "llama.rope.scaling.type", "'none' or absent (RoPE scaling is not read)", describe(*s));

    GgufLlama m;
    GgufLlamaConfig& c = m.config;
    c.dim = int(f.get_uint("llama.embedding_length", 1, kMaxDim));
    c.hidden_dim = int(f.get_uint("llama.feed_forward_length", 1, kMaxHidden));
    c.n_layers = int(f.get_uint("llama.block_count", 1, kMaxLayers));
    c.n_heads = int(f.get_uint("llama.attention.head_count", 1, uint64_t(c.dim)));
    if (c.dim % c.n_heads != 0)
        fail_input(f.path(), "llama.attention.head_count",
                   "a divisor of llama.embedding_length " + std::to_string(c.dim), std::to_string(c.n_heads));
    if (c.head_size() % 2 != 0)
        fail_input(f.path(), "llama.attention.head_count",
                   "an even head size (RoPE rotates pairs)", std::to_string(c.n_heads) + " heads of " +
                       std::to_string(c.head_size()));
    c.n_kv_heads = int(f.get_uint_or("llama.attention.head_count_kv", 1, uint64_t(c.n_heads), uint64_t(c.n_heads)));
    if (c.n_heads % c.n_kv_heads != 0)
        fail_input(f.path(), "llama.attention.head_count_kv",
                   "a divisor of llama.attention.head_count " + std::to_string(c.n_heads), std::to_string(c.n_kv_heads));
    c.context_length = int(f.get_uint("llama.context_length", 1, uint64_t(std::numeric_limits<int32_t>::max())));
    c.rope_dim = int(f.get_uint_or("llama.rope.dimension_count", 1, uint64_t(c.dim), uint64_t(c.head_size())));
    if (c.rope_dim != c.head_size())
        fail_input(f.path(), "llama.rope.dimension_count",
                   "the head size " + std::to_string(c.head_size()) + " (partial rotation is not read)",
                   std::to_string(c.rope_dim));
    const double base = f.get_float_or("llama.rope.freq_base", 10000.0);
    if (!(base > 1.0 && base < 1e12))
        fail_input(f.path(), "llama.rope.freq_base", "a number in (1, 1e12)", std::to_string(base));
    c.rope_freq_base = float(base);
    const double eps = f.get_float("llama.attention.layer_norm_rms_epsilon");
    if (!(eps > 0.0 && eps < 1.0))
        fail_input(f.path(), "llama.attention.layer_norm_rms_epsilon", "a number in (0, 1)", std::to_string(eps));
    c.rms_eps = float(eps);

    const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
    if (!emb) fail_input(f.path(), "tensor token_embd.weight", "present (a llama model has it)", "absent");
    if (emb->n_dims != 2 || emb->ne[1] < 1 || emb->ne[1] > uint64_t(std::numeric_limits<int32_t>::max()))
        fail_input(f.path(), "tensor token_embd.weight: shape", "[" + std::to_string(c.dim) + ", vocab_size]", emb->shape());
    c.vocab_size = int(emb->ne[1]);
    if (f.find("llama.vocab_size"))
        (void)f.get_uint("llama.vocab_size", uint64_t(c.vocab_size), uint64_t(c.vocab_size));

    const uint64_t dim = uint64_t(c.dim), hidden = uint64_t(c.hidden_dim), kv = uint64_t(c.kv_dim());
    m.token_embd = llama_tensor(f, "token_embd.weight", uint64_t(c.vocab_size), dim, false);
    m.layers.resize(size_t(c.n_layers));
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        GgufLlamaLayer& L = m.layers[size_t(l)];
        L.attn_norm = llama_tensor(f, p + "attn_norm.weight", 0, dim, true);
        L.wq = llama_tensor(f, p + "attn_q.weight", dim, dim, false);
        L.wk = llama_tensor(f, p + "attn_k.weight", kv, dim, false);
        L.wv = llama_tensor(f, p + "attn_v.weight", kv, dim, false);
        L.wo = llama_tensor(f, p + "attn_output.weight", dim, dim, false);
        L.ffn_norm = llama_tensor(f, p + "ffn_norm.weight", 0, dim, true);
        L.w1 = llama_tensor(f, p + "ffn_gate.weight", hidden, dim, false);
        L.w2 = llama_tensor(f, p + "ffn_down.weight", dim, hidden, false);
        L.w3 = llama_tensor(f, p + "ffn_up.weight", hidden, dim, false);
    }
    m.output_norm = llama_tensor(f, "output_norm.weight", 0, dim, true);
    m.tied_output = f.find_tensor("output.weight") == nullptr;
    m.output = m.tied_output ? m.token_embd : llama_tensor(f, "output.weight", uint64_t(c.vocab_size), dim, false);

    // A tensor we would not use (biases, rope_freqs, experts) means a model this forward pass
    // would compute wrongly: refuse it rather than ignore it.
    const size_t used = 2 + size_t(c.n_layers) * 9 + (m.tied_output ? 0 : 1);
    if (f.tensors().size() != used)
        for (const GgufTensorInfo& t : f.tensors()) {
            const std::string n(t.name);
            bool known = n == "token_embd.weight" || n == "output_norm.weight" || n == "output.weight";
            if (!known && n.rfind("blk.", 0) == 0) {
                const size_t dot = n.find('.', 4);
                const std::string layer = n.substr(4, dot == std::string::npos ? 0 : dot - 4);
                const std::string rest = dot == std::string::npos ? "" : n.substr(dot + 1);
                const bool digits = !layer.empty() && layer.size() <= 4 &&
                                    std::all_of(layer.begin(), layer.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
                                    (layer == "0" || layer[0] != '0');
                known = digits && std::stoi(layer) < c.n_layers &&
                        (rest == "attn_norm.weight" || rest == "attn_q.weight" || rest == "attn_k.weight" ||
                         rest == "attn_v.weight" || rest == "attn_output.weight" || rest == "ffn_norm.weight" ||
                         rest == "ffn_gate.weight" || rest == "ffn_down.weight" || rest == "ffn_up.weight");
            }
            if (!known)
                fail_input(f.path(), "tensor " + quoted(t.name),
                           "only the tensors of a plain llama model (" + std::to_string(used) + ")",
                           "one this reader does not use");
        }
    return m;
}

std::string context_length_warning(const GgufLlamaConfig& c, int requested, const std::string& path) {
    if (requested <= c.context_length) return "";
    return path + ": warning: llama.context_length is " + std::to_string(c.context_length) +
           " but " + std::to_string(requested) + " positions were asked for (the model was not trained that far)";
}

}  // namespace lhb

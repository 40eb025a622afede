// GGUF 4-bit models into the device's 4-bit layout (kernels/llama_layout.hpp, "4-bit
// weights"): which format each matrix kind takes, and the rows repacked at load. Every code,
// scale and min is taken from the file's blocks without rounding, so the device's element
// scale * (u - zero) - min is ggml's dequantized value bit for bit (tests/test_hls_q4.cpp).
#include <cstring>
#include <set>
#include <vector>

#include "core/error.hpp"
#include "core/quant_types.hpp"
#include "host/packing.hpp"

namespace lhb::hls {

namespace {

const char* const kKindNames[lhk::kQ4Classifier + 1] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3", "classifier"};

std::string matrix_name(int layer, int kind) {
    return kind == lhk::kQ4Classifier ? std::string("classifier")
                                      : "layer " + std::to_string(layer) + " " + kKindNames[kind];
}

std::string type_name(const WeightMatrix& w) {
    return w.dtype == DType::Ggml ? ggml_type_name(uint32_t(w.ggml_type)) : dtype_name(w.dtype);
}

[[noreturn]] void refuse(const std::string& where, const std::string& matrix, const std::string& type,
                         const std::string& why) {
    throw InputError(where + ": GGUF weight type of " + matrix + " (" + type + ") is not supported (" + why + ")");
}

uint16_t u16_at(const unsigned char* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

// One row in the device's terms: a code per column and (scale, min) per group.
struct Q4Row {
    std::vector<uint8_t> codes;
    std::vector<float> scale, min;
};

// Row `r` of w, whose type `format` holds, as codes and group scales (the file's values).
void decode_row(const WeightMatrix& w, int r, int format, Q4Row& out) {
    const int cols = w.cols, gcols = lhk::q4_group_cols_of(format), groups = cols / gcols;
    out.codes.assign(size_t(cols), 0);
    out.scale.assign(size_t(groups), 0.0f);
    out.min.assign(size_t(groups), 0.0f);
    const unsigned char* row = w.blocks + size_t(r) * row_bytes(w.ggml_type, size_t(cols));
    switch (w.ggml_type) {
        case GgmlType::Q4_0:  // 18 bytes a block of 32 = one group: d, then element j low / j+16 high
            for (int g = 0; g < groups; ++g) {
                const unsigned char* b = row + size_t(g) * sizeof(BlockQ4_0);
                out.scale[size_t(g)] = fp16_to_fp32(u16_at(b));
                for (int j = 0; j < 16; ++j) {
                    out.codes[size_t(g * 32 + j)] = b[2 + j] & 15;
                    out.codes[size_t(g * 32 + j + 16)] = b[2 + j] >> 4;
                }
            }
            break;
        case GgmlType::Q4_K:  // 144 bytes a block of 256: d, dmin, 12 bytes of 6-bit scales and mins, qs
            for (int sb = 0; sb < cols / kQK_K; ++sb) {
                const unsigned char* b = row + size_t(sb) * sizeof(BlockQ4_K);
                const float d = fp16_to_fp32(u16_at(b)), dmin = fp16_to_fp32(u16_at(b + 2));
                for (int s = 0; s < 8; ++s) {
                    uint8_t sc, m;
                    q4_k_scale_min(b + 4, s, &sc, &m);
                    const int first = sb * kQK_K + s * 32;  // the sub-block's first column
                    for (int j = 0; j < 32; ++j) {
                        const uint8_t byte = b[16 + 32 * (s / 2) + j];
                        out.codes[size_t(first + j)] = s % 2 == 0 ? byte & 15 : byte >> 4;
                    }
                    // ggml: d1 = d * sc, m1 = dmin * m; element = d1 * q - m1. The byte format
                    // splits the sub-block into two groups with the same pair.
                    for (int g = first / gcols; g < (first + 32) / gcols; ++g) {
                        out.scale[size_t(g)] = d * float(sc);
                        out.min[size_t(g)] = dmin * float(m);
                    }
                }
            }
            break;
        case GgmlType::Q6_K:  // 210 bytes a block of 256: ql, qh, 16 int8 scales, d (bytes format only)
            for (int sb = 0; sb < cols / kQK_K; ++sb) {
                const unsigned char* b = row + size_t(sb) * sizeof(BlockQ6_K);
                const unsigned char *ql = b, *qh = b + 128;
                const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
                const float d = fp16_to_fp32(u16_at(b + 208));
                for (int j = 0; j < kQK_K; ++j) {
                    // Per half of 128: element l (0..31) is ql[l] low with qh[l] bits 0-1; l+32
                    // ql[l+32] low, bits 2-3; l+64 ql[l] high, bits 4-5; l+96 ql[l+32] high, 6-7.
                    const int h = j / 128, l = j % 128, quarter = l / 32, i = l % 32;
                    const uint8_t lo = ql[64 * h + i + 32 * (quarter % 2)];
                    const int nibble = quarter < 2 ? lo & 15 : lo >> 4;
                    const int high = (qh[32 * h + i] >> (2 * quarter)) & 3;
                    out.codes[size_t(sb * kQK_K + j)] = uint8_t(nibble | (high << 4));  // q + 32, 0..63
                }
                for (int s = 0; s < 16; ++s) {
                    const float scale = d * float(sc[s]);
                    out.scale[size_t(sb * 16 + s)] = scale;
                    out.min[size_t(sb * 16 + s)] = 32.0f * scale;  // (d * sc) * (u - 32), exactly
                }
            }
            break;
        default:
            throw InputError("hls packing: a 4-bit layout cannot hold " + type_name(w));
    }
}

// The format a set of GGUF types (one matrix kind over all layers) takes, or -1.
int format_of_types(const std::set<GgmlType>& types) {
    if (types == std::set<GgmlType>{GgmlType::Q4_0}) return lhk::kQ4FormatQ4_0;
    if (types == std::set<GgmlType>{GgmlType::Q4_K}) return lhk::kQ4FormatQ4_K;
    for (GgmlType t : types)
        if (t != GgmlType::Q4_K && t != GgmlType::Q6_K) return -1;
    return lhk::kQ4FormatBytes;
}

}  // namespace

int q4_format_of_type(GgmlType t) { return format_of_types({t}); }

int q4_precision(int formats) { return -1 - formats; }
bool is_q4_precision(int precision) { return precision < 0; }
int q4_formats_of_precision(int precision) { return -1 - precision; }

int q4_uniform_formats(int format) {
    int formats = 0;
    for (int k = 0; k <= lhk::kQ4Classifier; ++k) formats |= format << (2 * k);
    return formats;
}

bool holds_4bit_matrices(const Model& model) {
    const ModelWeights& w = model.weights();
    if (w.wcls.dtype == DType::Ggml) return true;
    for (const LayerWeights& L : w.layers)
        for (int m = 0; m < lhk::kMatricesPerLayer; ++m)
            if (L.matrix(WeightRole(m))->dtype == DType::Ggml) return true;
    return false;
}

int precision_of(const lhk::ModelDims& d) { return lhk::is_q4(d) ? q4_precision(d.q4_formats) : d.group_size; }

int q4_formats_of(const Model& model, const std::string& who) {
    const ModelWeights& w = model.weights();
    const std::string where = who.empty() ? model.path() : model.path() + ": " + who;
    const std::string why = "the HLS kernels read fp32, llama2.c int8 and GGUF Q4_0, Q4_K and Q6_K matrices, "
                            "one matrix kind all Q4_0, or all Q4_K and Q6_K; cpu-ref runs it";
    int formats = 0;
    for (int kind = 0; kind <= lhk::kQ4Classifier; ++kind) {
        std::set<GgmlType> types;
        const int layers = kind == lhk::kQ4Classifier ? 1 : int(w.layers.size());
        for (int l = 0; l < layers; ++l) {
            const WeightMatrix& m = kind == lhk::kQ4Classifier ? w.wcls : *w.layers[size_t(l)].matrix(WeightRole(kind));
            if (m.dtype != DType::Ggml) refuse(where, matrix_name(l, kind), type_name(m), why);
            types.insert(m.ggml_type);
            if (format_of_types(types) < 0) refuse(where, matrix_name(l, kind), type_name(m), why);
        }
        formats |= format_of_types(types) << (2 * kind);
    }
    return formats;
}

void pack_q4_rows(const WeightMatrix& w, int format, const std::array<lhk::Beat*, kPorts>& dst,
                  const std::array<int64_t, kPorts>& offset) {
    if (w.dtype != DType::Ggml || !w.blocks || !lhk::q4_cols_fit(w.cols, format))
        throw InputError("hls packing: a 4-bit layout in format " + std::to_string(format) + " cannot hold a " +
                         type_name(w) + " matrix of " + std::to_string(w.cols) + " columns");
    const int rb = lhk::q4_row_beats(w.cols, format), gcols = lhk::q4_group_cols_of(format);
    const bool bytes = lhk::q4_bytes(format);
    Q4Row row;
    for (int r = 0; r < w.rows; ++r) {
        decode_row(w, r, format, row);
        const int p = r % kPorts;
        lhk::Beat* beat = dst[size_t(p)] + offset[size_t(p)] + int64_t(r / kPorts) * rb;
        const int groups = int(row.scale.size());
        for (int g0 = 0; g0 < groups; g0 += lhk::kQ4ChunkGroups) {
            for (int k = 0; k < lhk::kQ4ChunkGroups && g0 + k < groups; ++k) {  // the chunk's scale beat
                beat->v[2 * k] = row.scale[size_t(g0 + k)];
                beat->v[2 * k + 1] = row.min[size_t(g0 + k)];
            }
            ++beat;
            for (int g = g0; g < g0 + lhk::kQ4ChunkGroups && g < groups; ++g, ++beat) {
                auto* out = reinterpret_cast<unsigned char*>(beat);
                for (int c = 0; c < gcols; ++c) {
                    const uint8_t u = row.codes[size_t(g * gcols + c)];
                    if (bytes) out[c] = u;
                    else out[c / 2] |= uint8_t(u << (4 * (c % 2)));
                }
            }
        }
    }
}

}  // namespace lhb::hls

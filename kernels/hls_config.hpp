#pragma once
// The one configuration of the HLS design. The kernels (kernels/), the host-side packing
// (host/packing.*) and the estimator (host/estimator.*) all read these numbers, so the
// buffers the host lays out, the loops the kernel runs and the cycles the estimator counts
// cannot drift apart. Change a number here and every layer follows.
//
// Plain C++17: no vendor header is needed to read it.
#include <cstdint>

// Numbers the INTERFACE pragmas of the top functions need. Vitis expands macros in
// #pragma HLS lines; the constants below are defined from them, so there is one source.
#define LHK_PORT_BITS 128
#define LHK_BURST_BEATS 16
#define LHK_OUTSTANDING 16
// Co-simulation depth hints (beats): a bound on the buffers, not their size.
// Weights: TinyLlama-1.1B in fp32 is 4.4 GB over four ports, 1.1 GB = 69M beats a port.
#define LHK_DEPTH_WEIGHTS 69206016
#define LHK_DEPTH_VECTOR 8192    // a vector of kMaxHidden floats is 1408 beats; softmax 2048 / 4
#define LHK_DEPTH_LOGITS 280000  // a prompt block's logits: kPrefillTokens x 32000 / 4 beats
#define LHK_DEPTH_TOKENS 512  // kMaxSeqLen token ids, four per beat
// Depth of each weight reader's FIFO (beats): kWeightFifoBeats below.
#define LHK_WEIGHT_FIFO_BEATS 1024

namespace lhk {

// ---- AXI ports ------------------------------------------------------------------------
// Each weight bundle gmem0..gmem3 is linked to one of the Zynq HP ports HP0..HP3. An HP
// port is at most 128 bits wide, so one beat carries four floats.
constexpr int kPortBits = LHK_PORT_BITS;
constexpr int kFloatsPerBeat = kPortBits / 32;
constexpr int kBeatBytes = kPortBits / 8;
constexpr int kWeightPorts = 4;  // weight bundles = matmul engines = KV-cache stripes
constexpr int kKvPorts = kWeightPorts;
// HP ports take AXI3 bursts of at most 16 beats; asking for longer bursts only makes the
// interconnect split them. Enough requests in flight cover ~64 cycles of DDR latency.
constexpr int kBurstBeats = LHK_BURST_BEATS;
constexpr int kOutstanding = LHK_OUTSTANDING;
// Depth (beats) of the FIFO between each port's weight reader and its matmul engine. The
// reader runs ahead while the vector ops between matmuls leave the port idle; it has to
// hold what the DDR can deliver in the longest such gap (~1,000 cycles at 51 B/cycle over
// four ports: ~800 beats a port). 1024 x 128 bits: 4 BRAM36 a port.
constexpr int kWeightFifoBeats = LHK_WEIGHT_FIFO_BEATS;

// ---- Arithmetic -----------------------------------------------------------------------
// fp32 multiply-adds per clock in one matmul engine: one beat per clock, so the engine
// consumes its port at full rate. Total lanes = kWeightPorts * kLanes.
constexpr int kLanes = kFloatsPerBeat;
// Accumulators rotated so that one accumulator is updated only every kPartialSums clocks:
// must be >= the fadd latency at the target clock for II=1 (about 5 at 300 MHz).
constexpr int kPartialSums = 8;
// Kernel clock the design is written for (MHz). The board file may offer less.
constexpr int kTargetClockMHz = 300;

// ---- Model maxima: stories260K up to TinyLlama-1.1B in one bitstream ------------------
constexpr int kMaxDim = 2048;      // TinyLlama-1.1B
constexpr int kMaxHidden = 5632;   // TinyLlama-1.1B
constexpr int kMaxLayers = 32;     // TinyLlama-1.1B has 22
constexpr int kMaxHeads = 32;      // TinyLlama-1.1B (4 KV heads)
constexpr int kMaxHeadSize = 64;   // stories42M, stories110M, TinyLlama-1.1B
constexpr int kMaxSeqLen = 2048;   // TinyLlama-1.1B
constexpr int kMaxVocab = 32000;   // Llama 2 tokenizer
// llama2.c's BOS token: generation stops when it is sampled (it begins the next story).
constexpr int kBosToken = 1;

// ---- int8 (Q8_0) weights ----------------------------------------------------------------
// One bitstream serves fp32 and int8 models: ModelDims::group_size selects (0: fp32).
// An int8 beat carries kQ8RowsPerBeat rows side by side (kQ8Cols columns of each), so the
// two rows' weights in a column share one activation: two int8 multiplies per DSP48E2
// (kernels/primitives/matmul_q8.hpp). A scale beat carries kQ8ScalesPerBeat fp32 scales:
// kQ8ChunkGroups groups of each of the two rows.
constexpr int kQ8PerBeat = kBeatBytes;                  // int8 values per beat (16)
constexpr int kQ8RowsPerBeat = 2;                       // rows sharing a beat
constexpr int kQ8Cols = kQ8PerBeat / kQ8RowsPerBeat;    // columns of each row per beat (8)
constexpr int kQ8ScalesPerBeat = kFloatsPerBeat;        // fp32 scales per scale beat (4)
constexpr int kQ8ChunkGroups = kQ8ScalesPerBeat / kQ8RowsPerBeat;  // groups per scale beat (2)
// Group sizes the kernels take: multiples of kLanes (the activation quantizer handles kLanes
// values per clock, all of one group) up to kMaxGroupSize. A group is stored zero-padded to
// whole kQ8Cols slices, so 4 costs one slice (half of it padding) and 12 costs two.
constexpr int kMaxGroupSize = 64;
constexpr int kMinGroupSize = 4;

// ---- 4-bit weights (GGUF Q4_0 and Q4_K; Q6_K as 8-bit codes) ------------------------------
// ModelDims::weight_bits = 4 selects them (kernels/primitives/matmul_q4.hpp). A weight beat is
// one group of one row: kQ4PerBeat 4-bit codes (a group of 32), or, in the byte format,
// kQ4ByteCols 8-bit codes (a group of 16) read by the same multipliers as two nibbles each. A
// scale beat holds (scale, min) in fp32 for kQ4ChunkGroups groups. Activations are quantized
// on chip in llama.cpp's arithmetic: Q8_0 blocks of kQ4Q8_0Block, Q8_K blocks of kQ4Q8_KBlock.
constexpr int kQ4PerBeat = kPortBits / 4;            // 4-bit codes per beat (32)
constexpr int kQ4ByteCols = kPortBits / 8;           // 8-bit codes per beat (16)
constexpr int kQ4ChunkGroups = kFloatsPerBeat / 2;   // groups per scale beat (2)
constexpr int kQ4Q8_0Block = 32;                     // activations per scale, Q8_0 (Q4_0 weights)
constexpr int kQ4Q8_KBlock = 256;                    // activations per scale, Q8_K (Q4_K, Q6_K weights)

// ---- Prefill (a prompt block through the layers at once) ---------------------------------
// llama_forward's prefill mode keeps the activations of up to kPrefillTokens prompt tokens
// on chip and applies each weight beat to all of them (primitives/matmul_block.hpp), so a
// block costs one weight stream. The engines then bound the time, not the DDR: each clock
// they apply their four beats to kPrefillTokenLanes tokens, so a beat is held for
// kPrefillGroups clocks. kPrefillGroups is also the distance at which a token's accumulator
// is revisited, so it must cover the fadd latency (5 at 300 MHz, 7 at faster clocks: the
// board file). The token lanes are what the DSPs allow (host/resources.cpp): 4 engines x 4
// token lanes x 4 lanes = 64 fp32 MACs a clock (256 int8 MACs), 32 tokens in 8 clocks (5 lanes
// did not leave the XCZU7EV's DSPs for the TinyLlama-sized kernels; 8 groups rather than 7
// keep a 64-token prompt at two blocks).
constexpr int kPrefillTokenLanes = 4;
constexpr int kPrefillGroups = 8;
constexpr int kPrefillTokens = kPrefillTokenLanes * kPrefillGroups;
// The block's rows have a fixed on-chip capacity, not kPrefillTokens x kMaxCols (at
// TinyLlama's hidden 5632 that is 770 KB an array, and the block has seven): each array holds
// kBlockLaneFloats floats per token lane, token t in lane t % kPrefillTokenLanes as the
// (t / kPrefillTokenLanes)-th row of its lane, and a shape's block is as many tokens as fit
// (llama_layout.hpp, block_tokens): all 32 for rows up to 1536 floats (stories15M, stories42M),
// 24 for stories110M (2048), 8 for TinyLlama (5632). The arrays of x, q, k, v hold rows of
// dim floats, kBlockDimLaneFloats a lane. 12288 = 3 x 4096: one URAM per bank of the four a
// lane of xin and hb is split into; 6144 x 4 / 4 = 6144 words: two URAMs a bank of x, q, k, v.
constexpr int kBlockLaneFloats = 12288;
constexpr int kBlockDimLaneFloats = 6144;
// A row starts at a multiple of kBlockRowAlign floats in its lane: the engines' results of a
// row pair land in 8 banks (matmul_block.hpp), the ops' lanes in kLanes.
constexpr int kBlockRowAlign = 8;
// llama_forward's prompt_logits: which of the block's tokens get logits.
constexpr int kPromptLogitsNone = 0;   // none: a block before the prompt's last one
constexpr int kPromptLogitsLast = 1;   // the last token's (logits[0..])
constexpr int kPromptLogitsEvery = 2;  // every token's, token t's at t * logits_beats
static_assert(kPrefillGroups >= 7, "a token's accumulator is revisited every kPrefillGroups clocks: at least the fadd latency");

// ---- Derived sizes (do not edit) -------------------------------------------------------
constexpr int ceil_div_c(int a, int b) { return (a + b - 1) / b; }
constexpr int max_c(int a, int b) { return a > b ? a : b; }
constexpr int kMaxCols = max_c(kMaxDim, kMaxHidden);                 // longest matmul row
constexpr int kMaxRowBeats = max_c(ceil_div_c(kMaxCols, kFloatsPerBeat), kPartialSums);
constexpr int kMaxRows = max_c(kMaxVocab, max_c(kMaxDim, kMaxHidden));  // tallest matrix
constexpr int kMaxRowsPerPort = ceil_div_c(kMaxRows, kWeightPorts);
constexpr int kMaxVecBeats = ceil_div_c(kMaxCols, kFloatsPerBeat);     // an on-chip vector
constexpr int kMaxHeadBeats = kMaxHeadSize / kFloatsPerBeat;
// An attention engine's iterations per position: a KV row is stored natively (kv_dim
// values, llama_layout.hpp), but each of its KV heads is applied to its kv_mul query heads
// one after another, kLanes elements a clock, so a position takes dim / kLanes iterations
// (plus the scale beats of an 8-bit row), padded to at least kPartialSums: the value loop
// updates the same accumulator once per position, so that must be beyond the fadd latency.
constexpr int kMaxKvScaleBeats = ceil_div_c(kMaxHeads, kFloatsPerBeat);  // 8-bit rows: one fp32 scale a KV head
constexpr int kMaxKvRowBeats = max_c(kMaxDim / kFloatsPerBeat + kMaxKvScaleBeats, kPartialSums);
constexpr int kMaxSlots = ceil_div_c(kMaxSeqLen, kKvPorts);  // KV rows per stripe per layer
// 8-bit KV cache (ModelDims::kv_bits 8): int8 values a beat (a KV head's values start a beat).
constexpr int kKv8PerBeat = kBeatBytes;
// Depth (beats) of the FIFO between an attention engine's KV reader and the engine: the
// reader runs ahead while the engine applies a beat to a KV head's kv_mul query heads; a
// burst deep (the m_axi adapter buffers the requests in flight), shift registers, no BRAM.
constexpr int kKvFifoBeats = 16;
// Heads softmax_rows handles at once (primitives/softmax.hpp): a layer's heads in groups.
constexpr int kSoftmaxHeads = 8;
static_assert(kMaxHeads % kSoftmaxHeads == 0, "softmax groups: whole groups of heads");
// int8: beats of one row pair (scale beats + weight beats, at least kPartialSums), for a
// row of `cols` columns in groups of gs.
constexpr int q8_pair_beats_c(int cols, int gs) {
    const int groups = cols / gs;
    const int slices = ceil_div_c(gs, kQ8Cols);  // weight beats per group
    const int beats = ceil_div_c(groups, kQ8ChunkGroups) + groups * slices;
    return max_c(beats, kPartialSums);
}
// The engines keep what each beat of a row pair needs on chip (one copy per engine): room
// for a row of kMaxCols columns in groups of kQ8Cols or more, and for narrower groups where
// the row pair still fits (group size 4 up to 2816 columns, stories42M's 1376 among them).
// dims_fit refuses the rest: group size 4 at TinyLlama's 5632 would double the buffer.
constexpr int kMaxQ8PairBeats = q8_pair_beats_c(kMaxCols, kQ8Cols);
constexpr int kMaxQ8Groups = kMaxCols / kMinGroupSize;  // activation scales of one vector
// 4-bit: beats of one row (scale beats + one weight beat a group, at least kPartialSums) in
// groups of gcols; the most is the byte format's (groups of 16) at kMaxCols.
constexpr int q4_row_beats_c(int cols, int gcols) {
    const int groups = cols / gcols;
    return max_c(ceil_div_c(groups, kQ4ChunkGroups) + groups, kPartialSums);
}
constexpr int kMaxQ4RowBeats = q4_row_beats_c(kMaxCols, kQ4ByteCols);
constexpr int kMaxQ4ActBlocks = kMaxCols / kQ4Q8_0Block;  // activation scales of one vector
// The int8 and 4-bit matmuls share their engines (matmul_q8.hpp): the steps of a row pair or a row.
constexpr int kMaxQuantBeats = max_c(kMaxQ8PairBeats, kMaxQ4RowBeats);
constexpr int kRegionAlignBytes = 4096;  // every weight region starts on a 4 KiB page
constexpr int kRegionAlignBeats = kRegionAlignBytes / kBeatBytes;

static_assert(kPortBits % 32 == 0 && kFloatsPerBeat >= 1, "ports carry whole floats");
static_assert(kLanes == kFloatsPerBeat, "an engine consumes exactly one beat per clock");
static_assert(kWeightPorts == 4, "the top functions have four weight bundles");
static_assert(kPartialSums >= 2 && (kPartialSums & (kPartialSums - 1)) == 0,
              "partial sums: a power of two (adder tree)");
static_assert(kMaxHeadSize % kFloatsPerBeat == 0, "a head is a whole number of beats");
static_assert(kQ8ChunkGroups >= 1 && kQ8ScalesPerBeat % kQ8RowsPerBeat == 0,
              "a scale beat holds whole groups of both rows");
static_assert(kMinGroupSize % kLanes == 0, "a quantizer iteration stays inside one group");
static_assert(kBlockLaneFloats >= ceil_div_c(kMaxCols, kBlockRowAlign) * kBlockRowAlign &&
                  kBlockDimLaneFloats >= ceil_div_c(kMaxDim, kBlockRowAlign) * kBlockRowAlign,
              "a prefill block holds at least one row of the widest shape per token lane");
static_assert(kBlockLaneFloats % kMinGroupSize == 0 && kBlockRowAlign % kLanes == 0 &&
                  kBlockRowAlign % kMinGroupSize == 0, "a block row's int8 scales stay inside their lane");

// The loop structure as numbers, so that the estimator can evaluate the kernel's own loop
// bounds for another design (kernels/loop_bounds.hpp takes a Design).
struct Design {
    int weight_ports;   // matmul engines, one per weight bundle
    int port_bits;      // width of every m_axi port
    int lanes;          // fp32 multiply-adds per clock per engine (and vector-loop lanes)
    int partial_sums;   // rotating accumulators per dot product
    int burst_beats;    // AXI burst length asked for
    int outstanding;    // read requests in flight per port
    int kv_ports;       // KV-cache stripes read in parallel by attention
    int flatten_rows;   // 1: a matmul is one pipelined loop over all its beats (fill once);
                        // 0: one pipelined loop per row (fill and drain paid per row)
    int clock_mhz;      // kernel clock
    int weight_fifo_beats;  // > 0: a reader per weight port streams every matrix, in the
                            // order the engines use them, through a FIFO this deep, so
                            // it reads ahead while the ops between matmuls run; 0: the
                            // engines read their ports themselves
};

constexpr Design kDesign{kWeightPorts, kPortBits, kLanes,   kPartialSums,   kBurstBeats,
                         kOutstanding, kKvPorts,  1,        kTargetClockMHz, kWeightFifoBeats};

}  // namespace lhk

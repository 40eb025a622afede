#pragma once
// The FPGA view of a results document (docs/fpga-view.md), beside the results table: for
// each estimated row, the resources of every compute unit of the link config against the
// device, and the estimated cycles of each op class beside the time the same kernels took
// in C simulation (hls-csim, measured on this host); and the estimator's validation against
// published designs (bench validate), which `bench run` writes as validation.json beside
// results.json so that the report shows it. Every board figure is estimated.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/validation.hpp"

namespace lhb::bench {

// The markdown of the FPGA view ("" when the document has no estimated row).
std::string fpga_view_markdown(const nlohmann::json& results);

// bench validate's JSON (schema lhb-validation/1): every check and whether all pass.
nlohmann::json validation_document(const std::vector<hls::PublishedCheck>& checks);
// Checks every published design of configs/published (hls::default_published_dir).
nlohmann::json validate_published_designs();
// A few lines: each design's published and estimated tok/s, error and band.
std::string validation_markdown(const nlohmann::json& document);

}  // namespace lhb::bench

// SPDX-License-Identifier: Apache-2.0
// The accuracy/size tradeoff report of `qtool sweep`: one row per configuration, rendered as a
// terminal table, JSON, CSV, an SVG plot (metric against file size, log size axis, fp32 marked,
// Pareto front drawn and labelled) and one self-contained HTML page.
//
// CSV / JSON columns (stable):
//   config          configuration id, e.g. "int4-s0.50" ("fp32" for the original)
//   weights         weight format: float, int8, int4, int2, binary, ternary, fp16, bf16
//   sparsity        fraction of weights pruned (0..1); pattern: unstructured | N:M | channel
//   activations     int8 | float
//   bits_per_weight average code bits of the quantized weights (32 for fp32)
//   file_bytes      size of the written .onnx; zip_bytes: after DEFLATE (zlib default level)
//   size_ratio      file_bytes / fp32 file_bytes
//   metric          "top1" (fraction 0..1, with labels) or "sqnr_db" (output 0 vs fp32)
//   value           the metric's value; delta: top-1 minus fp32's, in points (SQNR: same as value)
//   agreement       fraction of samples whose argmax equals fp32's
//   seconds         wall time of compressing and evaluating this configuration
//   path            the written model, relative to the output folder
#pragma once
#include <string>
#include <vector>

namespace qtool {

struct ReportRow {
  std::string config, weights = "float", pattern = "unstructured", activations = "float", path;
  double sparsity = 0, bits_per_weight = 32;
  int64_t file_bytes = 0, zip_bytes = 0;
  double size_ratio = 1, value = 0, delta = 0, agreement = 1, seconds = 0;
};

struct Report {
  std::string model, metric;  // metric: "top1" or "sqnr_db"
  std::vector<ReportRow> rows;  // rows[0] is fp32
  std::string sensitivity_html;  // optional per-layer table (already HTML)

  std::string to_text() const;
  std::string to_csv() const;
  std::string to_json() const;
  std::string to_svg() const;
  std::string to_html() const;
  // Rows on the Pareto front (no other row is both smaller and better), by increasing size.
  std::vector<size_t> pareto() const;
  static Report from_json(const std::string& json);  // for --resume; throws InputError when malformed
};

}  // namespace qtool

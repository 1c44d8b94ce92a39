// SPDX-License-Identifier: Apache-2.0
// The accuracy/size tradeoff report of `qtool sweep`: one row per configuration, rendered as a
// terminal table, JSON, CSV, an SVG plot (metric against file size, log size axis, fp32 marked,
// Pareto front drawn and labelled, every point with a <title> tooltip) and one self-contained HTML
// page (with a provenance block: qtool version, command line, data, observer, date, model sha256).
// CSV follows RFC 4180: fields holding a comma, quote or line break are quoted, quotes doubled.
//
// CSV / JSON columns (stable):
//   config          configuration id, e.g. "int4-s0.50" ("fp32" for the original)
//   weights         weight format: float, int8, int4, int2, binary, ternary, fp16, bf16
//   sparsity        fraction of weights pruned (0..1); pattern: unstructured | N:M | channel
//   activations     int8 | float
//   bits_per_weight average code bits of the quantized weights (32 for fp32)
//   file_bytes      size of the written .onnx; zip_bytes: after DEFLATE (zlib default level)
//   size_ratio      file_bytes / fp32 file_bytes
//   metric          "top1" (fraction 0..1, with labels) or "sqnr_db" (smallest over outputs vs fp32)
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

// Where a report's numbers came from (rendered as the HTML report's provenance block; "provenance"
// in report.json). Empty fields are left out.
struct Provenance {
  std::string qtool_version, command_line, date;  // date: UTC, ISO 8601
  std::string model_sha256;                       // of the input .onnx file
  std::string calib_data, eval_data, observer;    // data set descriptions (path, size, preprocessing)
  int64_t calib_samples = 0, eval_samples = 0;
  bool empty() const { return qtool_version.empty() && command_line.empty() && model_sha256.empty(); }
};

struct Report {
  std::string model, metric;  // metric: "top1" or "sqnr_db"
  std::vector<ReportRow> rows;  // rows[0] is fp32
  std::string sensitivity_html;  // optional per-layer table and bar chart (already HTML)
  std::string size_axis = "file";  // x axis of the plot: "file" (file_bytes) or "zip" (zip_bytes, download size)
  Provenance provenance;

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

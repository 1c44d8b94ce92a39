// SPDX-License-Identifier: Apache-2.0
// eval/report: RFC 4180 CSV quoting, provenance in JSON (round trip through from_json) and HTML
// (escaped), <title> tooltips on every plotted point, and the zip size axis.
#include <gtest/gtest.h>

#include "eval/report.h"

namespace {

qtool::Report sample_report() {
  qtool::Report r;
  r.model = "m.onnx";
  r.metric = "top1";
  qtool::ReportRow fp32;
  fp32.config = "fp32";
  fp32.file_bytes = 4000;
  fp32.zip_bytes = 3700;
  fp32.value = 0.9;
  fp32.path = "m.onnx";
  qtool::ReportRow q;
  q.config = "int4, \"odd\" name";
  q.weights = "int4";
  q.sparsity = 0.5;
  q.file_bytes = 1500;
  q.zip_bytes = 600;  // pruned: much smaller once zipped
  q.size_ratio = 0.375;
  q.value = 0.88;
  q.delta = -2;
  q.path = "dir\nwith newline/q.onnx";
  r.rows = {fp32, q};
  r.provenance.qtool_version = "9.9.9";
  r.provenance.command_line = "qtool sweep m.onnx --labels <l>.npy";
  r.provenance.date = "2026-11-23T07:00:00Z";
  r.provenance.model_sha256 = std::string(64, 'a');
  r.provenance.calib_data = "calib.npy (100 samples)";
  r.provenance.calib_samples = 100;
  r.provenance.observer = "mse";
  return r;
}

}  // namespace

TEST(Report, CsvQuotesFieldsWithCommasQuotesAndLineBreaks) {
  const std::string csv = sample_report().to_csv();
  EXPECT_NE(csv.find("\r\n\"int4, \"\"odd\"\" name\",int4,0.5,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"dir\nwith newline/q.onnx\"\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\r\nfp32,float,0,"), std::string::npos) << csv;  // plain fields stay unquoted
}

TEST(Report, ProvenanceRoundTripsAndIsEscapedInHtml) {
  const qtool::Report r = sample_report();
  const qtool::Report back = qtool::Report::from_json(r.to_json());
  EXPECT_EQ(back.provenance.qtool_version, "9.9.9");
  EXPECT_EQ(back.provenance.command_line, r.provenance.command_line);
  EXPECT_EQ(back.provenance.model_sha256, r.provenance.model_sha256);
  EXPECT_EQ(back.provenance.calib_samples, 100);
  EXPECT_EQ(back.provenance.observer, "mse");
  const std::string html = r.to_html();
  EXPECT_NE(html.find(std::string(64, 'a')), std::string::npos);
  EXPECT_NE(html.find("--labels &lt;l&gt;.npy"), std::string::npos);  // escaped, not markup
  EXPECT_EQ(html.find("--labels <l>.npy"), std::string::npos);
}

TEST(Report, EveryPointHasATooltipAndTheZipAxisUsesZipBytes) {
  qtool::Report r = sample_report();
  const std::string file_svg = r.to_svg();
  size_t titles = 0;
  for (size_t p = file_svg.find("<title>"); p != std::string::npos; p = file_svg.find("<title>", p + 1)) ++titles;
  EXPECT_GE(titles, r.rows.size());
  r.size_axis = "zip";
  const std::string zip_svg = r.to_svg();
  EXPECT_NE(zip_svg, file_svg);
  EXPECT_NE(zip_svg.find("zip"), std::string::npos);
  EXPECT_EQ(qtool::Report::from_json(r.to_json()).size_axis, "zip");
}

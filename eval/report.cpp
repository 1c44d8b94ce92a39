// SPDX-License-Identifier: Apache-2.0
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace qtool {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string human_bytes(double b) {
  if (b >= 1048576) return fmt("%.2f MiB", b / 1048576);
  if (b >= 1024) return fmt("%.1f KiB", b / 1024);
  return fmt("%.0f B", b);
}

// Axis ticks sit at 1, 2, 5 x 10^k bytes: label them in decimal units so they read exactly.
std::string si_bytes(double b) {
  if (b >= 1e9) return fmt("%g GB", b / 1e9);
  if (b >= 1e6) return fmt("%g MB", b / 1e6);
  if (b >= 1e3) return fmt("%g kB", b / 1e3);
  return fmt("%g B", b);
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

}  // namespace

std::vector<size_t> Report::pareto() const {
  std::vector<size_t> idx(rows.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return rows[a].file_bytes < rows[b].file_bytes ||
           (rows[a].file_bytes == rows[b].file_bytes && rows[a].value > rows[b].value);
  });
  std::vector<size_t> front;
  double best = -INFINITY;
  for (size_t i : idx)
    if (rows[i].value > best) {
      front.push_back(i);
      best = rows[i].value;
    }
  return front;
}

std::string Report::to_text() const {
  std::ostringstream o;
  const bool top1 = metric == "top1";
  o << "  config                 weights  sparsity  bits/w      file        zip   ratio  "
    << (top1 ? "   top-1    delta" : "  SQNR dB   delta") << "\n";
  for (const auto& r : rows) {
    char b[256];
    std::snprintf(b, sizeof b, "  %-22s %-8s %7.0f%%  %6.2f  %10s %10s  %5.1f%%  %8s %8s\n", r.config.c_str(),
                  r.weights.c_str(), 100 * r.sparsity, r.bits_per_weight, human_bytes(static_cast<double>(r.file_bytes)).c_str(),
                  human_bytes(static_cast<double>(r.zip_bytes)).c_str(), 100 * r.size_ratio,
                  top1 ? fmt("%.2f%%", 100 * r.value).c_str() : (std::isfinite(r.value) ? fmt("%.1f", r.value) : "inf").c_str(),
                  r.config == "fp32" || !top1 ? "" : fmt("%+.2f", r.delta).c_str());
    o << b;
  }
  return o.str();
}

std::string Report::to_csv() const {
  std::ostringstream o;
  o << "config,weights,sparsity,pattern,activations,bits_per_weight,file_bytes,zip_bytes,size_ratio,metric,value,delta,"
       "agreement,seconds,path\n";
  for (const auto& r : rows)
    o << r.config << "," << r.weights << "," << r.sparsity << "," << r.pattern << "," << r.activations << ","
      << r.bits_per_weight << "," << r.file_bytes << "," << r.zip_bytes << "," << r.size_ratio << "," << metric << ","
      << r.value << "," << r.delta << "," << r.agreement << "," << r.seconds << "," << r.path << "\n";
  return o.str();
}

std::string Report::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["metric"] = metric;
  j["rows"] = nlohmann::ordered_json::array();
  for (const auto& r : rows)
    j["rows"].push_back({{"config", r.config}, {"weights", r.weights}, {"sparsity", r.sparsity}, {"pattern", r.pattern},
                         {"activations", r.activations}, {"bits_per_weight", r.bits_per_weight},
                         {"file_bytes", r.file_bytes}, {"zip_bytes", r.zip_bytes}, {"size_ratio", r.size_ratio},
                         {"value", std::isfinite(r.value) ? nlohmann::ordered_json(r.value) : nlohmann::ordered_json(nullptr)},
                         {"delta", std::isfinite(r.delta) ? nlohmann::ordered_json(r.delta) : nlohmann::ordered_json(nullptr)}, {"agreement", r.agreement}, {"seconds", r.seconds},
                         {"path", r.path}});
  auto front = pareto();
  j["pareto"] = nlohmann::ordered_json::array();
  for (size_t i : front) j["pareto"].push_back(rows[i].config);
  return j.dump(2) + "\n";
}

Report Report::from_json(const std::string& text) {
  Report r;
  try {
    auto j = nlohmann::json::parse(text);
    r.model = j.at("model").get<std::string>();
    r.metric = j.at("metric").get<std::string>();
    for (const auto& x : j.at("rows")) {
      ReportRow w;
      w.config = x.at("config");
      w.weights = x.at("weights");
      w.sparsity = x.at("sparsity");
      w.pattern = x.at("pattern");
      w.activations = x.at("activations");
      w.bits_per_weight = x.at("bits_per_weight");
      w.file_bytes = x.at("file_bytes");
      w.zip_bytes = x.at("zip_bytes");
      w.size_ratio = x.at("size_ratio");
      w.value = x.at("value").is_null() ? INFINITY : x.at("value").get<double>();  // SQNR of fp32 vs itself
      w.delta = x.at("delta").is_null() ? INFINITY : x.at("delta").get<double>();
      w.agreement = x.at("agreement");
      w.seconds = x.at("seconds");
      w.path = x.at("path");
      r.rows.push_back(w);
    }
  } catch (const std::exception& e) {
    throw InputError(std::string("report.json is malformed: ") + e.what());
  }
  return r;
}

std::string Report::to_svg() const {
  const double W = 760, H = 480, L = 80, R = 30, T = 50, B = 60;
  const bool top1 = metric == "top1";
  auto yval = [&](const ReportRow& r) { return top1 ? 100 * r.value : r.value; };
  double xmin = INFINITY, xmax = 0, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& r : rows) {
    xmin = std::min(xmin, static_cast<double>(r.file_bytes));
    xmax = std::max(xmax, static_cast<double>(r.file_bytes));
    if (std::isfinite(yval(r))) {
      ymin = std::min(ymin, yval(r));
      ymax = std::max(ymax, yval(r));
    }
  }
  if (!std::isfinite(ymin)) ymin = 0, ymax = 1;
  double lx0 = std::floor(std::log10(std::max(1.0, xmin)) * 4) / 4, lx1 = std::ceil(std::log10(std::max(2.0, xmax)) * 4) / 4;
  if (lx1 <= lx0) lx1 = lx0 + 0.25;
  const double pad = std::max(0.5, 0.08 * (ymax - ymin));
  double y0 = ymin - pad, y1 = ymax + pad;
  auto X = [&](double b) { return L + (std::log10(std::max(1.0, b)) - lx0) / (lx1 - lx0) * (W - L - R); };
  auto Y = [&](double v) { return T + (y1 - std::min(y1, std::max(y0, v))) / (y1 - y0) * (H - T - B); };  // inf: top
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " "
    << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">"
    << esc(model) << ": " << (top1 ? "top-1 accuracy" : "SQNR vs fp32") << " against file size</text>\n";
  // axes, ticks and grid
  o << "<g stroke=\"#999\">\n";
  o << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\"/>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\"/>\n</g>\n";
  for (int e = static_cast<int>(std::floor(lx0)); e <= static_cast<int>(std::ceil(lx1)); ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double b = m * std::pow(10.0, e), lb = std::log10(b);
      if (lb < lx0 - 1e-9 || lb > lx1 + 1e-9) continue;
      o << "<line x1=\"" << X(b) << "\" y1=\"" << T << "\" x2=\"" << X(b) << "\" y2=\"" << H - B
        << "\" stroke=\"#eee\"/><text x=\"" << X(b) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">"
        << esc(si_bytes(b)) << "</text>\n";
    }
  const double step = std::pow(10.0, std::floor(std::log10((y1 - y0) / 5)));
  const double nice = (y1 - y0) / step > 25 ? 5 * step : (y1 - y0) / step > 10 ? 2 * step : step;
  for (double v = std::ceil(y0 / nice) * nice; v <= y1; v += nice)
    o << "<line x1=\"" << L << "\" y1=\"" << Y(v) << "\" x2=\"" << W - R << "\" y2=\"" << Y(v)
      << "\" stroke=\"#eee\"/><text x=\"" << L - 6 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">"
      << fmt(nice < 1 ? "%.1f" : "%.0f", v) << "</text>\n";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 18
    << "\" text-anchor=\"middle\">file size (log scale; kB = 1000 bytes)</text>\n";
  o << "<text x=\"18\" y=\"" << (T + H - B) / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
    << (T + H - B) / 2 << ")\">" << (top1 ? "top-1 (%)" : "SQNR of output 0 vs fp32 (dB)") << "</text>\n";
  // Pareto front
  auto front = pareto();
  o << "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"";
  for (size_t i : front) o << X(static_cast<double>(rows[i].file_bytes)) << "," << Y(yval(rows[i])) << " ";
  o << "\"/>\n";
  // points and labels
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    const double x = X(static_cast<double>(r.file_bytes)), y = Y(yval(r));
    if (r.config == "fp32")
      o << "<rect x=\"" << x - 6 << "\" y=\"" << y - 6 << "\" width=\"12\" height=\"12\" fill=\"#222\"/>\n";
    else
      o << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"5\" fill=\"" << (on_front ? "#d62728" : "#1f77b4") << "\"/>\n";
    o << "<text x=\"" << x + 8 << "\" y=\"" << y - 8 << "\"" << (on_front ? " font-weight=\"bold\"" : "") << ">"
      << esc(r.config) << "</text>\n";
  }
  o << "<g transform=\"translate(" << W - R - 190 << "," << H - B - 58 << ")\">"
    << "<rect width=\"185\" height=\"52\" fill=\"white\" stroke=\"#ccc\"/>"
    << "<rect x=\"8\" y=\"8\" width=\"10\" height=\"10\" fill=\"#222\"/><text x=\"24\" y=\"17\">fp32 original</text>"
    << "<line x1=\"6\" y1=\"32\" x2=\"20\" y2=\"32\" stroke=\"#d62728\" stroke-width=\"2\"/>"
    << "<text x=\"24\" y=\"36\">Pareto front (bold labels)</text></g>\n";
  o << "</svg>\n";
  return o.str();
}

std::string Report::to_html() const {
  std::ostringstream o;
  const bool top1 = metric == "top1";
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qtool report: " << esc(model) << "</title>\n"
    << "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}"
       "tr.front td{font-weight:bold}</style></head><body>\n";
  o << "<h1>qtool accuracy / size report</h1>\n<p>Model: <code>" << esc(model) << "</code>. Metric: "
    << (top1 ? "top-1 accuracy" : "SQNR of output 0 against the fp32 model") << ". Bold rows are on the Pareto front.</p>\n";
  o << to_svg();
  o << "<table><tr><th>config</th><th>weights</th><th>sparsity</th><th>activations</th><th>bits/weight</th>"
       "<th>file bytes</th><th>zip bytes</th><th>size ratio</th><th>"
    << (top1 ? "top-1" : "SQNR dB") << "</th><th>delta</th><th>agreement</th></tr>\n";
  auto front = pareto();
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    o << "<tr" << (std::find(front.begin(), front.end(), i) != front.end() ? " class=\"front\"" : "") << "><td>"
      << esc(r.config) << "</td><td>" << r.weights << "</td><td>" << fmt("%.0f%%", 100 * r.sparsity) << " " << esc(r.pattern)
      << "</td><td>" << r.activations << "</td><td>" << fmt("%.2f", r.bits_per_weight) << "</td><td>" << r.file_bytes
      << "</td><td>" << r.zip_bytes << "</td><td>" << fmt("%.1f%%", 100 * r.size_ratio) << "</td><td>"
      << (top1 ? fmt("%.2f%%", 100 * r.value) : std::isfinite(r.value) ? fmt("%.1f", r.value) : "inf") << "</td><td>"
      << (r.config == "fp32" || !top1 ? "" : fmt("%+.2f", r.delta)) << "</td><td>"
      << fmt("%.1f%%", 100 * r.agreement) << "</td></tr>\n";
  }
  o << "</table>\n";
  if (!sensitivity_html.empty()) o << "<h2>Per-layer sensitivity</h2>\n" << sensitivity_html;
  o << "</body></html>\n";
  return o.str();
}

}  // namespace qtool

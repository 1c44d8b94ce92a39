// SPDX-License-Identifier: Apache-2.0
#include <cstdio>
#include <regex>

#include "core/error.h"
#include "tools/commands.h"

#include "prune/sparse_storage.h"

namespace qtool::cli {

ImageOptions DataOptions::image() const {
  ImageOptions o;
  if (!size.empty()) {
    std::smatch m;
    if (!std::regex_match(size, m, std::regex("(\\d+)[xX](\\d+)")))
      throw InputError("--size '" + size + "' is not WxH (e.g. 320x240)");
    o.width = std::stoi(m[1]);
    o.height = std::stoi(m[2]);
  }
  o.mean = mean;
  o.std = std;
  for (float s : std)
    if (s == 0.f) throw InputError("--std values must be non-zero");
  o.scale = scale;
  if (layout != "nchw" && layout != "nhwc") throw InputError("--layout must be nchw or nhwc, got '" + layout + "'");
  o.nchw = layout == "nchw";
  o.rgb = !bgr;
  o.jpeg_fancy_upsampling = jpeg_fancy;
  return o;
}

void add_data_options(CLI::App* cmd, DataOptions& o) {
  cmd->add_option("--size", o.size, "images: resize to WxH (default: the model input's size)");
  cmd->add_option("--mean", o.mean, "images: per-channel mean subtracted after --scale")->delimiter(',');
  cmd->add_option("--std", o.std, "images: per-channel std divided after the mean")->delimiter(',');
  cmd->add_option("--scale", o.scale, "images: pixel multiplier applied first (default 1/255)");
  cmd->add_option("--layout", o.layout, "images: nchw or nhwc (default nchw)");
  cmd->add_flag("--bgr,!--rgb", o.bgr, "images: channel order (default --rgb)");
  cmd->add_flag("--jpeg-fancy-upsampling", o.jpeg_fancy,
                "images: libjpeg's smooth chroma upsampling (as PIL/OpenCV) instead of plain replication");
  cmd->add_option("--offset", o.offset, "skip the first N samples of the data");
  cmd->add_option("--limit", o.limit, "use at most N samples of the data");
  cmd->add_flag("--whole", o.whole,
                "feed every array of the data whole, as the complete input tensor (default: inputs declared "
                "with a symbolic or 1 first extent are split into samples along it, the others fed whole)");
}

std::unique_ptr<Dataset> open_data(const std::string& path, const std::vector<InputSpec>& inputs, const DataOptions& o) {
  auto ds = open_dataset(path, inputs, o.image(), o.whole);
  if (o.offset > 0 || o.limit >= 0) ds = slice_dataset(std::move(ds), o.offset, o.limit);
  if (ds->size() == 0) throw InputError(path + ": no samples selected");
  return ds;
}

std::string format_bytes(int64_t b) {
  char buf[64];
  if (b >= (1 << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", b / 1048576.0);
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

std::string size_lines(const Model& input, const Model& output) {
  std::string in, out;
  input.proto.SerializeToString(&in);
  output.proto.SerializeToString(&out);
  const auto fi = static_cast<long long>(in.size()), fo = static_cast<long long>(out.size());
  const auto zi = static_cast<long long>(zip_bytes(in)), zo = static_cast<long long>(zip_bytes(out));
  char b[256];
  std::snprintf(b, sizeof b,
                "  file size:       %lld B -> %lld B (%.1f%% of the input, %.2fx smaller)\n"
                "  zip-compressed:  %lld B -> %lld B (%.1f%% of the input's)\n",
                fi, fo, 100.0 * fo / fi, static_cast<double>(fi) / fo, zi, zo, 100.0 * zo / zi);
  return b;
}

}  // namespace qtool::cli

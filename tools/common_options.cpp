// SPDX-License-Identifier: Apache-2.0
// Options shared by the commands that read data: image geometry and normalisation, sample
// selection (--offset/--limit/--sample), labels (.npy or class folders); size formatting.
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <regex>
#include <set>

#include "calib/sample_select.h"
#include "core/error.h"
#include "prune/sparse_storage.h"
#include "tools/commands.h"

namespace qtool::cli {

namespace {

// "WxH" -> (W, H); InputError naming the flag.
std::pair<int, int> parse_wh(const std::string& v, const char* flag) {
  std::smatch m;
  if (!std::regex_match(v, m, std::regex("(\\d{1,9})[xX](\\d{1,9})")))
    throw InputError(std::string(flag) + " '" + v + "' is not WxH (e.g. 320x240)");
  const long w = std::stol(m[1]), h = std::stol(m[2]);
  if (w < 1 || h < 1 || w > kMaxImageSide || h > kMaxImageSide)
    throw InputError(std::string(flag) + " '" + v + "': width and height must be 1.." + std::to_string(kMaxImageSide));
  return {static_cast<int>(w), static_cast<int>(h)};
}

}  // namespace

std::vector<int64_t> DataOptions::select(int64_t n) const { return select_samples(n, {offset, limit, sample, seed}); }

ImageOptions DataOptions::image() const {
  ImageOptions o;
  if (!size.empty()) std::tie(o.width, o.height) = parse_wh(size, "--size");
  if (!center_crop.empty()) std::tie(o.crop_width, o.crop_height) = parse_wh(center_crop, "--center-crop");
  if (!letterbox.empty()) std::tie(o.letterbox_width, o.letterbox_height) = parse_wh(letterbox, "--letterbox");
  if (resize_shorter < 0) throw InputError("--resize-shorter must be positive, got " + std::to_string(resize_shorter));
  o.resize_shorter = resize_shorter;
  o.pad_value = pad_value;
  o.mean = mean;
  o.std = std;
  o.scale = scale;
  if (layout != "nchw" && layout != "nhwc") throw InputError("--layout must be nchw or nhwc, got '" + layout + "'");
  o.nchw = layout == "nchw";
  o.rgb = !bgr;
  o.jpeg_fancy_upsampling = jpeg_fancy;
  validate_image_options(o);
  return o;
}

void add_data_options(CLI::App* cmd, DataOptions& o) {
  auto* size = cmd->add_option("--size", o.size, "images: resize to WxH (default: the model input's size)");
  auto* shorter = cmd->add_option("--resize-shorter", o.resize_shorter,
                                  "images: resize the shorter side to N, aspect kept, then --center-crop (ImageNet: "
                                  "--resize-shorter 256 --center-crop 224x224)");
  auto* crop = cmd->add_option("--center-crop", o.center_crop,
                               "images: keep the centre WxH (default with --resize-shorter: the model input's size)");
  auto* letterbox = cmd->add_option("--letterbox", o.letterbox,
                                    "images: fit inside WxH with the aspect kept and pad the rest (YOLO)");
  auto* pad = cmd->add_option("--pad-value", o.pad_value, "images: --letterbox padding in pixel units 0..255 (default 114)");
  letterbox->excludes(size)->excludes(shorter)->excludes(crop);
  shorter->excludes(size);
  pad->needs(letterbox);
  cmd->add_option("--mean", o.mean, "images: per-channel mean subtracted after --scale")->delimiter(',');
  cmd->add_option("--std", o.std, "images: per-channel std divided after the mean")->delimiter(',');
  cmd->add_option("--scale", o.scale, "images: pixel multiplier applied first (default 1/255)");
  cmd->add_option("--layout", o.layout, "images: nchw or nhwc (default nchw)");
  cmd->add_flag("--bgr,!--rgb", o.bgr, "images: channel order (default --rgb)");
  cmd->add_flag("--jpeg-fancy-upsampling", o.jpeg_fancy,
                "images: libjpeg's smooth chroma upsampling (as PIL/OpenCV) instead of plain replication");
  cmd->add_option("--offset", o.offset, "skip the first N samples of the data");
  auto* limit = cmd->add_option("--limit", o.limit, "use at most N samples of the data");
  cmd->add_option("--sample", o.sample,
                  "with --limit: first (default; on a sorted folder: the first classes only), every-k (evenly "
                  "spread) or random (--seed)")
      ->needs(limit);
  cmd->add_option("--seed", o.seed, "seed of --sample random (default 0)");
  cmd->add_flag("--skip-nonfinite", o.skip_nonfinite,
                "calibration: drop samples holding NaN, inf or values beyond 1e30 (default: such a sample is an error)");
  cmd->add_flag("--whole", o.whole,
                "feed every array of the data whole, as the complete input tensor (default: inputs declared "
                "with a symbolic or 1 first extent are split into samples along it, the others fed whole)");
}

std::unique_ptr<Dataset> open_data(const std::string& path, const std::vector<InputSpec>& inputs, const DataOptions& o) {
  if (o.offset < 0) throw InputError("--offset must be >= 0, got " + std::to_string(o.offset));
  if (o.limit < -1) throw InputError("--limit must be >= 0, got " + std::to_string(o.limit));
  if (path.empty()) throw InputError("the data path is empty");
  auto ds = open_dataset(path, inputs, o.image(), o.whole);
  const int64_t n = ds->size();
  if (o.sample == "first" && o.limit >= 0 && o.limit < n - o.offset && std::filesystem::is_directory(path)) {
    int folders = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) folders += e.is_directory();
    if (folders > 1)
      spdlog::warn("{}: --limit {} takes the first {} of {} samples in name order, so only the first class folders; "
                   "--sample every-k (or random) spreads them over all",
                   path, o.limit, o.limit, n);
  }
  ds = select_dataset(std::move(ds), {o.offset, o.limit, o.sample, o.seed}, inputs, o.whole);
  if (ds->size() == 0) throw InputError(path + ": no samples selected");
  return ds;
}

std::vector<int64_t> open_labels(const std::string& labels, const std::string& data_path,
                                 const std::vector<InputSpec>& inputs, const DataOptions& o) {
  return select_labels(labels, data_path, inputs, o.image(), o.whole, {o.offset, o.limit, o.sample, o.seed});
}

std::string format_bytes(int64_t b) {
  char buf[64];
  if (b >= (1 << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", b / 1048576.0);
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

std::string size_lines(const Model& input, const Model& output, const SaveResult& saved) {
  const uint64_t fi = input.bytes_on_disk() ? input.bytes_on_disk() : input.serialized_bytes();
  const uint64_t fo = saved.model_bytes + saved.data_bytes;
  auto pct = [](uint64_t a, uint64_t b) {
    char p[64];
    if (b == 0) std::snprintf(p, sizeof p, "n/a");
    else std::snprintf(p, sizeof p, "%.1f%%", 100.0 * static_cast<double>(a) / static_cast<double>(b));
    return std::string(p);
  };
  char b[320];
  char ratio[64];
  if (fo) std::snprintf(ratio, sizeof ratio, "%.2fx smaller", static_cast<double>(fi) / static_cast<double>(fo));
  else std::snprintf(ratio, sizeof ratio, "n/a");
  std::snprintf(b, sizeof b, "  file size:       %s -> %s (%s of the input, %s)%s\n", format_bytes(static_cast<int64_t>(fi)).c_str(),
                format_bytes(static_cast<int64_t>(fo)).c_str(), pct(fo, fi).c_str(), ratio,
                saved.data_bytes ? " (with external data)" : "");
  std::string out = b;
  // zip-compressed sizes need each model in memory: only for models below 256 MiB
  constexpr uint64_t kZipLimit = uint64_t{256} << 20;
  if (input.serialized_bytes() <= kZipLimit && output.serialized_bytes() <= kZipLimit) {
    const uint64_t zi = zip_bytes(serialize_model(input)), zo = zip_bytes(serialize_model(output));
    std::snprintf(b, sizeof b, "  zip-compressed:  %s -> %s (%s of the input's)\n", format_bytes(static_cast<int64_t>(zi)).c_str(),
                  format_bytes(static_cast<int64_t>(zo)).c_str(), pct(zo, zi).c_str());
    out += b;
  }
  return out;
}

namespace {
bool stat_of(const std::string& p, struct stat* st) { return !p.empty() && ::stat(p.c_str(), st) == 0; }
}  // namespace

void OutputGuard::input(const std::string& path) {
  struct stat st {};
  if (!stat_of(path, &st)) return;
  Input in;
  in.path = path;
  in.dev = static_cast<uint64_t>(st.st_dev);
  in.ino = static_cast<uint64_t>(st.st_ino);
  in.folder = S_ISDIR(st.st_mode);
  std::error_code ec;
  in.canonical = std::filesystem::canonical(path, ec);
  inputs_.push_back(in);
}

void OutputGuard::input_model(const Model& model) {
  input(model.path.string());
  for (const auto& f : model.external_files) input(f->path().string());
}

std::filesystem::path OutputGuard::output(const std::filesystem::path& path, bool named, const std::string& option) {
  if (path.empty()) throw InputError(option + ": the output path is empty");
  const OutputTarget t = resolve_output(path);
  const std::string label = option + " " + path.string();
  if (!t.device) {
    struct stat st {};
    if (t.exists && stat_of(t.path.string(), &st)) {
      for (const auto& in : inputs_)
        if (!in.folder && in.dev == static_cast<uint64_t>(st.st_dev) && in.ino == static_cast<uint64_t>(st.st_ino))
          throw InputError(label + ": is " + (in.path == path.string() ? std::string("an input") : "the same file as input " + in.path) +
                           " of this command; refusing to overwrite it (choose another output path)");
      if (!named && !force_)
        throw InputError(label + ": exists (an earlier result?); pass --force to replace it, or name the output explicitly");
    }
    // inside a folder the command reads as data?
    std::error_code ec;
    const auto dir = std::filesystem::canonical(t.path.parent_path().empty() ? "." : t.path.parent_path(), ec);
    if (!ec)
      for (const auto& in : inputs_) {
        if (!in.folder || in.canonical.empty()) continue;
        auto rel = dir.lexically_relative(in.canonical);
        if (!rel.empty() && *rel.begin() != "..")
          throw InputError(label + ": lies inside " + in.path + ", a data folder this command reads; choose another place");
      }
    for (const auto& [other, opt] : outputs_)
      if (other == t.path || same_file(other, t.path))
        throw InputError(label + ": is also the output of " + opt + "; give each output its own path");
  }
  outputs_.emplace_back(t.path, option);
  return path;
}

void reject_empty_values(const CLI::App* cmd) {
  for (const CLI::Option* o : cmd->get_options()) {
    if (o->count() == 0 || o->get_type_size() == 0) continue;  // not given, or a flag
    for (const auto& r : o->results())
      if (r.empty()) throw InputError(o->get_name() + ": empty value");
  }
}

void add_force_option(CLI::App* cmd, bool& force) {
  cmd->add_flag("--force", force, "replace existing output files that qtool names by default (outputs named with -o, "
                                  "--save-* or --plan are replaced anyway)");
}

}  // namespace qtool::cli

// SPDX-License-Identifier: Apache-2.0
// Loading and saving: bad files give InputError naming the file; saves are atomic and never
// overwrite the input; external data is read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "calib/calibration_table.h"
#include "core/error.h"
#include "io/npy.h"
#include "io/png_chunks.h"
#include "io/onnx_tensor.h"
#include "quant/plan.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;
namespace fs = std::filesystem;

namespace {
fs::path tmpdir() {
  fs::path d = fs::temp_directory_path() / ("qtool_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
std::string message_of(const fs::path& p) {
  try {
    load_model(p);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
const char* kTiny = R"(<ir_version: 7, opset_import: ["" : 13]>
  g (float[1,2] x) => (float[1,2] y) { y = Add(x, w) })";
}  // namespace

TEST(Load, BadFilesNameTheFileAndProblem) {
  fs::path d = tmpdir();
  EXPECT_NE(message_of(d / "missing.onnx").find("no such file"), std::string::npos);
  write(d / "empty.onnx", "");
  EXPECT_NE(message_of(d / "empty.onnx").find("empty"), std::string::npos);
  write(d / "text.onnx", "this is not a model\n");
  EXPECT_NE(message_of(d / "text.onnx").find(d.string()), std::string::npos);
  Model m = test::parse_model(kTiny);
  m.set_initializer("w", Tensor::from<float>({1, 2}, {1, 2}));
  std::string bytes = m.proto.SerializeAsString();
  write(d / "truncated.onnx", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(message_of(d / "truncated.onnx"), "");
  m.set_opset(3);
  write(d / "old.onnx", m.proto.SerializeAsString());
  EXPECT_NE(message_of(d / "old.onnx").find("unsupported opset 3"), std::string::npos);
  // default-domain nodes without an ai.onnx import: opset 1, refused as such
  m.proto.clear_opset_import();
  write(d / "no_import.onnx", m.proto.SerializeAsString());
  EXPECT_NE(message_of(d / "no_import.onnx").find("unsupported opset 1"), std::string::npos);
  // nodes of another domain only (an ai.onnx.ml file): no ai.onnx opset to check; the op is named
  for (auto& n : *m.graph().mutable_node()) n.set_domain("ai.onnx.ml");
  auto* ml = m.proto.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(3);
  write(d / "ml.onnx", m.proto.SerializeAsString());
  const std::string ml_message = message_of(d / "ml.onnx");
  EXPECT_EQ(ml_message.find("unsupported opset"), std::string::npos) << ml_message;
  fs::remove_all(d);
}

TEST(Save, AtomicRoundTripAndRefusesToOverwriteInput) {
  fs::path d = tmpdir();
  Model m = test::parse_model(kTiny);
  m.set_initializer("w", Tensor::from<float>({1, 2}, {1, 2}));
  save_model(m, d / "a.onnx");
  Model back = load_model(d / "a.onnx");
  EXPECT_EQ(back.initializer("w").to_floats(), (std::vector<float>{1, 2}));
  EXPECT_THROW(save_model(back, d / "a.onnx"), InputError);
  for (const auto& e : fs::directory_iterator(d)) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
  fs::remove_all(d);
}

TEST(Load, ExternalData) {
  fs::path d = tmpdir();
  Model m = test::parse_model(kTiny);
  onnx::TensorProto t = tensor_to_proto(Tensor::from<float>({1, 2}, {3, 4}), "w");
  std::string raw = t.raw_data();
  t.clear_raw_data();
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t.add_external_data();
  e->set_key("location");
  e->set_value("w.bin");
  write(d / "w.bin", raw);
  *m.graph().add_initializer() = t;
  write(d / "ext.onnx", m.proto.SerializeAsString());
  Model back = load_model(d / "ext.onnx");
  auto y = Executor(back).run({{"x", Tensor::from<float>({1, 2}, {1, 1})}}).at("y");
  EXPECT_EQ(y.to_floats(), (std::vector<float>{4, 5}));
  SaveOptions tiny;
  tiny.external_data_threshold = 10;  // force the external-data path on save
  const SaveResult r = save_model(back, d / "out.onnx", tiny);
  EXPECT_TRUE(fs::exists(r.data_file));
  EXPECT_EQ(load_model(d / "out.onnx").initializer("w").to_floats(), (std::vector<float>{3, 4}));
  fs::remove_all(d);
}

TEST(Npy, RoundTripAndNpz) {
  fs::path d = tmpdir();
  auto t = Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  write_npy(d / "a.npy", t);
  EXPECT_EQ(read_npy(d / "a.npy").to_floats(), t.to_floats());
  write_npz(d / "b.npz", {{"x", t}, {"labels", Tensor::from<int64_t>({2}, {7, 8})}});
  auto z = read_npz(d / "b.npz");
  EXPECT_EQ(z.at("labels").to_int64s(), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(z.at("x").shape(), (Shape{2, 3}));
  fs::remove_all(d);
}

// ---- issue 14: hostile and broken inputs --------------------------------------------------------

namespace {
std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}
Model tiny_with_w(const Tensor& w) {
  Model m = test::parse_model(kTiny);
  m.set_initializer("w", w);
  return m;
}
onnx::TensorProto external_w(const std::string& location, int64_t n, std::vector<std::pair<std::string, std::string>> extra = {}) {
  onnx::TensorProto t;
  t.set_name("w");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(n);
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  extra.insert(extra.begin(), {"location", location});
  for (const auto& [k, v] : extra) {
    auto* e = t.add_external_data();
    e->set_key(k);
    e->set_value(v);
  }
  return t;
}
}  // namespace

TEST(Hostile, TensorSizesAreCheckedBeforeAllocating) {
  // A cap far below the claimed sizes: a check after allocating would throw AllocationCapExceeded.
  AllocationCap cap(1 << 20);
  onnx::TensorProto t;
  t.set_name("w");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(750000000);
  t.set_raw_data(std::string(10000, '\0'));
  EXPECT_THROW(tensor_from_proto(t), InputError);
  t.clear_raw_data();
  for (int i = 0; i < 100; ++i) t.add_float_data(1.f);
  EXPECT_THROW(tensor_from_proto(t), InputError);
  t.clear_dims();
  for (int64_t d : {int64_t{1} << 62, int64_t{4}, int64_t{3}, int64_t{3}}) t.add_dims(d);
  EXPECT_THROW(check_tensor_proto(t), InputError);
  t.clear_dims();
  t.add_dims(std::numeric_limits<int64_t>::max());
  t.add_dims(std::numeric_limits<int64_t>::max());
  EXPECT_THROW(check_tensor_proto(t), InputError);
  EXPECT_THROW(Tensor(DType::kFloat, {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()}), InputError);
  // .npy and .npz headers claiming 750M floats with no data
  const std::string npy = serialize_npy(Tensor::from<float>({3}, {1, 2, 3}));
  std::string big = npy;
  const auto at = big.find("(3");
  const size_t len = big.find(')', at) + 1 - at;
  big.replace(at, len, "(750000000,)");
  EXPECT_THROW(parse_npy(big, "big.npy"), InputError);
  std::string bad = npy;
  bad.replace(at, len, "(3abc,)");
  EXPECT_THROW(parse_npy(bad, "bad.npy"), InputError);
  bad = npy;
  bad.replace(at, len, "(99999999999999999999999,)");
  EXPECT_THROW(parse_npy(bad, "bad.npy"), InputError);
  bad = npy;
  bad.replace(at, len, "(-3,)");
  EXPECT_THROW(parse_npy(bad, "bad.npy"), InputError);
}

TEST(Hostile, SparseInitializersAreValidated) {
  fs::path d = tmpdir();
  auto sparse_model = [&](int64_t rows, Shape dims) {
    Model m = test::parse_model(kTiny);
    auto* sp = m.graph().add_sparse_initializer();
    *sp->mutable_values() = tensor_to_proto(Tensor::from<float>({4}, {1, 2, 3, 4}), "w");
    *sp->mutable_indices() = tensor_to_proto(Tensor(DType::kInt64, {rows, 2}), "w_idx");
    for (auto x : dims) sp->add_dims(x);
    return m.proto.SerializeAsString();
  };
  EXPECT_THROW(load_model_from_bytes(sparse_model(2, {3, 3}), "fewer rows"), InputError);  // heap overflow before
  EXPECT_NO_THROW(load_model_from_bytes(sparse_model(4, {3, 3}), "ok"));
  // a dense size beyond the expansion budget is refused, not allocated
  AllocationCap cap(64 << 20);
  EXPECT_THROW(load_model_from_bytes(sparse_model(4, {1 << 20, 1 << 12}), "bomb"), InputError);
  fs::remove_all(d);
}

TEST(Hostile, ExternalDataRules) {
  fs::path d = tmpdir();
  fs::create_directories(d / "outside");
  fs::create_directories(d / "m");
  write(d / "outside" / "secret.bin", std::string(8, 'S'));
  fs::create_symlink(d / "outside" / "secret.bin", d / "m" / "link.bin");
  fs::create_directory_symlink(d / "outside", d / "m" / "sub");
  ASSERT_EQ(::mkfifo((d / "m" / "fifo.bin").c_str(), 0600), 0);
  write(d / "m" / "w.bin", std::string(8, '\0'));
  auto try_load = [&](const onnx::TensorProto& t) {
    Model m = test::parse_model(kTiny);
    *m.graph().add_initializer() = t;
    write(d / "m" / "ext.onnx", m.proto.SerializeAsString());
    return message_of(d / "m" / "ext.onnx");
  };
  EXPECT_NE(try_load(external_w("link.bin", 2)).find("symbolic link"), std::string::npos);
  EXPECT_NE(try_load(external_w("sub/secret.bin", 2)).find("symbolic link"), std::string::npos);
  EXPECT_NE(try_load(external_w("fifo.bin", 2)).find("FIFO"), std::string::npos);  // and no hang
  EXPECT_NE(try_load(external_w("../outside/secret.bin", 2)).find("outside"), std::string::npos);
  EXPECT_NE(try_load(external_w((d / "outside" / "secret.bin").string(), 2)).find("absolute"), std::string::npos);
  EXPECT_NE(try_load(external_w("w.bin", 2, {{"offset", "abc"}})).find("offset"), std::string::npos);
  EXPECT_NE(try_load(external_w("w.bin", 2, {{"offset", "4"}})).find("too short"), std::string::npos);
  EXPECT_NE(try_load(external_w("w.bin", 750000000)).find("too short"), std::string::npos);
  EXPECT_EQ(try_load(external_w("w.bin", 2)), "");
  // a model from memory cannot point at files, nor at another model's registered file
  Model loaded = load_model(d / "m" / "ext.onnx");
  onnx::ModelProto forged = loaded.proto;  // carries the registry key of a loaded file
  EXPECT_THROW(load_model_from_bytes(forged.SerializeAsString(), "forged"), InputError);
  fs::remove_all(d);
}

TEST(Hostile, OutputFileRules) {
  fs::path d = tmpdir();
  // the temporary file name is not predictable: a link planted at the old name is not followed
  write(d / "victim.txt", "keep");
  fs::create_symlink(d / "victim.txt", d / (".out.json.tmp" + std::to_string(::getpid())));
  write_file_atomic(d / "out.json", "new");
  EXPECT_EQ(read(d / "victim.txt"), "keep");
  EXPECT_EQ(read(d / "out.json"), "new");
  // a symlinked output writes its target; the link stays a link
  write(d / "real.json", "old");
  fs::create_symlink("real.json", d / "link.json");
  write_file_atomic(d / "link.json", "via link");
  EXPECT_TRUE(fs::is_symlink(d / "link.json"));
  EXPECT_EQ(read(d / "real.json"), "via link");
  // folders, FIFOs, empty paths, missing or read-only folders: InputError
  fs::create_directories(d / "folder");
  EXPECT_THROW(write_file_atomic(d / "folder", "x"), InputError);
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  EXPECT_THROW(write_file_atomic(d / "fifo", "x"), InputError);
  EXPECT_THROW(write_file_atomic("", "x"), InputError);
  EXPECT_THROW(write_file_atomic(d / "missing" / "x.json", "x"), InputError);
  fs::create_directories(d / "ro");
  fs::permissions(d / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(write_file_atomic(d / "ro" / "x.json", "x"), InputError);
  EXPECT_FALSE(fs::exists(d / "ro" / "x.json"));
  fs::permissions(d / "ro", fs::perms::owner_all);
  // a character device is written through, not replaced by a regular file
  if (::mknod((d / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    write_file_atomic(d / "null", "discarded");
    struct stat st {};
    ASSERT_EQ(::lstat((d / "null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  }
  // no temporary file is left behind, whatever happened
  for (const auto& e : fs::directory_iterator(d)) EXPECT_EQ(e.path().filename().string().find("qtool-tmp"), std::string::npos);
  fs::remove_all(d);
}

TEST(Hostile, LargeSaveCommitsWithOneRename) {
  fs::path d = tmpdir();
  SaveOptions tiny;
  tiny.external_data_threshold = 10;
  const auto w1 = test::random_tensor({1, 512}, 1), w2 = test::random_tensor({1, 512}, 2);
  Model kTiny512 = test::parse_model(R"(<ir_version: 7, opset_import: ["" : 13]>
    g (float[1,512] x) => (float[1,512] y) { y = Add(x, w) })");
  kTiny512.set_initializer("w", w1);
  const SaveResult r1 = save_model(kTiny512, d / "big.onnx", tiny);
  SCOPED_TRACE("first save done");
  kTiny512.set_initializer("w", w2);
  const SaveResult r2 = save_model(kTiny512, d / "big.onnx", tiny);
  // each save writes its data under a new name (the old model's data is never overwritten in
  // place), and removes the replaced model's data once the new model is in place
  EXPECT_NE(r1.data_file, r2.data_file);
  EXPECT_FALSE(fs::exists(r1.data_file));
  EXPECT_TRUE(fs::exists(r2.data_file));
  EXPECT_EQ(load_model(d / "big.onnx").initializer("w").to_floats(), w2.to_floats());
  // a model loaded with external data saves inline again when small, reading its data on demand
  Model back = load_model(d / "big.onnx");
  const SaveResult r3 = save_model(back, d / "inline.onnx");
  EXPECT_TRUE(r3.data_file.empty());
  EXPECT_EQ(load_model(d / "inline.onnx").initializer("w").to_floats(), w2.to_floats());
  // the input's external data file is never an output
  EXPECT_THROW(save_model(back, r2.data_file), InputError);
  EXPECT_EQ(load_model(d / "big.onnx").initializer("w").to_floats(), w2.to_floats());
  fs::remove_all(d);
}

TEST(Hostile, PlansAndTablesAreValidated) {
  CompressOptions o;
  auto plan = [&](const char* text) { plan_from_json(nlohmann::json::parse(text), "p.json", o); };
  EXPECT_THROW(plan(R"({"format": "qtool-quantization-plan"})"), InputError);  // no "default": UB before
  EXPECT_THROW(plan(R"({"format": "qtool-quantization-plan", "default": {"format": "int8"}, "layers": []})"), InputError);
  EXPECT_THROW(plan(R"({"format": "qtool-quantization-plan", "default": {"format": "int8"}, "exclude": [1]})"), InputError);
  EXPECT_THROW(plan(R"({"format": "qtool-quantization-plan", "default": {"format": "int8", "group_size": "x"}})"), InputError);
  EXPECT_THROW(plan(R"({"format": "qtool-quantization-plan", "default": {"format": "int8"}, "act_bits": "8"})"), InputError);
  EXPECT_THROW(plan(R"([1, 2])"), InputError);
  EXPECT_NO_THROW(plan(R"({"format": "qtool-quantization-plan", "default": {"format": "int4", "group_size": 32}})"));
  // found by fuzz_plan: group sizes exist for int8 / int4 only (was qtool::Error from the weight writer)
  for (const char* f : {"int2", "binary", "ternary", "fp16", "bf16", "float"})
    EXPECT_THROW(plan((std::string(R"({"format": "qtool-quantization-plan", "default": {"format": "int8"}, "layers": {"fc": {"format": ")") +
                       f + R"(", "group_size": 32}}})").c_str()),
                 InputError)
        << f;
  auto table = [](const char* text) { return CalibrationTable::from_json(nlohmann::json::parse(text), "t.json"); };
  EXPECT_THROW(table(R"({"format": "qtool-calibration-table", "tensors": {"x": {"min": 0, "max": 1e39}}})"), InputError);
  EXPECT_THROW(table(R"({"format": "qtool-calibration-table", "samples": "x", "tensors": {}})"), InputError);
  EXPECT_THROW(table(R"({"format": "qtool-calibration-table", "tensors": {"x": [0, 1]}})"), InputError);
  EXPECT_THROW(table(R"("qtool-calibration-table")"), InputError);
  EXPECT_EQ(table(R"({"format": "qtool-calibration-table", "tensors": {"x": {"min": -1, "max": 1}}})").ranges.size(), 1u);
}

// Found by fuzz_image: a 222-byte PNG whose IDAT chunk declares 1 GiB made stb_image allocate
// 1 GiB before reading it. The chunk lengths are now checked against the bytes present.
TEST(Hostile, PngChunkLongerThanTheFileIsRefused) {
  const std::string sig = "\x89PNG\r\n\x1a\n";
  auto chunk = [](uint32_t len, const std::string& type, size_t body) {
    std::string c{static_cast<char>(len >> 24), static_cast<char>(len >> 16), static_cast<char>(len >> 8),
                  static_cast<char>(len)};
    return c + type + std::string(body, '\0') + std::string(4, '\0');
  };
  const std::string ok = sig + chunk(13, "IHDR", 13) + chunk(5, "IDAT", 5) + chunk(0, "IEND", 0);
  EXPECT_EQ(png_chunk_problem(reinterpret_cast<const uint8_t*>(ok.data()), ok.size()), "");
  const std::string bomb = sig + chunk(13, "IHDR", 13) + chunk(uint32_t{1} << 30, "IDAT", 180);
  const std::string why = png_chunk_problem(reinterpret_cast<const uint8_t*>(bomb.data()), bomb.size());
  EXPECT_NE(why.find("'IDAT' claims 1073741824 bytes"), std::string::npos) << why;
  EXPECT_EQ(png_chunk_problem(reinterpret_cast<const uint8_t*>("GIF89a"), 6), "");  // not a PNG
}

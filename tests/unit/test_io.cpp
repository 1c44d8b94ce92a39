// SPDX-License-Identifier: Apache-2.0
// Loading and saving: bad files give InputError naming the file; saves are atomic and never
// overwrite the input; external data is read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/npy.h"
#include "io/onnx_tensor.h"
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
  save_model(back, d / "out.onnx", tiny);
  EXPECT_TRUE(fs::exists(d / "out.onnx.data"));
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

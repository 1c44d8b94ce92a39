// SPDX-License-Identifier: Apache-2.0
#include "io/model.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/functions.h"
#include "io/onnx_tensor.h"
#include "io/structure_check.h"
#include "io/weights_to_initializers.h"

namespace fs = std::filesystem;

namespace qtool {

int Model::opset() const {
  for (const auto& o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return static_cast<int>(o.version());
  return 1;  // ONNX: a model without an ai.onnx import uses opset 1
}

void Model::set_opset(int version) {
  for (auto& o : *proto.mutable_opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") {
      o.set_version(version);
      return;
    }
  auto* o = proto.add_opset_import();
  o->set_domain("");
  o->set_version(version);
}

const onnx::TensorProto* Model::find_initializer(const std::string& name) const {
  for (const auto& t : graph().initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

Tensor Model::initializer(const std::string& name) const {
  const auto* t = find_initializer(name);
  if (!t) throw Error("initializer '" + name + "' not found");
  return tensor_from_proto(*t);
}

void Model::set_initializer(const std::string& name, const Tensor& value) {
  for (auto& t : *graph().mutable_initializer())
    if (t.name() == name) {
      t = tensor_to_proto(value, name);
      return;
    }
  *graph().add_initializer() = tensor_to_proto(value, name);
  if (proto.ir_version() < 4) {  // IR 3: every initializer is also a graph input
    for (const auto& in : graph().input())
      if (in.name() == name) return;
    auto* vi = graph().add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(value.dtype()));
    for (auto d : value.shape()) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
}

std::vector<const onnx::ValueInfoProto*> Model::real_inputs() const {
  std::vector<const onnx::ValueInfoProto*> out;
  for (const auto& in : graph().input())
    if (!find_initializer(in.name())) out.push_back(&in);
  return out;
}

void Model::drop_initializer_inputs() {
  auto* inputs = graph().mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (find_initializer(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
}

namespace {

std::string read_all(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path.string() + ": no such file");
  if (fs::is_directory(path, ec)) throw InputError(path.string() + ": is a directory, expected an .onnx file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void resolve_external_data(onnx::TensorProto& t, const fs::path& base_dir, const std::string& label) {
  if (t.data_location() != onnx::TensorProto::EXTERNAL) return;
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = std::stoll(kv.value());
    else if (kv.key() == "length") length = std::stoll(kv.value());
  }
  if (location.empty() || fs::path(location).is_absolute() || location.find("..") != std::string::npos)
    throw InputError(label + ": tensor '" + t.name() + "' has an invalid external data location '" + location + "'");
  fs::path file = base_dir / location;
  std::ifstream f(file, std::ios::binary);
  if (!f) throw InputError(label + ": tensor '" + t.name() + "' refers to external data file " + file.string() + ", which cannot be opened");
  int64_t expected = shape_numel(Shape(t.dims().begin(), t.dims().end())) *
                     static_cast<int64_t>(dtype_size(static_cast<DType>(t.data_type())));
  if (length < 0) length = expected;
  std::string buf(static_cast<size_t>(length), '\0');
  f.seekg(offset);
  f.read(buf.data(), length);
  if (f.gcount() != length)
    throw InputError(label + ": external data for tensor '" + t.name() + "' in " + file.string() + " is truncated (wanted " +
                     std::to_string(length) + " bytes at offset " + std::to_string(offset) + ")");
  t.set_raw_data(std::move(buf));
  t.clear_external_data();
  t.set_data_location(onnx::TensorProto::DEFAULT);
}

int libonnx_max_opset() {
  const auto& map = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = map.find("");
  return it == map.end() ? 0 : it->second.second;
}

// sparse_initializer -> dense initializer (qtool works on dense tensors; prune/sparse_storage.h
// writes sparse ones back when they are smaller).
void densify_sparse_initializers(Model& m, const std::string& label) {
  auto& g = m.graph();
  for (const auto& sp : g.sparse_initializer()) {
    const auto& v = sp.values();
    Shape dims(sp.dims().begin(), sp.dims().end());
    Tensor values = tensor_from_proto(v);
    Tensor idx = tensor_from_proto(sp.indices());
    Tensor dense(values.dtype(), dims);
    const int64_t nnz = values.numel(), n = dense.numel();
    auto lin = idx.to_int64s();
    if (idx.rank() == 2) {  // [nnz, rank] coordinates -> linear
      std::vector<int64_t> l(nnz, 0);
      for (int64_t i = 0; i < nnz; ++i)
        for (size_t d = 0; d < dims.size(); ++d) l[i] = l[i] * dims[d] + lin[i * dims.size() + d];
      lin = l;
    }
    if (static_cast<int64_t>(lin.size()) != nnz)
      throw InputError(label + ": sparse tensor '" + v.name() + "' has " + std::to_string(lin.size()) + " indices for " +
                       std::to_string(nnz) + " values");
    const size_t es = dtype_size(values.dtype());
    for (int64_t i = 0; i < nnz; ++i) {
      if (lin[i] < 0 || lin[i] >= n) throw InputError(label + ": sparse tensor '" + v.name() + "' has an index out of range");
      std::memcpy(static_cast<uint8_t*>(dense.raw()) + lin[i] * es, static_cast<const uint8_t*>(values.raw()) + i * es, es);
    }
    *g.add_initializer() = tensor_to_proto(dense, v.name());
  }
  g.clear_sparse_initializer();
}

}  // namespace

void check_model(const Model& model, const std::string& label) {
  check_structure(model, label);  // qtool's own checks, whatever the IR version and opset
  if (model.proto.ir_version() > onnx::Version::IR_VERSION) {
    spdlog::debug("{}: IR version {} is newer than libonnx's checker knows ({}): skipped onnx::checker "
                  "(schemas, attribute types per op); qtool's structural checks and the op registry's "
                  "validators apply", label, model.proto.ir_version(), static_cast<int>(onnx::Version::IR_VERSION));
    return;
  }
  if (model.opset() > libonnx_max_opset()) {
    spdlog::debug("{}: opset {} is newer than libonnx's checker knows ({}): skipped onnx::checker "
                  "(schemas, attribute types per op); qtool's structural checks and the op registry's "
                  "validators apply", label, model.opset(), libonnx_max_opset());
    return;
  }
  // libonnx's checker is stricter than the runtimes in places (it requires e.g. a shape on every
  // graph output, which onnxruntime does not), so what it alone objects to is reported with -v and
  // does not refuse a model that onnxruntime opens; qtool's structural checks above and the op
  // registry's validators are what refuse a model.
  try {
    onnx::checker::check_model(model.proto);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    spdlog::debug("{}: onnx's checker (libonnx 1.12) objects: {}", label, msg);
  }
}

Model load_model_from_bytes(const std::string& bytes, const std::string& label) {
  if (bytes.empty()) throw InputError(label + ": file is empty (0 bytes), expected an ONNX model");
  Model m;
  if (!m.proto.ParseFromString(bytes))
    throw InputError(label + ": not a valid ONNX protobuf (the file is truncated or is not an ONNX model)");
  if (m.proto.ir_version() <= 0 || !m.proto.has_graph() || m.proto.graph().node_size() == 0)
    throw InputError(label + ": not an ONNX model (no IR version or no graph nodes found)");
  if (m.proto.ir_version() < 3)
    throw InputError(label + ": IR version " + std::to_string(m.proto.ir_version()) + " is too old (need >= 3)");
  int opset = m.opset();
  if (opset < kMinOpset || opset > kMaxOpset)
    throw InputError(label + ": unsupported opset " + std::to_string(opset) + " (qtool supports ai.onnx opsets " +
                     std::to_string(kMinOpset) + ".." + std::to_string(kMaxOpset) + ")");
  densify_sparse_initializers(m, label);
  inline_model_functions(m.proto, label);  // model-local functions become plain nodes
  bool external = false;
  for (const auto& t : m.graph().initializer()) external = external || t.data_location() == onnx::TensorProto::EXTERNAL;
  if (!external) weights_to_initializers(m);  // else load_model does it once the data is loaded
  return m;
}

Model load_model(const fs::path& path) {
  std::string bytes = read_all(path);
  Model m = load_model_from_bytes(bytes, path.string());
  m.path = path;
  for (auto& t : *m.graph().mutable_initializer()) resolve_external_data(t, path.parent_path(), path.string());
  check_model(m, path.string());
  if (int n = weights_to_initializers(m)) spdlog::debug("{}: {} Constant/Identity/Cast weight nodes became initializers", path.string(), n);
  spdlog::debug("loaded {}: IR {}, opset {}, {} nodes, {} initializers", path.string(), m.proto.ir_version(),
                m.opset(), m.graph().node_size(), m.graph().initializer_size());
  return m;
}

void write_file_atomic(const fs::path& out, const std::string& bytes) {
  fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(out.string() + ": output folder " + dir.string() + " does not exist");
  fs::path tmp = dir / ("." + out.filename().string() + ".tmp" + std::to_string(::getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw InputError(out.string() + ": cannot write to folder " + dir.string());
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      fs::remove(tmp, ec);
      throw Error(out.string() + ": write failed (disk full?)");
    }
  }
  fs::rename(tmp, out, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(out.string() + ": cannot move the finished file into place: " + ec.message());
  }
}

void save_model(const Model& model, const fs::path& out, const SaveOptions& opts) {
  std::error_code ec;
  if (!model.path.empty() && fs::exists(out, ec) && fs::equivalent(model.path, out, ec))
    throw InputError(out.string() + ": refusing to overwrite the input model; choose another output path with -o");
  if (model.proto.ByteSizeLong() <= opts.external_data_threshold) {
    write_file_atomic(out, model.proto.SerializeAsString());
    return;
  }
  // Large model: move every initializer over 1 KiB into "<out>.data".
  onnx::ModelProto copy = model.proto;
  std::string data;
  const std::string location = out.filename().string() + ".data";
  for (auto& t : *copy.mutable_graph()->mutable_initializer()) {
    if (!t.has_raw_data() || t.raw_data().size() < 1024) continue;
    while (data.size() % 4096) data.push_back('\0');
    auto add = [&](const std::string& k, const std::string& v) {
      auto* e = t.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(data.size()));
    add("length", std::to_string(t.raw_data().size()));
    data += t.raw_data();
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
  }
  write_file_atomic(out.parent_path() / location, data);
  write_file_atomic(out, copy.SerializeAsString());
}

}  // namespace qtool

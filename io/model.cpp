// SPDX-License-Identifier: Apache-2.0
#include "io/model.h"

#include <fcntl.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/functions.h"
#include "io/input_file.h"
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


uint64_t Model::bytes_on_disk() const {
  if (path.empty()) return 0;
  std::error_code ec;
  uint64_t n = fs::file_size(path, ec);
  if (ec) n = 0;
  for (const auto& f : external_files) n += f->size();
  return n;
}

namespace {

// Calls f(TensorProto&) for every tensor in the graph, its nodes' attributes and its subgraphs.
template <typename F>
void for_each_tensor_in_nodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, F& f);

template <typename F>
void for_each_tensor(onnx::GraphProto& g, F& f) {
  for (auto& t : *g.mutable_initializer()) f(t);
  for (auto& sp : *g.mutable_sparse_initializer()) {
    f(*sp.mutable_values());
    f(*sp.mutable_indices());
  }
  for_each_tensor_in_nodes(*g.mutable_node(), f);
}

template <typename F>
void for_each_tensor_in_nodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, F& f) {
  for (auto& n : nodes)
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) f(*a.mutable_t());
      for (auto& t : *a.mutable_tensors()) f(t);
      if (a.has_sparse_tensor()) {
        f(*a.mutable_sparse_tensor()->mutable_values());
        f(*a.mutable_sparse_tensor()->mutable_indices());
      }
      for (auto& sp : *a.mutable_sparse_tensors()) {
        f(*sp.mutable_values());
        f(*sp.mutable_indices());
      }
      if (a.has_g()) for_each_tensor(*a.mutable_g(), f);
      for (auto& sg : *a.mutable_graphs()) for_each_tensor(sg, f);
    }
}

template <typename F>
void for_each_tensor(onnx::ModelProto& m, F&& f) {
  for_each_tensor(*m.mutable_graph(), f);
  for (auto& fn : *m.mutable_functions()) for_each_tensor_in_nodes(*fn.mutable_node(), f);
}

bool has_qtool_key(const onnx::TensorProto& t) {
  for (const auto& kv : t.external_data())
    if (kv.key() == kExternalFileKey) return true;
  return false;
}

void strip_qtool_keys(onnx::TensorProto& t) {
  auto* e = t.mutable_external_data();
  for (int i = e->size() - 1; i >= 0; --i)
    if (e->Get(i).key() == kExternalFileKey) e->DeleteSubrange(i, 1);
}

std::string tensor_where(const std::string& label, const onnx::TensorProto& t, const std::exception& e) {
  const std::string msg = e.what();
  return label + ": " + (msg.rfind("tensor '", 0) == 0 ? msg : "tensor '" + t.name() + "': " + msg);
}

// Reads the model file: a regular file (no FIFO or device), below protobuf's 2 GiB limit.
std::string read_model_file(const fs::path& path) {
  return read_input_file(path, "an .onnx file", uint64_t{1} << 31,
                         "an ONNX file holds at most 2 GiB (larger models keep their weights in external data)");
}

// Opens the external data files of every external tensor and records them in the tensors.
void attach_external_data(Model& m, const fs::path& dir, const std::string& label) {
  std::map<std::string, std::shared_ptr<const ExternalFile>> files;
  for_each_tensor(m.proto, [&](onnx::TensorProto& t) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) return;
    std::string location;
    for (const auto& kv : t.external_data())
      if (kv.key() == "location") location = kv.value();
    auto it = files.find(location);
    if (it == files.end()) {
      auto file = ExternalFile::open(dir, location, label + ": tensor '" + t.name() + "'");
      it = files.emplace(location, file).first;
      m.external_files.push_back(file);
    }
    auto* e = t.add_external_data();
    e->set_key(kExternalFileKey);
    e->set_value(it->second->id());
  });
}

// sparse_initializer -> dense initializer (qtool works on dense tensors; prune/sparse_storage.h
// writes sparse ones back when they are smaller).
void densify_sparse_initializers(Model& m, const std::string& label, uint64_t& budget) {
  auto& g = m.graph();
  for (const auto& sp : g.sparse_initializer()) {
    Tensor dense;
    try {
      dense = densify_sparse_tensor(sp, budget);
    } catch (const InputError& e) {
      throw InputError(label + ": " + e.what());
    }
    budget -= std::min<uint64_t>(budget, dense.nbytes());
    *g.add_initializer() = tensor_to_proto(dense, sp.values().name());
  }
  g.clear_sparse_initializer();
}

void finish_loading(Model& m, const std::string& label, uint64_t model_bytes) {
  for_each_tensor(m.proto, [&](onnx::TensorProto& t) {
    try {
      check_tensor_proto(t);
    } catch (const InputError& e) {
      throw InputError(tensor_where(label, t, e));
    }
  });
  uint64_t budget = std::max(kMinExpansionBytes, kExpansionFactor * model_bytes);
  densify_sparse_initializers(m, label, budget);
  inline_model_functions(m.proto, label);  // model-local functions become plain nodes
  weights_to_initializers(m, budget);
}

int libonnx_max_opset() {
  const auto& map = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = map.find("");
  return it == map.end() ? 0 : it->second.second;
}

Model parse_model(const std::string& bytes, const std::string& label) {
  if (bytes.empty()) throw InputError(label + ": file is empty (0 bytes), expected an ONNX model");
  Model m;
  if (!m.proto.ParseFromString(bytes))
    throw InputError(label + ": not a valid ONNX protobuf (the file is truncated or is not an ONNX model)");
  if (m.proto.ir_version() <= 0 || !m.proto.has_graph() || m.proto.graph().node_size() == 0)
    throw InputError(label + ": not an ONNX model (no IR version or no graph nodes found)");
  if (m.proto.ir_version() < 3)
    throw InputError(label + ": IR version " + std::to_string(m.proto.ir_version()) + " is too old (need >= 3)");
  const int opset = m.opset();
  // A model of other domains only (ai.onnx.ml, ai.onnx.preview.training) imports no ai.onnx opset:
  // the range applies when it does, or when a top-level node is in the default domain.
  const bool uses_default =
      std::any_of(m.proto.opset_import().begin(), m.proto.opset_import().end(),
                  [](const auto& o) { return o.domain().empty() || o.domain() == "ai.onnx"; }) ||
      std::any_of(m.graph().node().begin(), m.graph().node().end(),
                  [](const auto& n) { return n.domain().empty() || n.domain() == "ai.onnx"; });
  if (uses_default && (opset < kMinOpset || opset > kMaxOpset))
    throw InputError(label + ": unsupported opset " + std::to_string(opset) + " (qtool supports ai.onnx opsets " +
                     std::to_string(kMinOpset) + ".." + std::to_string(kMaxOpset) + ")");
  // Registry keys come from qtool's own loader only: a file cannot point at another model's data.
  for_each_tensor(m.proto, [](onnx::TensorProto& t) { strip_qtool_keys(t); });
  return m;
}

}  // namespace

uint64_t Model::serialized_bytes() const {
  uint64_t n = proto.ByteSizeLong();
  for (const auto& t : graph().initializer())
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      uint64_t bits = 0;
      try {
        bits = static_cast<uint64_t>(shape_numel(Shape(t.dims().begin(), t.dims().end()))) *
               static_cast<uint64_t>(dtype_bits(static_cast<DType>(t.data_type())));
      } catch (const std::exception&) {
      }
      n += (bits + 7) / 8;
    }
  return n;
}

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
  // The checker resolves external data locations against the working folder: give it the
  // validated files' absolute paths (a copy; only models with external data pay for it).
  std::unique_ptr<onnx::ModelProto> copy;
  if (!model.external_files.empty()) {
    copy = std::make_unique<onnx::ModelProto>(model.proto);
    for_each_tensor(*copy, [](onnx::TensorProto& t) {
      if (t.data_location() != onnx::TensorProto::EXTERNAL) return;
      const ExternalRef ref = external_ref(t, t.name());
      if (!ref.file) return;
      for (auto& kv : *t.mutable_external_data())
        if (kv.key() == "location") kv.set_value(fs::absolute(ref.file->path()).string());
    });
  }
  // libonnx's checker is stricter than the runtimes in places (it requires e.g. a shape on every
  // graph output, which onnxruntime does not), so what it alone objects to is reported with -v and
  // does not refuse a model that onnxruntime opens; qtool's structural checks above and the op
  // registry's validators are what refuse a model.
  try {
    onnx::checker::check_model(copy ? *copy : model.proto);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    spdlog::debug("{}: onnx's checker (libonnx 1.12) objects: {}", label, msg);
  }
}

Model load_model_from_bytes(const std::string& bytes, const std::string& label) {
  Model m = parse_model(bytes, label);
  finish_loading(m, label, bytes.size());
  return m;
}

Model load_model(const fs::path& path) {
  const std::string label = path.string();
  const std::string bytes = read_model_file(path);
  Model m = parse_model(bytes, label);
  m.path = path;
  attach_external_data(m, path.parent_path(), label);
  finish_loading(m, label, m.bytes_on_disk());
  check_model(m, label);
  spdlog::debug("loaded {}: IR {}, opset {}, {} nodes, {} initializers, {} external data files", label,
                m.proto.ir_version(), m.opset(), m.graph().node_size(), m.graph().initializer_size(),
                m.external_files.size());
  return m;
}

// ---- saving ---------------------------------------------------------------------------------

namespace {

namespace pb = google::protobuf;

// Copies every set field of `src` into `dst` (same type) except the named ones.
void copy_fields_except(const pb::Message& src, pb::Message* dst, const std::set<std::string>& skip) {
  const pb::Reflection* r = src.GetReflection();
  const pb::Reflection* w = dst->GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(src, &fields);
  for (const auto* f : fields) {
    if (skip.count(f->name())) continue;
    using C = pb::FieldDescriptor;
    if (f->is_repeated()) {
      const int n = r->FieldSize(src, f);
      for (int i = 0; i < n; ++i) switch (f->cpp_type()) {
          case C::CPPTYPE_INT32: w->AddInt32(dst, f, r->GetRepeatedInt32(src, f, i)); break;
          case C::CPPTYPE_INT64: w->AddInt64(dst, f, r->GetRepeatedInt64(src, f, i)); break;
          case C::CPPTYPE_UINT32: w->AddUInt32(dst, f, r->GetRepeatedUInt32(src, f, i)); break;
          case C::CPPTYPE_UINT64: w->AddUInt64(dst, f, r->GetRepeatedUInt64(src, f, i)); break;
          case C::CPPTYPE_DOUBLE: w->AddDouble(dst, f, r->GetRepeatedDouble(src, f, i)); break;
          case C::CPPTYPE_FLOAT: w->AddFloat(dst, f, r->GetRepeatedFloat(src, f, i)); break;
          case C::CPPTYPE_BOOL: w->AddBool(dst, f, r->GetRepeatedBool(src, f, i)); break;
          case C::CPPTYPE_ENUM: w->AddEnumValue(dst, f, r->GetRepeatedEnumValue(src, f, i)); break;
          case C::CPPTYPE_STRING: w->AddString(dst, f, r->GetRepeatedString(src, f, i)); break;
          case C::CPPTYPE_MESSAGE: w->AddMessage(dst, f)->CopyFrom(r->GetRepeatedMessage(src, f, i)); break;
        }
      continue;
    }
    switch (f->cpp_type()) {
      case C::CPPTYPE_INT32: w->SetInt32(dst, f, r->GetInt32(src, f)); break;
      case C::CPPTYPE_INT64: w->SetInt64(dst, f, r->GetInt64(src, f)); break;
      case C::CPPTYPE_UINT32: w->SetUInt32(dst, f, r->GetUInt32(src, f)); break;
      case C::CPPTYPE_UINT64: w->SetUInt64(dst, f, r->GetUInt64(src, f)); break;
      case C::CPPTYPE_DOUBLE: w->SetDouble(dst, f, r->GetDouble(src, f)); break;
      case C::CPPTYPE_FLOAT: w->SetFloat(dst, f, r->GetFloat(src, f)); break;
      case C::CPPTYPE_BOOL: w->SetBool(dst, f, r->GetBool(src, f)); break;
      case C::CPPTYPE_ENUM: w->SetEnumValue(dst, f, r->GetEnumValue(src, f)); break;
      case C::CPPTYPE_STRING: w->SetString(dst, f, r->GetString(src, f)); break;
      case C::CPPTYPE_MESSAGE: w->MutableMessage(dst, f)->CopyFrom(r->GetMessage(src, f)); break;
    }
  }
}

// External tensors read through the registry become raw_data (for self-contained copies).
void inline_external(onnx::ModelProto& m) {
  for_each_tensor(m, [](onnx::TensorProto& t) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL || !has_qtool_key(t)) return;
    std::string bytes = tensor_proto_bytes(t);  // InputError for tensors that were never loaded
    t.clear_external_data();
    t.clear_data_location();
    t.set_raw_data(std::move(bytes));
  });
}

bool has_external(const Model& m) {
  for (const auto& t : m.graph().initializer())
    if (t.data_location() == onnx::TensorProto::EXTERNAL) return true;
  return !m.external_files.empty();
}

uint64_t serialize_to(const onnx::ModelProto& m, OutputFile& f, const std::string& label) {
  const uint64_t n = m.ByteSizeLong();
  if (n >= (uint64_t{1} << 31)) throw InputError(label + ": the model is larger than 2 GiB as one protobuf");
  if (!m.SerializeToFileDescriptor(f.fd())) throw Error(label + ": writing the model failed: " + std::strerror(errno));
  return n;
}

// Data files an existing model at `target` refers to that an earlier qtool save wrote next to it
// ("<name>.data" or "<name>.<hex>.data"): removed once the new model is in place.
std::vector<fs::path> previous_data_files(const fs::path& target, const Model& model) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_regular_file(target, ec) || fs::file_size(target, ec) > (uint64_t{64} << 20)) return out;
  std::ifstream f(target, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  onnx::ModelProto old;
  if (!old.ParseFromString(ss.str())) return out;
  const std::string name = target.filename().string();
  const std::regex ours(std::regex_replace(name, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                        R"((\.[0-9a-f]{8,16})?\.data)");
  std::set<std::string> seen;
  for_each_tensor(old, [&](onnx::TensorProto& t) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) return;
    for (const auto& kv : t.external_data())
      if (kv.key() == "location" && std::regex_match(kv.value(), ours) && seen.insert(kv.value()).second) {
        const fs::path p = target.parent_path() / kv.value();
        if (!fs::is_regular_file(fs::symlink_status(p, ec))) continue;
        bool input = same_file(p, model.path);
        for (const auto& x : model.external_files) input = input || same_file(p, x->path());
        if (!input) out.push_back(p);
      }
  });
  return out;
}

std::string random_tag() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(::getpid()) << 20));
  char b[9];
  std::snprintf(b, sizeof b, "%08x", static_cast<unsigned>(rng() & 0xffffffffu));
  return b;
}

}  // namespace

onnx::ModelProto copy_with_stub_initializers(const Model& model, uint64_t min_bytes, std::set<std::string>* stubbed) {
  onnx::ModelProto copy;
  copy_fields_except(model.proto, &copy, {"graph"});
  copy_fields_except(model.graph(), copy.mutable_graph(), {"initializer"});
  for (const auto& t : model.graph().initializer()) {
    auto* c = copy.mutable_graph()->add_initializer();
    uint64_t bytes = 0;
    try {
      bytes = check_tensor_proto(t).stored_bytes;
    } catch (const InputError&) {
    }
    if (t.data_location() != onnx::TensorProto::EXTERNAL && bytes < min_bytes) {
      c->CopyFrom(t);
      continue;
    }
    c->set_name(t.name());
    c->set_data_type(t.data_type());
    for (auto d : t.dims()) c->add_dims(d);
    stubbed->insert(t.name());
  }
  return copy;
}

void restore_stub_initializers(Model& model, onnx::ModelProto& converted, const std::set<std::string>& stubbed) {
  std::map<std::string, onnx::TensorProto*> originals;
  for (auto& t : *model.graph().mutable_initializer())
    if (stubbed.count(t.name())) originals[t.name()] = &t;
  for (auto& t : *converted.mutable_graph()->mutable_initializer()) {
    auto it = originals.find(t.name());
    if (it == originals.end()) continue;
    t.Swap(it->second);
    originals.erase(it);
  }
}

std::string serialize_model(const Model& model) {
  std::string bytes;
  if (model.serialized_bytes() >= (uint64_t{1} << 31))
    throw InputError("the model is " + std::to_string(model.serialized_bytes()) +
                     " bytes; over 2 GiB it cannot be one protobuf (save it to a file: its weights go to external data)");
  if (!has_external(model)) {
    if (!model.proto.SerializeToString(&bytes)) throw Error("cannot serialize the model");
    return bytes;
  }
  onnx::ModelProto copy = model.proto;
  inline_external(copy);
  if (!copy.SerializeToString(&bytes)) throw Error("cannot serialize the model");
  return bytes;
}

SaveResult save_model(const Model& model, const fs::path& out, const SaveOptions& opts) {
  const std::string label = out.string();
  const OutputTarget target = resolve_output(out);
  if (target.exists && !target.device) {
    if (same_file(target.path, model.path))
      throw InputError(label + ": refusing to overwrite the input model; choose another output path with -o");
    for (const auto& f : model.external_files)
      if (same_file(target.path, f->path()))
        throw InputError(label + ": refusing to overwrite " + f->path().string() + ", the input model's external data");
  }
  const std::vector<fs::path> old_data = target.device ? std::vector<fs::path>{} : previous_data_files(target.path, model);
  SaveResult res;
  const uint64_t total = model.serialized_bytes();
  if (total <= opts.external_data_threshold) {
    OutputFile f(out);
    if (has_external(model)) {
      onnx::ModelProto copy = model.proto;
      inline_external(copy);
      res.model_bytes = serialize_to(copy, f, label);
    } else {
      res.model_bytes = serialize_to(model.proto, f, label);
    }
    f.commit();
  } else {
    if (target.device)
      throw InputError(label + ": the model needs an external data file beside it (over 2 GiB), which a device "
                       "cannot have; write it to a folder");
    // 1. the data file, streamed tensor by tensor, under a unique final name
    const std::string data_name = target.path.filename().string() + "." + random_tag() + ".data";
    const fs::path data_path = target.path.parent_path() / data_name;
    onnx::ModelProto copy;
    copy_fields_except(model.proto, &copy, {"graph"});
    copy_fields_except(model.graph(), copy.mutable_graph(), {"initializer"});
    {
      OutputFile data(data_path);  // renamed into place at commit, before the model
      std::vector<char> buf;
      const std::vector<char> zeros(4096, 0);
      for (const auto& t : model.graph().initializer()) {
        auto* c = copy.mutable_graph()->add_initializer();
        const TensorProtoInfo info = check_tensor_proto(t);
        if (info.dtype == DType::kString || info.stored_bytes < 1024) {
          c->CopyFrom(t);
          continue;
        }
        copy_fields_except(t, c, {"raw_data", "float_data", "int32_data", "int64_data", "uint64_data", "double_data",
                                  "external_data", "data_location"});
        const uint64_t pad = (4096 - data.written() % 4096) % 4096;
        data.write(zeros.data(), pad);
        const uint64_t offset = data.written();
        if (info.external) {
          const ExternalRef ref = external_ref(t, t.name());
          buf.resize(std::min<uint64_t>(info.stored_bytes, uint64_t{64} << 20));
          for (uint64_t done = 0; done < info.stored_bytes;) {
            const uint64_t n = std::min<uint64_t>(buf.size(), info.stored_bytes - done);
            ref.file->read(ref.offset + done, n, buf.data());
            data.write(buf.data(), n);
            done += n;
          }
        } else if (t.has_raw_data()) {
          data.write(t.raw_data().data(), t.raw_data().size());
        } else {
          const std::string bytes = tensor_proto_bytes(t);
          data.write(bytes.data(), bytes.size());
        }
        auto add = [&](const std::string& k, const std::string& v) {
          auto* e = c->add_external_data();
          e->set_key(k);
          e->set_value(v);
        };
        add("location", data_name);
        add("offset", std::to_string(offset));
        add("length", std::to_string(info.stored_bytes));
        c->set_data_location(onnx::TensorProto::EXTERNAL);
      }
      data.commit();
      res.data_bytes = data.written();
    }
    std::error_code ec;
    // 2. external tensors elsewhere (subgraphs, attributes) are small: inline them
    inline_external(copy);
    // 3. the model, renamed over <out> last: the commit
    try {
      OutputFile f(out);
      res.model_bytes = serialize_to(copy, f, label);
      f.commit();
    } catch (...) {
      fs::remove(data_path, ec);  // not referenced by anything
      throw;
    }
    res.data_file = data_path;
  }
  std::error_code ec;
  for (const auto& p : old_data)
    if (p != res.data_file) fs::remove(p, ec);  // the replaced model's data, now unreferenced
  return res;
}

}  // namespace qtool

#include "core/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <tuple>

#include "core/base/errors.h"
#include "core/io/json.h"

namespace rdpo {
namespace {

// A read-only file mapped copy-on-write; unmapped when the last tensor over it goes away.
struct Mapping {
  void* base = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (base != MAP_FAILED) munmap(base, size);
  }
};

std::string errno_text() { return std::strerror(errno); }

c10::ScalarType parse_st_dtype(const std::string& name, const std::string& where) {
  if (name == "F32") return torch::kFloat32;
  if (name == "F16") return torch::kFloat16;
  if (name == "BF16") return torch::kBFloat16;
  if (name == "I64") return torch::kInt64;
  if (name == "I32") return torch::kInt32;
  if (name == "F64") return torch::kFloat64;
  if (name == "U8") return torch::kUInt8;
  if (name == "BOOL") return torch::kBool;
  throw ArgumentError(where + ": unsupported dtype '" + name +
                      "' (supported: F32, F16, BF16, F64, I64, I32, U8, BOOL)");
}

const char* st_dtype_name(c10::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return "F32";
    case torch::kFloat16:
      return "F16";
    case torch::kBFloat16:
      return "BF16";
    case torch::kInt64:
      return "I64";
    case torch::kInt32:
      return "I32";
    case torch::kFloat64:
      return "F64";
    case torch::kUInt8:
      return "U8";
    case torch::kBool:
      return "BOOL";
    default:
      throw ArgumentError(std::string("safetensors: cannot write dtype ") + c10::toString(t));
  }
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

TensorMap read_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ArgumentError("cannot open " + path + ": " + errno_text());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw ArgumentError("cannot stat " + path + ": " + errno_text());
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size < 8) {
    ::close(fd);
    throw ArgumentError(path + ": not a safetensors file (" + std::to_string(map->size) +
                        " bytes, too short for the header length)");
  }
  // MAP_PRIVATE + PROT_WRITE: writes to parameters stay in this process (copy-on-write pages).
  map->base = ::mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->base == MAP_FAILED) throw ArgumentError("cannot memory-map " + path + ": " + errno_text());

  const auto* bytes = static_cast<const uint8_t*>(map->base);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > map->size - 8)
    throw ArgumentError(path + ": truncated or not a safetensors file (header length " + std::to_string(header_len) +
                        " exceeds the file size " + std::to_string(map->size) + ")");
  json::Value header =
      json::parse(reinterpret_cast<const char*>(bytes + 8), header_len, path + " (safetensors header)");
  if (!header.is_object()) throw ArgumentError(path + ": the safetensors header must be a JSON object");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = map->size - data_start;

  TensorMap out;
  // The format forbids duplicate names and overlapping byte ranges (two tensors sharing storage
  // would silently alias once one is trained); collect the ranges and check them after the loop.
  std::vector<std::tuple<int64_t, int64_t, std::string>> ranges;
  for (const auto& [name, info] : header.as_object()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor '" + name + "'";
    if (out.count(name)) throw ArgumentError(where + " appears twice in the header (names must be unique)");
    if (!info.is_object()) throw ArgumentError(where + ": entry must be an object");
    const json::Value* dt = info.find("dtype");
    const json::Value* shape_v = info.find("shape");
    const json::Value* offs = info.find("data_offsets");
    if (!dt || !shape_v || !offs) throw ArgumentError(where + ": entry needs dtype, shape and data_offsets");
    c10::ScalarType dtype = parse_st_dtype(dt->as_string(where + " dtype"), where);
    std::vector<int64_t> shape;
    int64_t numel = 1;
    for (const auto& d : shape_v->as_array(where + " shape")) {
      int64_t n = d.as_int(where + " shape entry");
      if (n < 0) throw ArgumentError(where + ": negative dimension in shape");
      shape.push_back(n);
      numel *= n;
    }
    const auto& range = offs->as_array(where + " data_offsets");
    if (range.size() != 2) throw ArgumentError(where + ": data_offsets must be [begin, end]");
    int64_t begin = range[0].as_int(where + " data_offsets[0]"), end = range[1].as_int(where + " data_offsets[1]");
    const int64_t nbytes = numel * static_cast<int64_t>(c10::elementSize(dtype));
    if (begin < 0 || end < begin)
      throw ArgumentError(where + ": bad data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]");
    if (end - begin != nbytes)
      throw ArgumentError(where + ": data_offsets span " + std::to_string(end - begin) +
                          " bytes but shape and dtype need " + std::to_string(nbytes));
    if (static_cast<uint64_t>(end) > data_size)
      throw ArgumentError(where + ": data range [" + std::to_string(begin) + ", " + std::to_string(end) +
                          ") lies outside the file (" + std::to_string(data_size) + " data bytes; truncated file?)");
    if (end > begin) ranges.emplace_back(begin, end, name);
    void* ptr = static_cast<uint8_t*>(map->base) + data_start + begin;
    auto opts = torch::TensorOptions().dtype(dtype);
    at::Tensor t;
    if (nbytes == 0) {
      t = torch::empty(shape, opts);
    } else if (reinterpret_cast<uintptr_t>(ptr) % c10::elementSize(dtype) == 0) {
      t = torch::from_blob(ptr, shape, [map](void*) {}, opts);  // the deleter's capture keeps the mapping alive
    } else {
      t = torch::from_blob(ptr, shape, opts).clone();  // misaligned (a hand-made file): copy once
    }
    out.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    const auto& [b0, e0, n0] = ranges[i - 1];
    const auto& [b1, e1, n1] = ranges[i];
    if (b1 < e0)
      throw ArgumentError(path + ": tensors '" + n0 + "' [" + std::to_string(b0) + ", " + std::to_string(e0) +
                          ") and '" + n1 + "' [" + std::to_string(b1) + ", " + std::to_string(e1) +
                          ") overlap in data_offsets (the file is corrupt)");
  }
  return out;
}

TensorMap read_safetensors_dir(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (file_exists(single)) return read_safetensors(single);
  if (!file_exists(index))
    throw ArgumentError(dir +
                        ": no model.safetensors or model.safetensors.index.json (only safetensors checkpoints "
                        "are supported; convert .bin/.pth files with transformers' save_pretrained)");
  json::Value idx = json::parse_file(index);
  const json::Value* wm = idx.find("weight_map");
  if (!wm) throw ArgumentError(index + ": missing key 'weight_map'");
  std::map<std::string, std::set<std::string>> names_by_shard;
  for (const auto& [name, shard] : wm->as_object(index + " weight_map"))
    names_by_shard[shard.as_string(index + " weight_map['" + name + "']")].insert(name);
  TensorMap out;
  for (const auto& [shard, names] : names_by_shard) {
    if (shard.find('/') != std::string::npos)
      throw ArgumentError(index + ": shard name '" + shard + "' must be a plain file name");
    TensorMap part = read_safetensors(dir + "/" + shard);
    for (const auto& name : names) {
      auto it = part.find(name);
      if (it == part.end())
        throw ArgumentError(index + ": tensor '" + name + "' is listed in shard " + shard + " but that file lacks it");
      out.emplace(name, std::move(it->second));
    }
  }
  return out;
}

namespace {

// A file written under a temporary name in the target directory and renamed into place on commit();
// destroyed without commit() it removes the temporary, so readers never see a half-written file.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path), tmp_(path + ".tmp-" + std::to_string(::getpid())) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw ArgumentError("cannot create " + tmp_ + ": " + errno_text());
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw ArgumentError("cannot write " + tmp_ + ": " + errno_text());
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  }
  void commit() {
    if (::fsync(fd_) != 0) throw ArgumentError("cannot flush " + tmp_ + ": " + errno_text());
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) throw ArgumentError("cannot close " + tmp_ + ": " + errno_text());
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      throw ArgumentError("cannot rename " + tmp_ + " to " + path_ + ": " + errno_text());
    committed_ = true;
    int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // make the rename durable
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_file_atomic(const std::string& path, const std::string& contents) {
  AtomicFile f(path);
  f.write(contents.data(), contents.size());
  f.commit();
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       c10::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  auto out_dtype = [&](const at::Tensor& t) { return t.is_floating_point() ? dtype : t.scalar_type(); };
  json::Value::Object header;
  header.emplace_back("__metadata__", json::Value::object({{"format", json::Value::string("pt")}}));
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const int64_t nbytes = t.numel() * static_cast<int64_t>(c10::elementSize(out_dtype(t)));
    json::Value::Array shape;
    for (int64_t d : t.sizes()) shape.push_back(json::Value::number(static_cast<double>(d)));
    header.emplace_back(
        name, json::Value::object({
                  {"dtype", json::Value::string(st_dtype_name(out_dtype(t)))},
                  {"shape", json::Value::array(std::move(shape))},
                  {"data_offsets", json::Value::array({json::Value::number(static_cast<double>(offset)),
                                                       json::Value::number(static_cast<double>(offset + nbytes))})},
              }));
    offset += nbytes;
  }
  std::string head = json::Value::object(std::move(header)).dump();
  while ((8 + head.size()) % 8 != 0) head += ' ';  // keep tensor data 8-byte aligned, as the reference writer does
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((static_cast<uint64_t>(head.size()) >> (8 * i)) & 0xFF);
  AtomicFile f(path);
  f.write(len, 8);
  f.write(head.data(), head.size());
  for (const auto& [name, t] : tensors) {  // one converted tensor in memory at a time
    at::Tensor c = t.detach().to(torch::kCPU, out_dtype(t)).contiguous();
    f.write(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  }
  f.commit();
}

}  // namespace rdpo

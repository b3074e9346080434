// runtimeInfo(), setNumThreads(n), measureMatmulPeak(...), start/stopProfiler: what doctor and bench ask of the
// runtime.
#include <napi.h>

#include "core/base/errors.h"
#include "core/runtime/matmul_peak.h"
#include "core/runtime/perf_options.h"
#include "core/runtime/profiler.h"
#include "core/runtime/runtime_info.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/registry.h"

namespace rdpo::napi {
namespace {

Napi::Value RuntimeInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto r = rdpo::runtime_info();
    auto o = Napi::Object::New(env);
    o.Set("torchVersion", r.torch_version);
    o.Set("torchLibDir", r.torch_lib_dir);
    o.Set("cxx11Abi", r.cxx11_abi);
    o.Set("cpuCapability", r.cpu_capability);
    o.Set("intraOpThreads", r.intra_op_threads);
    o.Set("interOpThreads", r.inter_op_threads);
    o.Set("cudaCompiled", r.cuda_compiled);
    o.Set("cudaAvailable", r.cuda_available);
    o.Set("mpsAvailable", r.mps_available);
    o.Set("buildConfig", r.build_config);
    auto devices = Napi::Array::New(env, r.devices.size());
    for (size_t i = 0; i < r.devices.size(); ++i) {
      const auto& d = r.devices[i];
      auto dj = Napi::Object::New(env);
      dj.Set("type", d.type);
      dj.Set("index", d.index);
      dj.Set("name", d.name);
      dj.Set("totalMemory", static_cast<double>(d.total_memory));
      dj.Set("computeCapability", d.compute_capability);
      devices.Set(static_cast<uint32_t>(i), dj);
    }
    o.Set("devices", devices);
    return o;
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = arg_int(info, 0, "threads", 1, 4096);
  rdpo::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

// startProfiler() / stopProfiler(file): a Chrome trace of LibTorch's profiler over the work between.
Napi::Value StartProfiler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    rdpo::start_profiler();
    return env.Undefined();
  });
}

Napi::Value StopProfiler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file = arg_string(info, 0, "file");
  return guarded(env, [&]() -> Napi::Value {
    rdpo::stop_profiler(file);
    return env.Undefined();
  });
}

// perfOptions() / setPerfOptions({...}): the performance levers' switches (core/perf_options.h).
Napi::Value PerfOptionsJs(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  const auto& p = rdpo::perf_options();
  o.Set("castWeightsOnce", p.cast_weights_once);
  o.Set("fusedRmsNorm", p.fused_rms_norm);
  o.Set("prefixAttention", p.prefix_attention);
  o.Set("fuseProjections", p.fuse_projections);
  return o;
}

Napi::Value SetPerfOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject())
      throw rdpo::ArgumentError("setPerfOptions: pass an object such as {castWeightsOnce: false}");
    auto o = info[0].As<Napi::Object>();
    auto& p = rdpo::perf_options();
    auto flag = [&](const char* key, bool& field) {
      if (!o.Has(key)) return;
      auto v = o.Get(key);
      if (!v.IsBoolean()) throw rdpo::ArgumentError(std::string("setPerfOptions: ") + key + " must be true or false");
      field = v.As<Napi::Boolean>().Value();
    };
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString();
      if (k != "castWeightsOnce" && k != "fusedRmsNorm" && k != "prefixAttention" && k != "fuseProjections")
        throw rdpo::ArgumentError("setPerfOptions: unknown option '" + k +
                                  "' (known: castWeightsOnce, fusedRmsNorm, prefixAttention, fuseProjections)");
    }
    flag("castWeightsOnce", p.cast_weights_once);
    flag("fusedRmsNorm", p.fused_rms_norm);
    flag("prefixAttention", p.prefix_attention);
    flag("fuseProjections", p.fuse_projections);
    return env.Undefined();
  });
}

// measureMatmulPeak(size, iterations, dtype, device) -> Promise<{flopsPerSec, seconds, ...}>
Napi::Value MeasureMatmulPeak(const Napi::CallbackInfo& info) {
  int size = static_cast<int>(arg_int(info, 0, "size", 1, 32768));
  int iterations = static_cast<int>(arg_int(info, 1, "iterations", 1, 1 << 20));
  std::string dtype = arg_string(info, 2, "dtype");
  std::string device = arg_string(info, 3, "device");
  return run_async(info.Env(), [=]() -> ToJs {
    auto r = rdpo::measure_matmul_peak(size, iterations, dtype, device);
    return [r](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("flopsPerSec", r.flops_per_sec);
      o.Set("seconds", r.seconds);
      o.Set("size", r.size);
      o.Set("iterations", r.iterations);
      o.Set("dtype", r.dtype);
      o.Set("device", r.device);
      return o;
    };
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfoJs, "runtimeInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("startProfiler", Napi::Function::New(env, StartProfiler, "startProfiler"));
  exports.Set("stopProfiler", Napi::Function::New(env, StopProfiler, "stopProfiler"));
  exports.Set("perfOptions", Napi::Function::New(env, PerfOptionsJs, "perfOptions"));
  exports.Set("setPerfOptions", Napi::Function::New(env, SetPerfOptions, "setPerfOptions"));
  exports.Set("measureMatmulPeak", Napi::Function::New(env, MeasureMatmulPeak, "measureMatmulPeak"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace
}  // namespace rdpo::napi

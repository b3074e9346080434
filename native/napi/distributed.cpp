// Data parallelism (core/distributed/process_group.h): dataParallelSupport(selfTest), createProcessGroup(options)
// -> Promise<NativeProcessGroup> with allReduce, checkSame and broadcastModel. Every collective
// blocks until all ranks reach it, so each runs off the main thread.
#include "napi/distributed.h"

#include <napi.h>

#include <cstring>

#include "core/distributed/buckets.h"
#include "core/distributed/process_group_nccl.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/errors.h"
#include "napi/model.h"
#include "napi/registry.h"

namespace rdpo::napi {
namespace {

constexpr int64_t kBroadcastBucketBytes = int64_t(64) << 20;

// A Float64Array's values, copied (the collective runs later, off the main thread).
std::vector<double> doubles_of(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(v.Env(), std::string("'") + name + "' must be a Float64Array");
  auto a = v.As<Napi::Float64Array>();
  return std::vector<double>(a.Data(), a.Data() + a.ElementLength());
}

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function cls = DefineClass(env, "NativeProcessGroup",
                                     {InstanceMethod<&NativeProcessGroup::AllReduce>("allReduce"),
                                      InstanceMethod<&NativeProcessGroup::CheckSame>("checkSame"),
                                      InstanceMethod<&NativeProcessGroup::BroadcastModel>("broadcastModel"),
                                      InstanceAccessor<&NativeProcessGroup::Rank>("rank"),
                                      InstanceAccessor<&NativeProcessGroup::WorldSize>("worldSize"),
                                      InstanceAccessor<&NativeProcessGroup::Backend>("backend")});
    return AddonState::of(env).define_class("NativeProcessGroup", cls);
  }

  explicit NativeProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProcessGroup>(info) {
    if (!info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeProcessGroup is created by createProcessGroup(), not by `new`");
    group_ = *info[0].As<Napi::External<std::shared_ptr<rdpo::ProcessGroup>>>().Data();
  }

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<rdpo::ProcessGroup> group) {
    auto ext = Napi::External<std::shared_ptr<rdpo::ProcessGroup>>::New(env, &group);
    return AddonState::of(env).constructor(env, "NativeProcessGroup").New({ext});
  }

  const std::shared_ptr<rdpo::ProcessGroup>& group() const { return group_; }

 private:
  // allReduce(values: Float64Array, op: 'sum' | 'max') -> Promise<Float64Array>
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    auto values = doubles_of(info[0], "values");
    std::string op = arg_string(info, 1, "op");
    if (op != "sum" && op != "max") throw Napi::RangeError::New(info.Env(), "'op' must be 'sum' or 'max'");
    auto g = group_;
    return run_async(info.Env(), [g, values, op]() -> ToJs {
      auto t = torch::tensor(values, torch::kFloat64);
      g->all_reduce(t, op == "max" ? rdpo::ReduceOp::Max : rdpo::ReduceOp::Sum, "an all-reduce of metrics");
      std::vector<double> out(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
      return [out](Napi::Env env) -> Napi::Value {
        auto a = Napi::Float64Array::New(env, out.size());
        if (!out.empty()) std::memcpy(a.Data(), out.data(), out.size() * sizeof(double));
        return a;
      };
    });
  }

  // checkSame(values: Float64Array, what: string) -> Promise<void>; rejects on every rank when
  // any rank's values differ.
  Napi::Value CheckSame(const Napi::CallbackInfo& info) {
    auto values = doubles_of(info[0], "values");
    std::string what = arg_string(info, 1, "what");
    auto g = group_;
    return run_async(info.Env(), [g, values, what]() -> ToJs {
      g->check_same(values, what);
      return nullptr;
    });
  }

  // broadcastModel(model) -> Promise<void>: every rank's weights become rank 0's.
  Napi::Value BroadcastModel(const Napi::CallbackInfo& info) {
    auto holder = model_holder_of(info[0], "model");
    auto g = group_;
    return run_async(info.Env(), [g, holder]() -> ToJs {
      holder->with_model([&](rdpo::CausalLM& m) {
        std::vector<at::Tensor> tensors;
        for (auto& [name, t] : m.named_parameters()) tensors.push_back(t);
        rdpo::broadcast_from_rank0(*g, tensors, kBroadcastBucketBytes);
        m.drop_compute_weights();  // 16-bit copies made from the old weights are stale
        return 0;
      });
      return nullptr;
    });
  }

  Napi::Value Rank(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(group_->rank()));
  }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(group_->world_size()));
  }
  Napi::Value Backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), group_->backend()); }
  std::shared_ptr<rdpo::ProcessGroup> group_;
};

// dataParallelSupport(selfTest?: boolean) -> {compiled, backend, missing, nccl, ncclVersion, ncclMissing,
// defaultBucketBytes, selfTestError?, ncclRuntimeError?}
Napi::Value DataParallelSupport(const Napi::CallbackInfo& info) {
  auto s = rdpo::data_parallel_support();
  auto o = Napi::Object::New(info.Env());
  o.Set("compiled", s.compiled);
  o.Set("backend", s.backend);
  o.Set("missing", s.missing);
  o.Set("nccl", s.nccl);
  o.Set("ncclVersion", s.nccl_version);
  o.Set("ncclMissing", s.nccl_missing);
  // The gradient bucket size the core uses when none is given (core/distributed/buckets.h).
  o.Set("defaultBucketBytes", static_cast<double>(rdpo::kDefaultBucketBytes));
  if (info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value() && s.compiled) {
    // "" when a one-rank group all-reduces correctly (milliseconds; no network beyond loopback).
    o.Set("selfTestError", rdpo::data_parallel_self_test());
  }
  // "" when the NCCL library LibTorch loaded is the version compiled against (no GPU needed).
  if (info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value() && s.nccl)
    o.Set("ncclRuntimeError", rdpo::nccl_runtime_check());
  return o;
}

// createProcessGroup({rank, worldSize, masterAddr, masterPort, timeoutSeconds, device?}) -> Promise<NativeProcessGroup>
// device: "cpu" (Gloo, the default) or "cuda:N" (NCCL).
Napi::Value CreateProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Object o = arg_object(info, 0, "options");
  rdpo::ProcessGroupOptions opts;
  opts.world_size = req_int(o, "worldSize", 1, 1 << 20);
  opts.rank = req_int(o, "rank", 0, opts.world_size - 1);
  opts.master_addr = opt_string(o, "masterAddr", "127.0.0.1");
  opts.master_port = req_int(o, "masterPort", 1, 65535);
  opts.timeout_seconds = opt_number(o, "timeoutSeconds", 600);
  opts.device = opt_string(o, "device", "cpu");
  if (!(opts.timeout_seconds > 0)) throw Napi::RangeError::New(info.Env(), "'timeoutSeconds' must be positive");
  return run_async(info.Env(), [opts]() -> ToJs {
    auto group = std::make_shared<rdpo::ProcessGroup>(opts);
    return [group](Napi::Env env) -> Napi::Value { return NativeProcessGroup::Wrap(env, group); };
  });
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeProcessGroup", NativeProcessGroup::Define(env));
  exports.Set("dataParallelSupport", Napi::Function::New(env, DataParallelSupport, "dataParallelSupport"));
  exports.Set("createProcessGroup", Napi::Function::New(env, CreateProcessGroup, "createProcessGroup"));
}

RDPO_NAPI_EXPORTS(Export);

}  // namespace

std::shared_ptr<rdpo::ProcessGroup> process_group_of(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsObject() ||
      !value.As<Napi::Object>().InstanceOf(AddonState::of(env).constructor(env, "NativeProcessGroup")))
    throw Napi::TypeError::New(value.Env(),
                               std::string("'") + name + "' must be a NativeProcessGroup (from createProcessGroup)");
  return NativeProcessGroup::Unwrap(value.As<Napi::Object>())->group();
}

}  // namespace rdpo::napi

#pragma once
#include <napi.h>

#include <torch/torch.h>

namespace rdpo::napi {

class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, at::Tensor tensor);
  explicit NativeTensor(const Napi::CallbackInfo& info);
  const at::Tensor& tensor() const { return tensor_; }

 private:
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Data(const Napi::CallbackInfo& info);
  Napi::Value Sum(const Napi::CallbackInfo& info);
  at::Tensor tensor_;
};

}  // namespace rdpo::napi

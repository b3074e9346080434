#include "napi/packed_batch.h"

#include <string>

#include "napi/args.h"
#include "napi/typed_array.h"

namespace rdpo::napi {

rdpo::ScoringOptions scoring_options(const Napi::Object& options) {
  rdpo::ScoringOptions s;
  s.compute_dtype = opt_string(options, "computeDtype", s.compute_dtype);
  s.logits_chunk = opt_int(options, "logitsChunk", s.logits_chunk, 1, int64_t(1) << 20);
  return s;
}

rdpo::ScoringOptions scoring_options(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return {};
  return scoring_options(arg_object(info, i, "options"));
}

at::Tensor borrow_int32(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string("'") + name + "' must be an Int32Array");
  return borrow_tensor(v, name);
}

BorrowedPackedBatch borrow_packed_batch(const Napi::Object& b, const char* name) {
  static const char* fields[] = {"inputIds",  "positionIds",  "branchIds", "groupOffsets",
                                 "scoreRows", "scoreTargets", "scoreSeq"};
  BorrowedPackedBatch out;
  for (const char* f : fields) {
    Napi::Value v = b.Get(f);
    out.arrays.push_back(borrow_int32(v, (std::string(name) + "." + f).c_str()));
    out.pinned.push_back(v);
  }
  out.num_sequences = req_int(b, "numSequences", 0, int64_t(1) << 31);
  return out;
}

rdpo::PackedBatch to_packed_batch(const BorrowedPackedBatch& in) {
  const auto& t = in.arrays;
  rdpo::PackedBatch batch;
  batch.input_ids = t[0].to(torch::kInt64);
  batch.position_ids = t[1].to(torch::kInt64);
  batch.branch_ids = t[2].clone();
  batch.group_offsets.assign(t[3].data_ptr<int32_t>(), t[3].data_ptr<int32_t>() + t[3].numel());
  batch.score_rows = t[4].to(torch::kInt64);
  batch.score_targets = t[5].to(torch::kInt64);
  batch.score_seq = t[6].to(torch::kInt64);
  batch.num_sequences = in.num_sequences;
  return batch;
}

}  // namespace rdpo::napi

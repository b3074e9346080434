// JS packed batches ({inputIds, positionIds, branchIds, groupOffsets, scoreRows, scoreTargets,
// scoreSeq: Int32Array, numSequences}) → rdpo::PackedBatch. Borrowing happens on the main thread
// (no copy; the arrays are pinned for the call); widening to int64 happens in the worker.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "core/model/packed_batch.h"
#include "core/model/sequence_scoring.h"

namespace rdpo::napi {

struct BorrowedPackedBatch {
  std::vector<at::Tensor> arrays;  // int32, borrowed: inputIds … scoreSeq
  int64_t num_sequences = 0;
  std::vector<Napi::Value> pinned;  // pass to run_async
};

BorrowedPackedBatch borrow_packed_batch(const Napi::Object& batch, const char* name);
// Call off the main thread; copies into int64 tensors the core owns.
rdpo::PackedBatch to_packed_batch(const BorrowedPackedBatch& batch);

// How a packed batch is scored ({computeDtype?, logitsChunk?}, core/model/sequence_scoring.h):
// the keys and bounds that sequenceLogprobs, referenceLogps and the trainer's options share.
rdpo::ScoringOptions scoring_options(const Napi::Object& options);
// The same from an optional argument: defaults when info[i] is absent or undefined.
rdpo::ScoringOptions scoring_options(const Napi::CallbackInfo& info, size_t i);

// An Int32Array borrowed without a copy; TypeError for anything else.
at::Tensor borrow_int32(const Napi::Value& v, const char* name);

}  // namespace rdpo::napi

// Buckets: tensors grouped, in a given order, into runs of one dtype of at most about
// `bucket_bytes` each (a tensor larger than that is a bucket of its own). A collective sends one
// flat copy per bucket: the gradient strategies (core/distributed/gradient_sync.h) and the
// broadcast of rank 0's weights (core/distributed/process_group.h) bucket with this one rule.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace rdpo {

// The gradient bucket size when none is given: the binding exports it (dataParallelSupport's
// defaultBucketBytes) for lib/train/data_parallel.ts, which reads RDPO_DDP_BUCKET_MB over it.
constexpr int64_t kDefaultBucketBytes = int64_t(25) << 20;

// Indices into `tensors`, taken in `order`: a new bucket starts when the next tensor would take
// the current one past `bucket_bytes`, or has another dtype.
std::vector<std::vector<size_t>> size_buckets(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& order,
                                              int64_t bucket_bytes);

}  // namespace rdpo

#include "core/distributed/buckets.h"

namespace rdpo {

std::vector<std::vector<size_t>> size_buckets(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& order,
                                              int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> buckets;
  std::vector<size_t> bucket;
  int64_t bytes = 0;
  for (size_t k : order) {
    const auto& t = tensors[k];
    const int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    if (!bucket.empty() && (bytes + b > bucket_bytes || t.scalar_type() != tensors[bucket.front()].scalar_type())) {
      buckets.push_back(std::move(bucket));
      bucket.clear();
      bytes = 0;
    }
    bucket.push_back(k);
    bytes += b;
  }
  if (!bucket.empty()) buckets.push_back(std::move(bucket));
  return buckets;
}

}  // namespace rdpo

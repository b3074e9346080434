// Data-parallel training on LibTorch's own c10d: a TCPStore rendezvous and a ProcessGroupGloo
// (CPU tensors), or a ProcessGroupNCCL for a group on CUDA (core/distributed/process_group_nccl.h).
// Built only when the gloo headers were found (CMakeLists.txt); otherwise every entry point throws
// with the reason, and data_parallel_support() says why.
//
// This file is the group and its collectives. What runs over it: the gradient strategies
// (core/distributed/gradient_sync.h: all_reduce_sync.h, and ZeRO-1's reduce_scatter_sync.h) and
// ZeRO-1's optimizer shards (core/distributed/optimizer_shards.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rdpo {

struct DataParallelSupport {
  bool compiled = false;
  std::string backend;  // "gloo" when compiled
  std::string missing;  // why not, when not compiled
  // ProcessGroupNCCL (core/distributed/process_group_nccl.h), for groups on CUDA.
  bool nccl = false;
  std::string nccl_version;  // the nccl.h compiled against
  std::string nccl_missing;  // why not compiled
};
DataParallelSupport data_parallel_support();

// A one-rank Gloo group over an in-process store, one all-reduce: checks at run time that the
// gloo headers this was built with match LibTorch's gloo. Returns "" or what failed.
std::string data_parallel_self_test();

struct ProcessGroupOptions {
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  double timeout_seconds = 600;  // rendezvous and every collective
  // Where the collectives run: "cpu" uses Gloo, "cuda:N" NCCL (the rank's GPU, cuda:LOCAL_RANK).
  // Tensors on another device are copied there and back (metrics and checks are built on the CPU).
  std::string device = "cpu";
};

enum class ReduceOp { Sum, Max };

// A collective in flight; wait() rethrows its error as std::runtime_error.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  virtual void wait() = 0;
  // True once wait() would not block (the collective has finished, or failed).
  virtual bool ready() = 0;
  // After wait(): a reduce-scatter's summed segment (undefined for an in-place all-reduce).
  virtual at::Tensor result() { return at::Tensor(); }
};

// What this process has written to files and sockets so far (Linux /proc/self/io `wchar`; Gloo's
// TCP transport sends with write(2)/writev(2), so this counts the bytes a collective sends).
// -1 where the counter is not available.
int64_t process_bytes_written();

class ProcessGroup {
 public:
  // Rendezvous: rank 0 serves the TCPStore at master_addr:master_port; every rank connects.
  // Blocks until all world_size ranks have joined (or the timeout passes: throws).
  // Two Gloo groups share the store: one for the gradient buckets (launched from backward hooks
  // as they fill) and one for everything else. Gloo matches collectives by their order within a
  // group, so the buckets need a group of their own: whether a rank launches them during backward
  // or at the step must not shift the order of the other collectives.
  explicit ProcessGroup(const ProcessGroupOptions& options);
  ~ProcessGroup();

  int64_t rank() const { return options_.rank; }
  int64_t world_size() const { return options_.world_size; }
  double timeout_seconds() const { return options_.timeout_seconds; }
  const std::string& backend() const;  // "gloo" or "nccl"

  // In place, waits for completion. Errors (a dead peer, a timeout) become std::runtime_error
  // naming `what` and this rank.
  void all_reduce(at::Tensor& tensor, ReduceOp op, const std::string& what);
  void broadcast(std::vector<at::Tensor>& tensors, int64_t root, const std::string& what);

  // Every rank passes a vector of the same length; throws on every rank, naming `what` and the
  // first differing index, when any rank's values differ (one all-reduce of [v, −v] with max).
  void check_same(const std::vector<double>& values, const std::string& what, bool gradient_group = false);

  // A sum over the gradient group, in flight until wait().
  std::unique_ptr<PendingReduce> start_gradient_sum(at::Tensor tensor, const std::string& what);
  // A reduce-scatter (sum) over the gradient group: `input` is this rank's contribution, laid out
  // by destination rank, segment r of `counts[r]` elements for rank r. After wait(), result() is
  // the sum over the ranks of this rank's segment (counts[rank] elements). Every rank passes the
  // same counts. Summed in rank order 0, 1, … (deterministic; for two ranks exactly a + b, as
  // the all-reduce). Gloo: see the comment at the definition for why this is an all-to-all.
  std::unique_ptr<PendingReduce> start_gradient_reduce_scatter(at::Tensor input, const std::vector<int64_t>& counts,
                                                               const std::string& what);
  // All-gather over the control group, waits: `output` ([world_size · n]) receives every rank's
  // `input` ([n], the same n on every rank) in rank order.
  void all_gather(at::Tensor& input, at::Tensor& output, const std::string& what);

  struct Impl;

 private:
  void all_reduce_on(bool gradient_group, at::Tensor& tensor, ReduceOp op, const std::string& what);
  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Makes every rank's tensors equal rank 0's (the model's weights at the start of training).
void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int64_t bucket_bytes);

}  // namespace rdpo

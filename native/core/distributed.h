// Data-parallel training on LibTorch's own c10d: a TCPStore rendezvous and a ProcessGroupGloo
// (CPU tensors), or a ProcessGroupNCCL for a group on CUDA (core/process_group_nccl.h). Built only
// when the gloo headers were found (CMakeLists.txt); otherwise every entry point throws with the
// reason, and data_parallel_support() says why.
//
// Gradients: GradientSync all-reduces (sums) every trainable gradient in buckets of about
// `bucket_bytes`, in reverse registration order (the order backward produces them). Each rank
// scales its loss by its share of the global micro-batch, so the sum is the global mean.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace rdpo {

struct DataParallelSupport {
  bool compiled = false;
  std::string backend;  // "gloo" when compiled
  std::string missing;  // why not, when not compiled
  // ProcessGroupNCCL (core/process_group_nccl.h), for groups on CUDA.
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

// An all-reduce in flight; wait() rethrows its error as std::runtime_error.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  virtual void wait() = 0;
};

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

  // The last gradient all-reduce: its buckets, and how many started during backward (overlapped).
  struct GradientStats {
    int64_t buckets = 0;
    int64_t started_in_backward = 0;
  };
  GradientStats last_gradient_sync;

  struct Impl;

 private:
  void all_reduce_on(bool gradient_group, at::Tensor& tensor, ReduceOp op, const std::string& what);
  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

class GradientSync {
 public:
  GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Call before the backward of the last micro-batch of a step: as each bucket's gradients are
  // final, its all-reduce starts (in bucket order on every rank), overlapping the rest of backward.
  void arm();
  // Sums every parameter's gradient over the ranks (a missing gradient counts as zeros and is
  // created): starts the buckets not yet started, waits for all, copies the sums back. The first
  // call (or arm()) first checks that every rank holds the same parameter list (else the buckets
  // would not line up and Gloo would wait until its timeout).
  void reduce();
  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Buckets whose all-reduce started during backward in the last reduce() (for tests and logs).
  int64_t overlapped_buckets() const { return overlapped_; }

 private:
  void on_gradient(size_t param);  // a backward hook: param's gradient is accumulated
  void launch_ready_locked();
  void launch_locked(size_t bucket);
  void check_layout();

  std::shared_ptr<ProcessGroup> group_;
  std::vector<at::Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;  // indices into params_
  std::vector<size_t> bucket_of_;
  bool checked_ = false;

  std::mutex mutex_;
  bool armed_ = false;
  std::vector<size_t> pending_;  // gradients still to arrive, per bucket
  size_t next_launch_ = 0;       // buckets start in order
  std::vector<at::Tensor> flats_;
  std::vector<std::unique_ptr<PendingReduce>> works_;
  int64_t overlapped_ = 0, launched_in_backward_ = 0;
};

// Data-parallel ZeRO-1 (optimizer-state sharding): each parameter tensor is owned by one rank
// (whole tensors, balanced by size, the same assignment on every rank); a rank keeps AdamW state
// for its own tensors only and, after each step, the owners broadcast their updated tensors.
class OptimizerShards {
 public:
  OptimizerShards(std::shared_ptr<ProcessGroup> group, std::vector<std::pair<std::string, at::Tensor>> named);
  // This rank's parameters (what its AdamW steps).
  std::vector<std::pair<std::string, at::Tensor>> owned() const;
  // Every rank's parameters become their owners' (after the AdamW step).
  void broadcast_updates();
  // The whole AdamW state (AdamW::state() names) on rank 0, from every rank's own part; empty on
  // the other ranks. A collective: every rank calls it.
  std::vector<std::pair<std::string, at::Tensor>> gather_state(const std::vector<std::pair<std::string, at::Tensor>>& local) const;
  int64_t rank() const;

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<std::pair<std::string, at::Tensor>> named_;
  std::vector<int64_t> owner_;
};

// Makes every rank's tensors equal rank 0's (the model's weights at the start of training).
void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int64_t bucket_bytes);

}  // namespace rdpo

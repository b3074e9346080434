// Data-parallel training on LibTorch's own c10d: a TCPStore rendezvous and a ProcessGroupGloo
// (CPU tensors), or a ProcessGroupNCCL for a group on CUDA (core/process_group_nccl.h). Built only
// when the gloo headers were found (CMakeLists.txt); otherwise every entry point throws with the
// reason, and data_parallel_support() says why.
//
// Gradients: GradientSync all-reduces (sums) every trainable gradient in buckets of about
// `bucket_bytes`, in reverse registration order (the order backward produces them). Each rank
// scales its loss by its share of the global micro-batch, so the sum is the global mean.
// ZeRO-1 (OptimizerShards): the buckets are reduce-scattered instead (each rank receives the sums
// of its own tensors only) and the updated parameters are all-gathered after the step.
#pragma once
#include <exception>
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

  // The last optimiser step's gradient synchronisation: its buckets, how many started during
  // backward (overlapped), which collective ("all-reduce" or "reduce-scatter"), and the bytes this
  // process sent while the gradient collectives ran and while the parameters were all-gathered
  // (process_bytes_written() deltas; -1: not measured or no ZeRO all-gather).
  struct GradientStats {
    int64_t buckets = 0;
    int64_t started_in_backward = 0;
    std::string collective = "all-reduce";
    int64_t gradient_bytes_sent = -1;
    int64_t parameter_bytes_sent = -1;
    int64_t gradient_elements = 0;  // summed gradient elements (the full trained parameter count)
    int64_t collectives = 0;        // gradient collectives launched (ZeRO-1: pieces of buckets)
  };
  GradientStats last_gradient_sync;

  struct Impl;

 private:
  void all_reduce_on(bool gradient_group, at::Tensor& tensor, ReduceOp op, const std::string& what);
  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

class OptimizerShards;

class GradientSync {
 public:
  GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params, int64_t bucket_bytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Call before the backward of the last micro-batch of a step: as each bucket's gradients are
  // final, its all-reduce starts (in bucket order on every rank), overlapping the rest of backward.
  void arm();
  // ZeRO-1: from now on reduce() reduce-scatters: each rank keeps the summed gradients of the
  // tensors `shards` assigns to it, and drops the other tensors' .grad as soon as their values
  // have been handed to the collective (during backward when the buckets overlap it). Each
  // bucket's reduce-scatter runs in pieces whose receive buffer is at most about one bucket, at
  // most four pieces in flight, so a tensor larger than the bucket size costs no W-fold buffer.
  // Call before the first arm()/reduce().
  void shard(const OptimizerShards& shards);
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
  void finish_locked(size_t bucket);  // copies a finished bucket's sums back and frees its buffers
  void check_layout();

  // ZeRO-1's pieces: piece j of J of a bucket covers, for every rank r, the elements
  // [c_r·j/J, c_r·(j+1)/J) of r's part of the bucket (its tensors' gradients in bucket order).
  struct Piece {
    size_t bucket = 0;
    int64_t index = 0;
    std::unique_ptr<PendingReduce> work;
  };
  bool zero_can_launch_locked() const;  // the next piece's bucket is complete, and a slot is free
  void zero_launch_locked();
  void zero_finish_locked(Piece& piece);  // copies the piece's sums into this rank's gradients
  void zero_reap_locked();                // finishes pieces that have completed, launches more
  // Calls fn(tensor k, lo, hi, at) for rank r's tensors in bucket b overlapping [start, end) of
  // r's part: elements [lo, hi) of tensor k sit at offset `at` from `start`.
  template <typename Fn>
  void zero_overlaps(size_t b, int64_t r, int64_t start, int64_t end, Fn&& fn) const;

  std::shared_ptr<ProcessGroup> group_;
  std::vector<at::Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;  // indices into params_
  std::vector<size_t> bucket_of_;
  int64_t bucket_bytes_ = 0;
  bool checked_ = false;

  std::mutex mutex_;
  bool armed_ = false;
  std::vector<size_t> pending_;  // gradients still to arrive, per bucket
  size_t next_launch_ = 0;       // buckets start in order
  std::vector<at::Tensor> flats_;
  std::vector<std::unique_ptr<PendingReduce>> works_;
  int64_t overlapped_ = 0, launched_in_backward_ = 0;
  int64_t bytes_at_start_ = -1;  // process_bytes_written() when the step's first bucket could start

  // ZeRO-1: owner_[k] is the rank that keeps params_[k]'s summed gradient (empty: all-reduce).
  std::vector<int64_t> owner_;
  std::vector<std::vector<int64_t>> counts_;  // per bucket, per rank: elements of its tensors
  std::vector<int64_t> pieces_;               // per bucket
  int64_t next_piece_ = 0;                    // of bucket next_launch_
  std::vector<Piece> in_flight_;
  std::exception_ptr reap_error_;  // a piece that failed while reaped during backward
};

// Data-parallel ZeRO-1 (optimizer-state sharding): each parameter tensor is owned by one rank
// (whole tensors, balanced by size, the same assignment on every rank, so AdamW's per-tensor rules
// such as weight decay stay as they are). A rank receives the summed gradients of its own tensors
// only (GradientSync::shard), keeps AdamW state for them only, and after each step the ranks
// all-gather the updated parameters: rank r's segment is its tensors flattened in parameter
// order, padded to the largest rank's element count.
class OptimizerShards {
 public:
  // `gather_bytes`: the all-gather runs in pieces whose output is at most about this size.
  OptimizerShards(std::shared_ptr<ProcessGroup> group, std::vector<std::pair<std::string, at::Tensor>> named,
                  int64_t gather_bytes = int64_t(25) << 20);
  // This rank's parameters (what its AdamW steps).
  std::vector<std::pair<std::string, at::Tensor>> owned() const;
  // The rank that owns `p` (by identity), or -1 when p is not a sharded parameter.
  int64_t owner_of(const at::Tensor& p) const;
  // The global L2 norm of the gradients of `params` (each rank holds its own tensors' gradients):
  // each rank's per-tensor norms are summed over the ranks (x + 0: exact) and reduced in
  // `params` order as clip_grad_norm() does, so the value is bit-identical to one process's.
  // Clips this rank's gradients like clip_grad_norm(); a collective.
  double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);
  // Every rank's parameters become their owners' (after the AdamW step): an all-gather.
  void all_gather_updates();
  // The whole AdamW state (AdamW::state() names) on rank 0, from every rank's own part; empty on
  // the other ranks. A collective: every rank calls it.
  std::vector<std::pair<std::string, at::Tensor>> gather_state(
      const std::vector<std::pair<std::string, at::Tensor>>& local) const;
  int64_t rank() const;

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<std::pair<std::string, at::Tensor>> named_;
  std::vector<int64_t> owner_;
  std::vector<int64_t> offset_;  // named_[k]'s offset in its owner's segment
  int64_t segment_ = 0;          // elements per rank in the all-gather (the largest rank's load)
  int64_t gather_bytes_;
};

// Makes every rank's tensors equal rank 0's (the model's weights at the start of training).
void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int64_t bucket_bytes);

}  // namespace rdpo

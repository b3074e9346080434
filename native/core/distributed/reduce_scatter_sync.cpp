#include "core/distributed/reduce_scatter_sync.h"

#include <algorithm>
#include <stdexcept>

namespace rdpo {

ReduceScatterSync::ReduceScatterSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params,
                                     int64_t bucket_bytes, bool overlap_backward, const OptimizerShards& shards)
    : GradientSync(std::move(group), std::move(params), bucket_bytes, overlap_backward) {
  for (const auto& p : params_) {
    const int64_t r = shards.owner_of(p);
    if (r < 0) throw std::logic_error("ReduceScatterSync: a synchronised parameter has no owner");
    owner_.push_back(r);
  }
  const int64_t W = group_->world_size();
  counts_.assign(buckets_.size(), std::vector<int64_t>(static_cast<size_t>(W), 0));
  pieces_.assign(buckets_.size(), 1);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t largest = 0, element = 1;
    for (size_t k : buckets_[b]) {
      counts_[b][static_cast<size_t>(owner_[k])] += params_[k].numel();
      element = static_cast<int64_t>(params_[k].element_size());
    }
    for (auto c : counts_[b]) largest = std::max(largest, c);
    // A rank receives W copies of its part of a piece: at most about one bucket.
    const int64_t per_piece = std::max<int64_t>(1, bucket_bytes_ / (W * element));
    pieces_[b] = std::max<int64_t>(1, (largest + per_piece - 1) / per_piece);
  }
}

int64_t ReduceScatterSync::collectives_per_step() const {
  int64_t n = 0;
  for (auto j : pieces_) n += j;
  return n;
}

double ReduceScatterSync::layout_checksum() const {
  double owners = 0;
  for (size_t k = 0; k < params_.size(); ++k)
    owners += static_cast<double>(owner_[k] + 1) * static_cast<double>((k % 1009) + 1);
  return owners;
}

template <typename Fn>
void ReduceScatterSync::overlaps(size_t b, int64_t r, int64_t start, int64_t end, Fn&& fn) const {
  int64_t offset = 0;  // of tensor k within r's part
  for (size_t k : buckets_[b]) {
    if (owner_[k] != r) continue;
    const int64_t n = params_[k].numel();
    const int64_t lo = std::max(start, offset), hi = std::min(end, offset + n);
    if (lo < hi) fn(k, lo - offset, hi - offset, lo - start);
    offset += n;
  }
}

// Pieces in flight: each holds about two buckets (send and receive), so this bounds the buffers.
// The backward hooks only see a piece finish when the next gradient arrives, so a deeper queue
// lets more buckets start during backward (64 KiB buckets in the test: 2 of 7 with two in flight,
// 4 of 7 with four).
constexpr size_t kPiecesInFlight = 4;

bool ReduceScatterSync::can_launch_locked() const {
  return next_launch_ < buckets_.size() && (!armed_ || pending_[next_launch_] == 0) &&
         in_flight_.size() < kPiecesInFlight;
}

void ReduceScatterSync::launch_locked() {
  torch::NoGradGuard no_grad;
  const size_t b = next_launch_;
  const int64_t j = next_piece_, J = pieces_[b], W = group_->world_size(), me = group_->rank();
  if (j == 0) {
    for (size_t k : buckets_[b]) zero_missing_grad(k);
    if (armed_) ++launched_in_backward_;
  }
  // Piece j of every rank's part, by destination rank.
  std::vector<int64_t> counts(static_cast<size_t>(W));
  int64_t total = 0;
  for (int64_t r = 0; r < W; ++r) {
    const int64_t c = counts_[b][static_cast<size_t>(r)];
    counts[static_cast<size_t>(r)] = c * (j + 1) / J - c * j / J;
    total += counts[static_cast<size_t>(r)];
  }
  auto input = torch::empty({total}, params_[buckets_[b].front()].grad().options());
  int64_t at = 0;
  for (int64_t r = 0; r < W; ++r) {
    const int64_t c = counts_[b][static_cast<size_t>(r)], start = c * j / J, end = c * (j + 1) / J;
    overlaps(b, r, start, end, [&](size_t k, int64_t lo, int64_t hi, int64_t off) {
      input.slice(0, at + off, at + off + hi - lo).copy_(params_[k].grad().view({-1}).slice(0, lo, hi));
    });
    at += end - start;
  }
  Piece piece;
  piece.bucket = b;
  piece.index = j;
  piece.work = group_->start_gradient_reduce_scatter(std::move(input), counts, "the gradient reduce-scatter");
  in_flight_.push_back(std::move(piece));
  if (++next_piece_ == J) {
    // The other ranks' gradients are all handed over: this rank no longer holds them.
    for (size_t k : buckets_[b])
      if (owner_[k] != me) params_[k].mutable_grad() = at::Tensor();
    next_piece_ = 0;
    ++next_launch_;
  }
}

void ReduceScatterSync::finish_locked(Piece& piece) {
  torch::NoGradGuard no_grad;
  auto work = std::move(piece.work);
  work->wait();
  const auto sums = work->result();
  const size_t b = piece.bucket;
  const int64_t me = group_->rank(), J = pieces_[b], c = counts_[b][static_cast<size_t>(me)];
  overlaps(b, me, c * piece.index / J, c * (piece.index + 1) / J, [&](size_t k, int64_t lo, int64_t hi, int64_t off) {
    params_[k].mutable_grad().view({-1}).slice(0, lo, hi).copy_(sums.slice(0, off, off + hi - lo));
  });
}

// From the backward hooks: pieces that have completed free their buffers, and the next ones start.
void ReduceScatterSync::reap_locked() {
  for (;;) {
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (!it->work->ready()) {
        ++it;
        continue;
      }
      try {
        finish_locked(*it);
      } catch (...) {
        if (!reap_error_) reap_error_ = std::current_exception();  // rethrown by reduce()
      }
      it = in_flight_.erase(it);
    }
    if (reap_error_ || !can_launch_locked()) return;
    while (!reap_error_ && can_launch_locked()) launch_locked();
  }
}

std::exception_ptr ReduceScatterSync::finish_step_locked() {
  armed_ = false;  // every bucket is complete now
  std::exception_ptr error = reap_error_;
  reap_error_ = nullptr;
  // Launch the rest in order, at most kPiecesInFlight in flight; after a failure only wait for what is in flight.
  for (;;) {
    while (!error && can_launch_locked()) launch_locked();
    if (in_flight_.empty()) break;
    try {
      finish_locked(in_flight_.front());
    } catch (...) {
      if (!error) error = std::current_exception();
    }
    in_flight_.erase(in_flight_.begin());
  }
  next_piece_ = 0;
  return error;
}

}  // namespace rdpo

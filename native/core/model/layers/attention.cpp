#include "core/model/layers/attention.h"

#include "core/model/layers/attention_softcap.h"
#include "core/base/errors.h"
#include "core/runtime/perf_options.h"

namespace rdpo {

AttentionLayout AttentionLayout::of(const ModelConfig& config) {
  AttentionLayout l;
  l.window = config.sliding_window;
  for (int64_t i = 0; i < config.num_layers; ++i) l.windowed.push_back(config.layer_window(i) > 0);
  l.scale = config.attn_scale;
  l.softcap = config.attn_softcap;
  return l;
}

bool AttentionLayout::any_windowed() const {
  for (int64_t i = 0; i < static_cast<int64_t>(windowed.size()); ++i)
    if (layer_windowed(i)) return true;
  return false;
}

PackedAttention::PackedAttention(const PackedBatch& batch, AttentionLayout layout) : layout_(std::move(layout)) {
  bool all_windowed = layout_.window > 0;
  for (int64_t l = 0; l < static_cast<int64_t>(layout_.windowed.size()); ++l) all_windowed &= layout_.layer_windowed(l);
  // One set of masks when every layer is alike (Mistral, Llama); two when layers alternate (Gemma).
  const bool prefix = perf_options().prefix_attention && layout_.softcap == 0;
  groups_ = build_groups(batch, all_windowed ? layout_.window : 0, prefix);
  if (!all_windowed && layout_.any_windowed()) window_groups_ = build_groups(batch, layout_.window, prefix);
  // The soft-capped path always takes a mask: give plain causal groups theirs once, not per layer.
  if (layout_.softcap > 0)
    for (auto* set : {&groups_, &window_groups_})
      for (auto& g : *set)
        if (!g.mask.defined()) g.mask = causal_mask(g.length, batch.input_ids.device());
}

std::vector<PackedAttention::Group> PackedAttention::build_groups(const PackedBatch& batch, int64_t sliding_window,
                                                                  bool prefix) {
  std::vector<Group> groups;
  // Masks are decided on the host once per batch, then reused by every layer.
  at::Tensor branch = batch.branch_ids.to(torch::kCPU).contiguous();
  at::Tensor pos = batch.position_ids.to(torch::kCPU).contiguous();
  const int32_t* br = branch.data_ptr<int32_t>();
  const int64_t* ps = pos.data_ptr<int64_t>();
  auto device = batch.input_ids.device();
  for (int64_t g = 0; g < batch.num_groups(); ++g) {
    const int64_t begin = batch.group_offsets[g], end = batch.group_offsets[g + 1], L = end - begin;
    int32_t first_branch = 0;
    bool several = false;
    for (int64_t i = begin; i < end; ++i) {
      if (br[i] == 0) continue;
      if (first_branch == 0)
        first_branch = br[i];
      else if (br[i] != first_branch)
        several = true;
    }
    bool windowed = false;
    if (sliding_window > 0)
      for (int64_t i = begin; i < end && !windowed; ++i) windowed = ps[i] - ps[begin] >= sliding_window;
    Group group{begin, L, {}};
    if (several || windowed) {
      auto b = branch.narrow(0, begin, L);
      auto q_branch = b.unsqueeze(1), k_branch = b.unsqueeze(0);
      auto idx = torch::arange(L, torch::kInt64);
      at::Tensor mask = idx.unsqueeze(0) <= idx.unsqueeze(1);  // k <= q
      mask = mask & ((k_branch == 0) | (k_branch == q_branch));
      if (windowed) {
        auto p = pos.narrow(0, begin, L);
        mask = mask & ((p.unsqueeze(1) - p.unsqueeze(0)) < sliding_window);
      }
      group.mask = mask.to(device);
      if (several && !windowed && prefix) plan_prefix(group, br);
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

void PackedAttention::plan_prefix(Group& g, const int32_t* br) {
  // Only the layout the packer writes: trunk (branch 0) first, then branches 1, 2, ... each contiguous.
  int64_t i = g.begin;
  const int64_t end = g.begin + g.length;
  while (i < end && br[i] == 0) ++i;
  const int64_t trunk = i - g.begin;
  if (trunk == 0) return;
  std::vector<std::pair<int64_t, int64_t>> spans;  // begin, length
  int32_t expect = 1;
  while (i < end) {
    if (br[i] != expect) return;
    int64_t b = i;
    while (i < end && br[i] == expect) ++i;
    spans.emplace_back(b, i - b);
    ++expect;
  }
  if (spans.size() < 2) return;
  auto device = g.mask.device();
  g.trunk_length = trunk;
  g.prefix_length = trunk + spans[0].second;
  for (size_t s = 1; s < spans.size(); ++s) {
    const int64_t len = spans[s].second;
    auto idx = torch::arange(len, torch::kInt64);
    auto own = idx.unsqueeze(0) <= idx.unsqueeze(1);  // causal within the branch
    auto mask = at::cat({torch::ones({len, trunk}, torch::kBool), own}, 1);
    g.later.push_back({spans[s].first, len, mask.to(device)});
  }
  g.mask = at::Tensor();  // not needed in the prefix form
}

at::Tensor PackedAttention::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t heads = q.size(1), kv_heads = k.size(1), head_dim = q.size(2);
  const auto& groups = !window_groups_.empty() && layout_.layer_windowed(layer) ? window_groups_ : groups_;
  const std::optional<double> scale = layout_.scale > 0 ? std::optional<double>(layout_.scale) : std::nullopt;
  std::vector<at::Tensor> outs;
  outs.reserve(groups.size());
  const bool gqa = kv_heads != heads;
  // [rows, heads, d] -> [1, heads, rows, d]
  auto bhld = [](const at::Tensor& t, int64_t begin, int64_t len) {
    return t.narrow(0, begin, len).transpose(0, 1).unsqueeze(0);
  };
  auto rows = [&](const at::Tensor& o, int64_t len) {
    return o.squeeze(0).transpose(0, 1).reshape({len, heads * head_dim});
  };
  for (const auto& g : groups) {
    if (g.prefix_length > 0) {
      const int64_t P = g.prefix_length, T = g.trunk_length;
      auto o = at::scaled_dot_product_attention(bhld(q, g.begin, P), bhld(k, g.begin, P), bhld(v, g.begin, P),
                                                std::nullopt, 0.0, true, scale, gqa);
      outs.push_back(rows(o, P));
      auto kt = k.narrow(0, g.begin, T), vt = v.narrow(0, g.begin, T);
      for (const auto& b : g.later) {
        auto kb = at::cat({kt, k.narrow(0, b.begin, b.length)}, 0).transpose(0, 1).unsqueeze(0);
        auto vb = at::cat({vt, v.narrow(0, b.begin, b.length)}, 0).transpose(0, 1).unsqueeze(0);
        auto ob = at::scaled_dot_product_attention(bhld(q, b.begin, b.length), kb, vb, b.mask, 0.0, false, scale, gqa);
        outs.push_back(rows(ob, b.length));
      }
      continue;
    }
    // [L, heads, d] -> [1, heads, L, d]
    auto qg = q.narrow(0, g.begin, g.length).transpose(0, 1).unsqueeze(0);
    auto kg = k.narrow(0, g.begin, g.length).transpose(0, 1).unsqueeze(0);
    auto vg = v.narrow(0, g.begin, g.length).transpose(0, 1).unsqueeze(0);
    at::Tensor o;
    if (layout_.softcap > 0)
      o = softcapped_attention(qg, kg, vg, g.mask, scale, layout_.softcap);
    else if (g.mask.defined())
      o = at::scaled_dot_product_attention(qg, kg, vg, g.mask, 0.0, false, scale, kv_heads != heads);
    else
      o = at::scaled_dot_product_attention(qg, kg, vg, std::nullopt, 0.0, true, scale, kv_heads != heads);
    outs.push_back(o.squeeze(0).transpose(0, 1).reshape({g.length, heads * head_dim}));
  }
  return outs.size() == 1 ? outs[0] : at::cat(outs, 0);
}

CachedAttention::CachedAttention(int64_t layers, int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity,
                                 const at::TensorOptions& options)
    : batch_(batch) {
  for (int64_t l = 0; l < layers; ++l) {
    keys_.push_back(torch::zeros({batch, kv_heads, capacity, head_dim}, options));
    values_.push_back(torch::zeros({batch, kv_heads, capacity, head_dim}, options));
  }
}

void CachedAttention::begin_step(int64_t step, at::Tensor mask, at::Tensor window_mask) {
  if (past_ + step > keys_.at(0).size(2)) throw RangeError("generation: key/value cache capacity exceeded");
  step_ = step;
  mask_ = std::move(mask);
  window_mask_ = std::move(window_mask);
}

at::Tensor CachedAttention::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t heads = q.size(1), kv_heads = k.size(1), head_dim = q.size(2);
  auto qb = q.view({batch_, step_, heads, head_dim}).transpose(1, 2);  // [B, heads, step, d]
  auto& kc = keys_[layer];
  auto& vc = values_[layer];
  kc.narrow(2, past_, step_).copy_(k.view({batch_, step_, kv_heads, head_dim}).transpose(1, 2));
  vc.narrow(2, past_, step_).copy_(v.view({batch_, step_, kv_heads, head_dim}).transpose(1, 2));
  const at::Tensor& mask = layout_.layer_windowed(layer) && window_mask_.defined() ? window_mask_ : mask_;
  const std::optional<double> scale = layout_.scale > 0 ? std::optional<double>(layout_.scale) : std::nullopt;
  auto keys = kc.narrow(2, 0, past_ + step_), values = vc.narrow(2, 0, past_ + step_);
  auto o = layout_.softcap > 0
               ? softcapped_attention(qb, keys, values, mask, scale, layout_.softcap)
               : at::scaled_dot_product_attention(qb, keys, values, mask, 0.0, false, scale, kv_heads != heads);
  return o.transpose(1, 2).reshape({batch_ * step_, heads * head_dim});
}

}  // namespace rdpo

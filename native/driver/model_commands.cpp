// Model commands of rdpo-driver, to smoke-test the model path without Node.js:
//   rdpo-driver logprobs DIR [--dtype D] [--device D] [--tokens 1,2,3]
//       loads the checkpoint, prints each token's log-prob given the ones before and the sum
//   rdpo-driver model-check DIR [--dtype D] [--device D]
//       compares against DIR/expected.json (made by scripts/fixtures/make_model_fixtures.py):
//       logits, summed completion log-probs (as one packed batch) and greedy tokens
//   rdpo-driver grad-check DIR [--dtype D] [--device D]
//       gradients of a packed log-prob loss with and without gradient checkpointing must agree
//   rdpo-driver pack FILE
//       prints the packed layout of FILE's {"groups": [{prompt, completions}]} as JSON, so that a
//       test can hold this packer to lib/model/packing.ts (test/packing_rule.test.ts)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/base/dtype.h"
#include "core/base/errors.h"
#include "core/io/json.h"
#include "core/model/sequence_scoring.h"
#include "core/model/token_logprobs.h"
#include "driver/commands.h"

namespace rdpo::driver {
namespace {

struct ModelArgs {
  std::string dir, dtype = "float32", device = "cpu";
  std::vector<int64_t> tokens;
};

ModelArgs parse_args(int argc, char** argv) {
  if (argc < 3) throw ArgumentError("usage: rdpo-driver " + std::string(argv[1]) + " DIR [--dtype D] [--device D]");
  ModelArgs a;
  a.dir = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) throw ArgumentError("flag " + flag + " needs a value");
    std::string value = argv[++i];
    if (flag == "--dtype")
      a.dtype = value;
    else if (flag == "--device")
      a.device = value;
    else if (flag == "--tokens") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        a.tokens.push_back(std::stoll(value.substr(start, comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else
      throw ArgumentError("unknown flag " + flag + " (use --dtype, --device, --tokens)");
  }
  return a;
}

std::vector<int64_t> ints(const json::Value& v) {
  std::vector<int64_t> out;
  for (const auto& x : v.as_array()) out.push_back(x.as_int());
  return out;
}

// Groups of {prompt, completions} packed as trunk + branches; sequence i = i-th completion overall.
// The rule is lib/model/packing.ts's (the layout every TypeScript packer builds): a completion's
// last token is scored but not fed, since it predicts nothing. test/packing_rule.test.ts compares
// the two packers on random groups through `rdpo-driver pack`.

int logprobs_command(int argc, char** argv) {
  ModelArgs a = parse_args(argc, argv);
  auto t0 = std::chrono::steady_clock::now();
  auto model = CausalLM::load(a.dir, parse_dtype(a.dtype), parse_device(a.device));
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& c = model->config();
  std::printf("%s: %s, %lld layers, hidden %lld, heads %lld/%lld, vocab %lld, %s on %s (loaded in %.2f s)\n",
              a.dir.c_str(), c.model_type.c_str(), (long long)c.num_layers, (long long)c.hidden_size,
              (long long)c.num_heads, (long long)c.num_kv_heads, (long long)c.vocab_size, a.dtype.c_str(),
              a.device.c_str(), load_s);
  if (a.tokens.empty())
    for (int64_t i = 0; i < 16; ++i) a.tokens.push_back((i * 37 + 11) % c.vocab_size);
  if (a.tokens.size() < 2) throw ArgumentError("--tokens needs at least two tokens");
  torch::NoGradGuard no_grad;
  PackedBatch b = single_sequence(a.tokens);
  at::Tensor hidden = model->hidden_states(b);
  at::Tensor lp = token_logprobs_unfused(hidden.index_select(0, b.score_rows.to(hidden.device())),
                                         model->lm_head_weight(), b.score_targets.to(hidden.device()), c.final_softcap)
                      .cpu();
  for (int64_t i = 0; i < lp.size(0); ++i)
    std::printf("  token %lld -> %lld: log p = %.6f\n", (long long)a.tokens[i], (long long)a.tokens[i + 1],
                lp[i].item<double>());
  auto s = sequence_logprobs(*model, b);
  std::printf("sum log p = %.6f over %lld tokens\n", s.sum.cpu()[0].item<double>(),
              (long long)s.count.cpu()[0].item<int64_t>());
  return 0;
}

int model_check_command(int argc, char** argv) {
  ModelArgs a = parse_args(argc, argv);
  auto model = CausalLM::load(a.dir, parse_dtype(a.dtype), parse_device(a.device));
  json::Value expected = json::parse_file(a.dir + "/expected.json");
  torch::NoGradGuard no_grad;
  const bool exact = a.dtype == "float32";

  double max_logit_diff = 0;
  for (const auto& item : expected.find(exact ? "logits" : "bf16_logits")->as_array()) {
    auto tokens = ints(*item.find("tokens"));
    at::Tensor lg = model->logits(single_sequence(tokens)).cpu();
    auto positions = ints(*item.find("positions"));
    const auto& values = item.find("values")->as_array();
    for (size_t i = 0; i < positions.size(); ++i) {
      const auto& row = values[i].as_array();
      for (size_t v = 0; v < row.size(); ++v)
        max_logit_diff = std::max(max_logit_diff, std::fabs(lg[positions[i]][v].item<double>() - row[v].as_number()));
    }
  }
  const json::Value& groups = *expected.find("groups");
  auto s = sequence_logprobs(*model, pack_groups(groups));
  at::Tensor sums = s.sum.cpu();
  double max_rel = 0;
  int64_t k = 0;
  for (const auto& g : groups.as_array())
    for (const auto& want : g.find("logprob_sums")->as_array()) {
      double got = sums[k++].item<double>(), w = want.as_number();
      max_rel = std::max(max_rel, std::fabs(got - w) / std::max(1.0, std::fabs(w)));
    }
  std::vector<std::vector<int64_t>> prompts, want_tokens;
  for (const auto& g : expected.find("greedy")->as_array()) {
    prompts.push_back(ints(*g.find("prompt")));
    want_tokens.push_back(ints(*g.find("tokens")));
  }
  GenerationOptions opts;
  opts.max_new_tokens = 8;
  auto got_tokens = model->generate(prompts, opts);
  int64_t greedy_equal = 0;
  for (size_t i = 0; i < prompts.size(); ++i) greedy_equal += got_tokens[i] == want_tokens[i];

  std::printf("%s [%s %s] max |logit diff| %.3g, max rel logprob-sum diff %.3g, greedy %lld/%zu equal\n", a.dir.c_str(),
              a.dtype.c_str(), a.device.c_str(), max_logit_diff, max_rel, (long long)greedy_equal, prompts.size());
  const bool ok = exact ? (max_logit_diff <= 1e-4 && max_rel <= 1e-5 && greedy_equal == (int64_t)prompts.size())
                        : max_logit_diff <= 0.25;
  std::printf("%s\n", ok ? "model-check OK" : "model-check FAILED");
  return ok ? 0 : 1;
}

int grad_check_command(int argc, char** argv) {
  ModelArgs a = parse_args(argc, argv);
  // One thread: with several, a loaded machine can make MKL/OpenMP split a reduction differently
  // between the two backward passes, and float32 sums in another order differ in the last bits
  // (once seen: 3.1e-4 of max |grad| 5.73). Single-threaded, both passes run the same kernels on
  // the same inputs in the same order, so the gradients must agree exactly.
  at::set_num_threads(1);
  auto model = CausalLM::load(a.dir, parse_dtype(a.dtype), parse_device(a.device));
  // Two shared-prompt groups: exercises the masked and the plain causal attention paths.
  json::Value groups = json::parse(R"([{"prompt":[5,6,7,8],"completions":[[9,10,11],[12,13]]},
                                       {"prompt":[20,21],"completions":[[22,23,24,25]]}])");
  PackedBatch batch = pack_groups(groups);
  auto grads = [&](bool checkpointing) {
    model->set_gradient_checkpointing(checkpointing);
    auto params = model->named_parameters();
    for (auto& [name, p] : params) p.mutable_grad() = at::Tensor();
    auto loss = -sequence_logprobs(*model, batch).sum.sum();
    loss.backward();
    std::vector<at::Tensor> out;
    for (auto& [name, p] : params) out.push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
    return std::make_pair(loss.item<double>(), out);
  };
  auto [loss_plain, g_plain] = grads(false);
  auto [loss_ckpt, g_ckpt] = grads(true);
  // The graph must hold checkpoint nodes (a few steps back from the output), or nothing was recomputed.
  std::string node = "no checkpoint node";
  const at::Tensor hidden = model->hidden_states(batch);  // keeps the graph alive while we walk it
  std::vector<torch::autograd::Node*> frontier{hidden.grad_fn().get()};
  for (int depth = 0; depth < 8 && node == "no checkpoint node"; ++depth) {
    std::vector<torch::autograd::Node*> next;
    for (auto* n : frontier) {
      if (n->name().find("CheckpointFunction") != std::string::npos) node = n->name();
      for (const auto& e : n->next_edges())
        if (e.function) next.push_back(e.function.get());
    }
    frontier = std::move(next);
  }
  double max_diff = 0, max_grad = 0;
  int64_t missing = 0;
  for (size_t i = 0; i < g_plain.size(); ++i) {
    if (!g_plain[i].defined() || !g_ckpt[i].defined()) {
      ++missing;
      continue;
    }
    max_diff = std::max(max_diff, (g_plain[i] - g_ckpt[i]).abs().max().item<double>());
    max_grad = std::max(max_grad, g_plain[i].abs().max().item<double>());
  }
  std::printf("graph: %s\n", node.c_str());
  std::printf(
      "%s: loss %.6f / %.6f (checkpointed), %zu parameters, %lld without gradient, max |grad diff| %.3g (max |grad| "
      "%.3g)\n",
      a.dir.c_str(), loss_plain, loss_ckpt, g_plain.size(), (long long)missing, max_diff, max_grad);
  const bool ok = node.find("CheckpointFunction") != std::string::npos && missing == 0 && loss_plain == loss_ckpt &&
                  max_diff == 0.0;
  std::printf("%s\n", ok ? "grad-check OK" : "grad-check FAILED");
  return ok ? 0 : 1;
}

}  // namespace

void print_ints(const char* key, const at::Tensor& t, bool last = false) {
  at::Tensor v = t.to(torch::kInt64).contiguous();
  std::printf("\"%s\":[", key);
  for (int64_t i = 0; i < v.numel(); ++i) std::printf(i ? ",%lld" : "%lld", (long long)v.data_ptr<int64_t>()[i]);
  std::printf("]%s", last ? "" : ",");
}

int pack_command(int argc, char** argv) {
  if (argc < 3)
    throw ArgumentError(
        "usage: rdpo-driver pack FILE (a JSON object {\"groups\": [{\"prompt\": [...], \"completions\": [[...]]}]})");
  json::Value doc = json::parse_file(argv[2]);
  const json::Value* groups = doc.find("groups");
  if (groups == nullptr) throw ArgumentError(std::string(argv[2]) + ": no \"groups\" key");
  PackedBatch b = pack_groups(*groups);
  std::printf("{");
  print_ints("input_ids", b.input_ids);
  print_ints("position_ids", b.position_ids);
  print_ints("branch_ids", b.branch_ids);
  print_ints("group_offsets", torch::tensor(b.group_offsets, torch::kInt64));
  print_ints("score_rows", b.score_rows);
  print_ints("score_targets", b.score_targets);
  print_ints("score_seq", b.score_seq);
  std::printf("\"num_sequences\":%lld}\n", (long long)b.num_sequences);
  return 0;
}

PackedBatch pack_groups(const json::Value& groups) {
  std::vector<int64_t> ids, pos, rows, targets, seq;
  std::vector<int32_t> branch;
  std::vector<int64_t> offsets{0};
  int64_t s = 0;
  for (const auto& g : groups.as_array()) {
    auto prompt = ints(*g.find("prompt"));
    const int64_t base = static_cast<int64_t>(ids.size()), P = static_cast<int64_t>(prompt.size());
    for (int64_t i = 0; i < P; ++i) {
      ids.push_back(prompt[i]);
      pos.push_back(i);
      branch.push_back(0);
    }
    int32_t br = 1;
    for (const auto& cv : g.find("completions")->as_array()) {
      auto c = ints(cv);
      int64_t prev_row = base + P - 1;  // the last prompt token predicts the first completion token
      for (size_t j = 0; j < c.size(); ++j) {
        rows.push_back(prev_row);
        targets.push_back(c[j]);
        seq.push_back(s);
        if (j + 1 == c.size()) break;
        prev_row = static_cast<int64_t>(ids.size());
        ids.push_back(c[j]);
        pos.push_back(P + static_cast<int64_t>(j));
        branch.push_back(br);
      }
      ++br;
      ++s;
    }
    offsets.push_back(static_cast<int64_t>(ids.size()));
  }
  PackedBatch b;
  b.input_ids = torch::tensor(ids, torch::kInt64);
  b.position_ids = torch::tensor(pos, torch::kInt64);
  b.branch_ids = torch::tensor(branch, torch::kInt32);
  b.group_offsets = offsets;
  b.score_rows = torch::tensor(rows, torch::kInt64);
  b.score_targets = torch::tensor(targets, torch::kInt64);
  b.score_seq = torch::tensor(seq, torch::kInt64);
  b.num_sequences = s;
  return b;
}

PackedBatch single_sequence(const std::vector<int64_t>& tokens) {
  const int64_t T = static_cast<int64_t>(tokens.size());
  PackedBatch b;
  b.input_ids = torch::tensor(tokens, torch::kInt64);
  b.position_ids = torch::arange(T, torch::kInt64);
  b.branch_ids = torch::zeros({T}, torch::kInt32);
  b.group_offsets = {0, T};
  b.score_rows = torch::arange(T - 1, torch::kInt64);
  b.score_targets = b.input_ids.narrow(0, 1, T - 1).clone();
  b.score_seq = torch::zeros({T - 1}, torch::kInt64);
  b.num_sequences = 1;
  return b;
}

int model_dispatch(const std::string& cmd, int argc, char** argv) {
  if (cmd == "pack") return pack_command(argc, argv);
  if (cmd == "logprobs") return logprobs_command(argc, argv);
  if (cmd == "model-check") return model_check_command(argc, argv);
  if (cmd == "grad-check") return grad_check_command(argc, argv);
  return kUnknownCommand;
}

}  // namespace rdpo::driver

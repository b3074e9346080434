// Training commands of rdpo-driver, the core's trainer without Node.js:
//   rdpo-driver train-sft DIR [--steps N] [--lr X] [--device D] [--zero] [--bucket-bytes B] [--no-overlap]
//       SFT steps on one fixed pair, printing each step's loss and gradient norm. Started as
//       several processes with torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
//       it trains data-parallel through core/train/data_parallel.h, as the addon's createTrainer
//       does: each rank takes the batch scaled by 1/WORLD_SIZE, so the summed gradient (and every
//       printed number) is one process's; --zero shards the AdamW state (ZeRO-1).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/base/dtype.h"
#include "core/base/errors.h"
#include "core/model/causal_lm.h"
#include "core/train/data_parallel.h"
#include "driver/commands.h"

namespace rdpo::driver {
namespace {

struct TrainArgs {
  std::string dir, device = "cpu";
  int64_t steps = 3, bucket_bytes = kDefaultBucketBytes;
  double lr = 1e-3;
  bool zero = false, overlap = true;
};

TrainArgs parse_train_args(int argc, char** argv) {
  if (argc < 3) throw ArgumentError("usage: rdpo-driver train-sft DIR [--steps N] [--lr X] [--device D] [--zero]");
  TrainArgs a;
  a.dir = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--zero") {
      a.zero = true;
      continue;
    }
    if (flag == "--no-overlap") {
      a.overlap = false;
      continue;
    }
    if (i + 1 >= argc) throw ArgumentError("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--steps")
      a.steps = std::stoll(value);
    else if (flag == "--lr")
      a.lr = std::stod(value);
    else if (flag == "--device")
      a.device = value;
    else if (flag == "--bucket-bytes")
      a.bucket_bytes = std::stoll(value);
    else
      throw ArgumentError("unknown flag " + flag +
                          " (use --steps, --lr, --device, --zero, --bucket-bytes, --no-overlap)");
  }
  return a;
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoll(v) : fallback;
}

int train_sft_command(int argc, char** argv) {
  const TrainArgs a = parse_train_args(argc, argv);
  DataParallelOptions dp;
  ProcessGroupOptions pg;
  pg.world_size = env_int("WORLD_SIZE", 1);
  if (pg.world_size > 1) {
    pg.rank = env_int("RANK", 0);
    if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) pg.master_addr = addr;
    pg.master_port = env_int("MASTER_PORT", pg.master_port);
    pg.device = a.device;
    dp.group = std::make_shared<ProcessGroup>(pg);
    dp.bucket_bytes = a.bucket_bytes;
    dp.overlap_backward = a.overlap;
    dp.shard_optimizer = a.zero;
  }
  auto model = CausalLM::load(a.dir, torch::kFloat32, parse_device(a.device));
  if (dp.group) {
    std::vector<at::Tensor> weights;
    for (auto& [name, t] : model->named_parameters()) weights.push_back(t);
    broadcast_from_rank0(*dp.group, weights, dp.bucket_bytes);
  }
  TrainerOptions options;
  options.loss = LossOptions::defaults_for(parse_loss_kind("sft"));
  auto trainer = make_preference_trainer(*model, options, dp);
  // One pair: a 6-token prompt, a chosen and a rejected completion of 5 tokens (SFT scores the chosen).
  auto token = [&](int64_t i) { return std::to_string((i * 37 + 11) % model->config().vocab_size); };
  std::string prompt, chosen, rejected;
  for (int64_t i = 0; i < 6; ++i) prompt += (i ? "," : "") + token(i);
  for (int64_t i = 0; i < 5; ++i) chosen += (i ? "," : "") + token(6 + i), rejected += (i ? "," : "") + token(20 + i);
  const json::Value doc =
      json::parse("[{\"prompt\":[" + prompt + "],\"completions\":[[" + chosen + "],[" + rejected + "]]}]", "train-sft");
  PreferenceBatch batch;
  batch.packed = pack_groups(doc);
  batch.num_pairs = 1;
  batch.num_pair_groups = 1;
  batch.has_rejected = false;
  for (int64_t step = 1; step <= a.steps; ++step) {
    trainer->prepare_last_micro_batch();
    const StepMetrics m = trainer->accumulate(batch, 1.0 / static_cast<double>(pg.world_size));
    const OptimizerStep s = trainer->step(a.lr, 1.0);
    std::printf("step %lld loss %.9g grad_norm %.9g", (long long)step, m.loss, s.grad_norm);
    if (s.gradient_sync)
      std::printf(" (%s, %lld buckets, %lld started in backward)", s.gradient_sync->collective.c_str(),
                  (long long)s.gradient_sync->buckets, (long long)s.gradient_sync->started_in_backward);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int train_dispatch(const std::string& cmd, int argc, char** argv) {
  if (cmd == "train-sft") return train_sft_command(argc, argv);
  return kUnknownCommand;
}

}  // namespace rdpo::driver

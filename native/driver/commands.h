// Further driver commands (model checks, GPU bench) register here as they land.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/json.h"
#include "core/model/packed_batch.h"

namespace rdpo::driver {

constexpr int kUnknownCommand = -1000;

// Returns kUnknownCommand when `cmd` is not one of the registered commands.
int dispatch(const std::string& cmd, int argc, char** argv);
std::string usage();

// One plain causal sequence as a packed batch scoring every next token (model_commands.cpp).
PackedBatch single_sequence(const std::vector<int64_t>& tokens);
// {"groups": [{prompt, completions}]}'s groups packed as lib/model/packing.ts packs them: one
// scored sequence per completion, numbered in order (model_commands.cpp).
PackedBatch pack_groups(const json::Value& groups);

}  // namespace rdpo::driver

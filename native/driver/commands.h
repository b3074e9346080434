// Further driver commands (model checks, GPU bench) register here as they land.
#pragma once
#include <string>

namespace rdpo::driver {

constexpr int kUnknownCommand = -1000;

// Returns kUnknownCommand when `cmd` is not one of the registered commands.
int dispatch(const std::string& cmd, int argc, char** argv);
std::string usage();

}  // namespace rdpo::driver

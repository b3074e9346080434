#include "driver/commands.h"

namespace rdpo::driver {

int dispatch(const std::string& cmd, int argc, char** argv) { return kUnknownCommand; }

std::string usage() { return ""; }

}  // namespace rdpo::driver

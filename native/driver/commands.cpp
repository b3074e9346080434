#include "driver/commands.h"

namespace rdpo::driver {

int model_dispatch(const std::string& cmd, int argc, char** argv);  // model_commands.cpp
int train_dispatch(const std::string& cmd, int argc, char** argv);  // train_commands.cpp

int dispatch(const std::string& cmd, int argc, char** argv) {
  if (int rc = model_dispatch(cmd, argc, argv); rc != kUnknownCommand) return rc;
  if (int rc = train_dispatch(cmd, argc, argv); rc != kUnknownCommand) return rc;
  return kUnknownCommand;
}

std::string usage() {
  return " | logprobs DIR [--dtype D] [--device D] [--tokens 1,2,3] | model-check DIR [--dtype D] [--device D] | "
         "grad-check DIR [--dtype D] [--device D] | pack FILE | "
         "train-sft DIR [--steps N] [--lr X] [--device D] [--zero] [--bucket-bytes B] [--no-overlap]";
}

}  // namespace rdpo::driver

#include "core/runtime/perf_options.h"

namespace rdpo {

PerfOptions& perf_options() {
  static PerfOptions options;
  return options;
}

}  // namespace rdpo

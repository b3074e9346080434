#include "core/runtime/malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rdpo {

bool set_malloc_mmap_threshold(std::size_t bytes) {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
  return bytes > 0 && mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes)) == 1;
#else
  (void)bytes;
  return false;
#endif
}

}  // namespace rdpo

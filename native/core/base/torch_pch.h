// Precompiled header for every core and binding translation unit: LibTorch is large,
// and parsing it once instead of per file is most of the build time saved.
#pragma once
#include <torch/torch.h>

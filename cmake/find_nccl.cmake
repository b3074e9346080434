# Finds nccl.h for a CUDA LibTorch, for a future ProcessGroupNCCL path (docs/distributed.md: not
# wired yet; nothing is compiled against it). ProcessGroupNCCL holds an ncclConfig_t by value, so
# the header must be the NCCL version torch was built with: the nvidia-nccl-cu* wheel that comes
# with a CUDA torch wheel ships exactly that one (nvidia/nccl/include/nccl.h).
# Sets RDPO_NCCL_INCLUDE_DIR and RDPO_NCCL_VERSION (major.minor.patch), or RDPO_NCCL_MISSING.
function(rdpo_find_nccl)
  set(RDPO_NCCL_MISSING "" PARENT_SCOPE)
  set(hints "")
  if(DEFINED ENV{RDPO_NCCL_INCLUDE})
    list(APPEND hints "$ENV{RDPO_NCCL_INCLUDE}")
  endif()
  find_program(RDPO_PYTHON NAMES python3 python)
  if(RDPO_PYTHON)
    execute_process(
      COMMAND ${RDPO_PYTHON} -c "import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], 'include'))"
      OUTPUT_VARIABLE wheel_include OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0 AND wheel_include)
      list(APPEND hints "${wheel_include}")
    endif()
  endif()
  find_path(RDPO_NCCL_INCLUDE_DIR nccl.h HINTS ${hints} PATHS /usr/include /usr/local/cuda/include)
  if(NOT RDPO_NCCL_INCLUDE_DIR)
    set(RDPO_NCCL_MISSING "nccl.h not found: pip install the nvidia-nccl-cu* wheel matching torch, or set RDPO_NCCL_INCLUDE" PARENT_SCOPE)
    return()
  endif()
  file(STRINGS "${RDPO_NCCL_INCLUDE_DIR}/nccl.h" defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
  set(version "")
  foreach(part MAJOR MINOR PATCH)
    string(REGEX MATCH "NCCL_${part} +([0-9]+)" m "${defines}")
    list(APPEND version "${CMAKE_MATCH_1}")
  endforeach()
  list(JOIN version "." version)
  set(RDPO_NCCL_VERSION "${version}" PARENT_SCOPE)
  # Torch's own NCCL version, when the python on PATH has this torch (else unchecked).
  if(RDPO_PYTHON)
    execute_process(
      COMMAND ${RDPO_PYTHON} -c "import torch; v = torch.cuda.nccl.version(); print('.'.join(map(str, v)) if isinstance(v, tuple) else v)"
      OUTPUT_VARIABLE torch_nccl OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0 AND torch_nccl AND NOT torch_nccl STREQUAL version)
      set(RDPO_NCCL_MISSING "nccl.h in ${RDPO_NCCL_INCLUDE_DIR} is NCCL ${version}, but torch was built with ${torch_nccl}" PARENT_SCOPE)
    endif()
  endif()
endfunction()

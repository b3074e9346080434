# Finds nccl.h for ProcessGroupNCCL (native/core/distributed/process_group_nccl.cpp) in a CUDA LibTorch build.
# ProcessGroupNCCL::Options holds an ncclConfig_t by value, so the header must be the NCCL version
# torch was built with. A pip torch wheel pins that version (Requires-Dist: nvidia-nccl-cu*==X in
# its METADATA), and the nvidia-nccl-cu* wheel beside it ships exactly that header
# (site-packages/nvidia/nccl/include/nccl.h).
#
# rdpo_find_nccl(<torch install prefix>) sets, in the caller's scope:
#   RDPO_NCCL_INCLUDE_DIR  the directory holding nccl.h
#   RDPO_NCCL_VERSION      its NCCL_MAJOR.MINOR.PATCH
#   RDPO_NCCL_EXPECTED     the version torch was built with, or "" when no source says (an unpacked
#                          libtorch without a python torch beside it: checked at run time only)
#   RDPO_NCCL_MISSING      "" when usable, else why not (and the fix)
function(rdpo_find_nccl torch_prefix)
  set(RDPO_NCCL_MISSING "" PARENT_SCOPE)
  set(RDPO_NCCL_EXPECTED "" PARENT_SCOPE)
  get_filename_component(site "${torch_prefix}/.." ABSOLUTE)

  # The version torch was built with: the wheel's pin, else the python torch if it is this torch.
  set(expected "")
  file(GLOB metadata "${site}/torch-*.dist-info/METADATA")
  foreach(m IN LISTS metadata)
    file(STRINGS "${m}" pins REGEX "^Requires-Dist: nvidia-nccl-cu[0-9]+==[0-9.]+")
    if(pins)
      string(REGEX MATCH "==([0-9]+\\.[0-9]+\\.[0-9]+)" _ "${pins}")
      set(expected "${CMAKE_MATCH_1}")
      set(expected_from "${m}")
    endif()
  endforeach()
  if(expected STREQUAL "")
    set(python "$ENV{PYTHON}")
    if(python STREQUAL "")
      find_program(RDPO_PYTHON NAMES python3 python)
      set(python "${RDPO_PYTHON}")
    endif()
    if(python)
      execute_process(
        COMMAND ${python} -c "import os, torch; v = torch.cuda.nccl.version(); print(os.path.dirname(torch.__file__)); print('.'.join(map(str, v)) if isinstance(v, tuple) else v)"
        OUTPUT_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
      if(rc EQUAL 0)
        string(REPLACE "\n" ";" out "${out}")
        list(GET out 0 py_torch)
        list(GET out 1 py_nccl)
        get_filename_component(py_torch "${py_torch}" REALPATH)
        get_filename_component(this_torch "${torch_prefix}" REALPATH)
        if(py_torch STREQUAL this_torch)
          set(expected "${py_nccl}")
          set(expected_from "torch.cuda.nccl.version() of ${python}")
        endif()
      endif()
    endif()
  endif()
  set(RDPO_NCCL_EXPECTED "${expected}" PARENT_SCOPE)

  set(hints "")
  if(DEFINED ENV{RDPO_NCCL_INCLUDE})
    list(APPEND hints "$ENV{RDPO_NCCL_INCLUDE}")
  endif()
  list(APPEND hints "${site}/nvidia/nccl/include")
  unset(RDPO_NCCL_INCLUDE_DIR CACHE)  # looked up again on every configure (torch may have changed)
  find_path(RDPO_NCCL_INCLUDE_DIR nccl.h HINTS ${hints} PATHS /usr/include /usr/local/cuda/include
    NO_CMAKE_PATH NO_CMAKE_ENVIRONMENT_PATH)
  if(NOT RDPO_NCCL_INCLUDE_DIR)
    set(RDPO_NCCL_MISSING "nccl.h not found: pip install nvidia-nccl-cu*==${expected} beside torch (the version its wheel pins), or set RDPO_NCCL_INCLUDE to the directory holding the nccl.h of that version, then npm run build:native" PARENT_SCOPE)
    return()
  endif()
  set(RDPO_NCCL_INCLUDE_DIR "${RDPO_NCCL_INCLUDE_DIR}" PARENT_SCOPE)
  file(STRINGS "${RDPO_NCCL_INCLUDE_DIR}/nccl.h" defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
  set(version "")
  foreach(part MAJOR MINOR PATCH)
    string(REGEX MATCH "NCCL_${part} +([0-9]+)" m "${defines}")
    list(APPEND version "${CMAKE_MATCH_1}")
  endforeach()
  list(JOIN version "." version)
  set(RDPO_NCCL_VERSION "${version}" PARENT_SCOPE)
  if(NOT version MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+$")
    set(RDPO_NCCL_MISSING "${RDPO_NCCL_INCLUDE_DIR}/nccl.h has no NCCL_MAJOR/MINOR/PATCH defines: point RDPO_NCCL_INCLUDE at a real nccl.h" PARENT_SCOPE)
    return()
  endif()
  if(NOT expected STREQUAL "" AND NOT expected STREQUAL version)
    set(RDPO_NCCL_MISSING "${RDPO_NCCL_INCLUDE_DIR}/nccl.h is NCCL ${version}, but torch was built with ${expected} (${expected_from}); ProcessGroupNCCL holds an ncclConfig_t by value, so they must match: pip install nvidia-nccl-cu*==${expected} or set RDPO_NCCL_INCLUDE, then npm run build:native" PARENT_SCOPE)
    return()
  endif()
endfunction()

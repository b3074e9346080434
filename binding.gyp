# node-gyp's build of the addon (docs/building.md). cmake-js (npm install, npm run build:native) is
# the default and builds everything with CMake; this file builds the same addon, build/Release/rdpo_native.node,
# the way Node tools expect (`node-gyp rebuild`, prebuildify): it compiles the Node-API layer,
# native/napi/*.cpp, and links the core that CMake builds into build-core/. scripts/gyp-core.mjs
# builds that core and prints what CMake resolved from LibTorch (found by scripts/find-libtorch.mjs),
# so no LibTorch path or flag is written here.
{
  'targets': [
    {
      'target_name': 'rdpo_native',
      'sources': ['<!@(node scripts/gyp-core.mjs sources)'],
      'include_dirs': [
        '<!(node -p "require(\'node-addon-api\').include_dir")',
        '<!@(node scripts/gyp-core.mjs include_dirs)',
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        '<!@(node scripts/gyp-core.mjs defines)',
      ],
      # LibTorch needs exceptions and RTTI, and the C++ standard CMake chose (cflags below).
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20'],
      'cflags_cc': ['<!@(node scripts/gyp-core.mjs cflags)'],
      'ldflags': ['<!@(node scripts/gyp-core.mjs ldflags)'],
      'libraries': ['<!@(node scripts/gyp-core.mjs libraries)'],
    },
  ],
}

// Lazy loading of the native addon with messages that say how to fix a failed load
// (in the spirit of sharp's and node-llama-cpp's loaders).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBinding } from './binding.js';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

export class NativeLoadError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'NativeLoadError';
  }
}

/**
 * The addon's `abiVersion` this TypeScript was written against (native/napi/addon.cpp). A stale
 * build (an older checkout's build/, a prebuild for another release) would otherwise fail later
 * with a missing function or a changed contract.
 */
export const EXPECTED_ABI_VERSION = 4;

let cached: NativeBinding | undefined;
let cachedPath: string | undefined;

/** Explains a dlopen failure in one actionable message. */
export function explainLoadError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const rebuild = 'Rebuild with `npm run build:native` in the rdpo-native package directory.';
  if (/No native build was found/i.test(msg)) {
    return `the native addon has not been built. ${rebuild} (It needs LibTorch: set RDPO_LIBTORCH, or install torch for python3.)`;
  }
  const missing = /(lib[\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(msg);
  if (missing) {
    return (
      `the addon cannot find ${missing[1]}, part of LibTorch. The libtorch it was built against has moved or was removed. ` +
      `Point at one with RDPO_LIBTORCH=/path/to/libtorch (or install torch for python3), then ${rebuild.toLowerCase()}`
    );
  }
  if (/undefined symbol/.test(msg)) {
    return `the addon and the LibTorch it loads do not match (C++ ABI or version: ${msg.split('\n')[0]}). ${rebuild}`;
  }
  if (/NODE_MODULE_VERSION|was compiled against a different Node.js version/.test(msg)) {
    return `the addon was built for another Node.js version. ${rebuild}`;
  }
  return `the native addon failed to load: ${msg.split('\n')[0]}. ${rebuild}`;
}

/** Where node-gyp-build finds the addon (build/Release or prebuilds/). Throws NativeLoadError. */
export function addonPath(): string {
  if (process.env.RDPO_ADDON_PATH) return process.env.RDPO_ADDON_PATH;
  const nodeGypBuild = require('node-gyp-build') as { resolve?: (dir: string) => string };
  try {
    if (nodeGypBuild.resolve) return nodeGypBuild.resolve(packageRoot);
  } catch (err) {
    throw new NativeLoadError(explainLoadError(err), err);
  }
  const fallback = path.join(packageRoot, 'build', 'Release', 'rdpo_native.node');
  if (!existsSync(fallback)) throw new NativeLoadError(explainLoadError(new Error('No native build was found')));
  return fallback;
}

/** Loads the addon once. Throws NativeLoadError with a fix-it message on failure. */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  const file = addonPath();
  let binding: NativeBinding;
  try {
    binding = require(file) as NativeBinding;
  } catch (err) {
    throw new NativeLoadError(explainLoadError(err), err);
  }
  checkAbiVersion(binding, file);
  cached = binding;
  cachedPath = file;
  return cached;
}

/** Throws NativeLoadError unless the addon at `file` speaks the ABI version this code expects. */
export function checkAbiVersion(binding: { abiVersion?: unknown }, file: string): void {
  if (binding.abiVersion !== EXPECTED_ABI_VERSION) {
    throw new NativeLoadError(
      `the native addon at ${file} has ABI version ${String(binding.abiVersion)}, but this rdpo-native expects ${EXPECTED_ABI_VERSION} ` +
        '(the build is from another version). Rebuild with `npm run build:native` in the rdpo-native package directory.',
    );
  }
}

export function loadedAddonPath(): string | undefined {
  return cachedPath;
}

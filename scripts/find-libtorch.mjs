// Where is LibTorch? In order (like tch-rs):
//   1. RDPO_LIBTORCH or LIBTORCH: an unpacked libtorch (or a torch Python package dir)
//   2. the torch of the python3 on PATH (torch.utils.cmake_prefix_path)
//   3. a project-local copy provisioned with pip into .libtorch/ (unless RDPO_NO_PROVISION=1)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROVISION_TORCH_VERSION = process.env.RDPO_TORCH_VERSION || '2.13.0';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LOCAL_LIBTORCH_DIR = path.join(root, '.libtorch');

// A prefix is usable when it has TorchConfig.cmake under share/cmake/Torch.
function cmakePrefixOf(dir) {
  for (const candidate of [path.join(dir, 'share', 'cmake'), path.join(dir, 'torch', 'share', 'cmake'), dir]) {
    if (existsSync(path.join(candidate, 'Torch', 'TorchConfig.cmake'))) return candidate;
  }
  return null;
}

function pythonTorch(python = process.env.PYTHON || 'python3') {
  const env = { ...process.env };
  const res = spawnSync(python, ['-c', 'import torch,sys; sys.stdout.write(torch.utils.cmake_prefix_path + "\\n" + torch.__version__)'], {
    encoding: 'utf8',
    env,
  });
  if (res.status !== 0 || !res.stdout) return null;
  const [prefix, version] = res.stdout.trim().split('\n');
  return prefix && cmakePrefixOf(prefix) ? { cmakePrefixPath: cmakePrefixOf(prefix), version } : null;
}

export function findLibtorch({ provision = true, log = () => {} } = {}) {
  const tried = [];
  for (const name of ['RDPO_LIBTORCH', 'LIBTORCH']) {
    const dir = process.env[name];
    if (!dir) continue;
    const prefix = cmakePrefixOf(dir);
    if (prefix) return { cmakePrefixPath: prefix, source: `$${name}` };
    tried.push(`$${name}=${dir} has no share/cmake/Torch/TorchConfig.cmake`);
  }
  const py = pythonTorch();
  if (py) return { ...py, source: 'python3 torch' };
  tried.push('python3 has no importable torch');
  // A copy provisioned earlier: read its files directly (it was installed without its Python deps).
  const local = hasLocalLibtorch() ? cmakePrefixOf(path.join(LOCAL_LIBTORCH_DIR, 'torch')) : null;
  if (local) return { cmakePrefixPath: local, source: `project-local ${LOCAL_LIBTORCH_DIR}` };
  if (provision && process.env.RDPO_NO_PROVISION !== '1') {
    log(`rdpo-native: provisioning torch==${PROVISION_TORCH_VERSION} into ${LOCAL_LIBTORCH_DIR} with pip (a few hundred MB)...`);
    const res = spawnSync(
      process.env.PYTHON || 'python3',
      ['-m', 'pip', 'install', '--no-deps', '--target', LOCAL_LIBTORCH_DIR, `torch==${PROVISION_TORCH_VERSION}`],
      { stdio: 'inherit' },
    );
    if (res.status === 0) {
      // torch imports need its few pure-Python deps only for the version probe; read the files directly.
      const prefix = cmakePrefixOf(path.join(LOCAL_LIBTORCH_DIR, 'torch'));
      if (prefix) return { cmakePrefixPath: prefix, source: `provisioned ${LOCAL_LIBTORCH_DIR}` };
    }
    tried.push(`pip install --target ${LOCAL_LIBTORCH_DIR} torch==${PROVISION_TORCH_VERSION} failed`);
  } else {
    tried.push('provisioning is off (RDPO_NO_PROVISION=1)');
  }
  return { error: tried };
}

export function libtorchHelp(tried) {
  return [
    'rdpo-native: no LibTorch found. Tried:',
    ...tried.map((t) => `  - ${t}`),
    'Fix it one of these ways, then run `npm rebuild rdpo-native` (or `npm install` again):',
    '  1. point at an unpacked libtorch:   export RDPO_LIBTORCH=/path/to/libtorch',
    `  2. install torch for python3:        python3 -m pip install torch==${PROVISION_TORCH_VERSION}`,
    '  3. let the install step provision it: unset RDPO_NO_PROVISION (needs python3 with pip)',
  ].join('\n');
}

export function hasLocalLibtorch() {
  return existsSync(LOCAL_LIBTORCH_DIR) && readdirSync(LOCAL_LIBTORCH_DIR).includes('torch');
}

// The gloo headers data-parallel training compiles against (CMakeLists.txt; docs/distributed.md).
// LibTorch's wheels carry gloo's library but not its headers. In order: RDPO_GLOO_INCLUDE, the
// system's (/usr/include/gloo, e.g. `apt-get install libgloo-dev`), a project-local copy in .gloo/
// from an earlier install, or one provisioned now without root: `apt-get download libgloo-dev` and
// `dpkg -x` into .gloo/ (Debian and Ubuntu). Only headers are used; CMake test-compiles them and
// `doctor` runs a one-rank all-reduce against LibTorch's own gloo.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const hasConfig = (dir) => existsSync(path.join(dir, 'gloo', 'config.h'));
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;

/** { dir, source } where the headers are, or { dir: null, reason } with the fix in one line. */
export function findGloo(root, { provision = process.env.RDPO_NO_PROVISION !== '1', log = () => {} } = {}) {
  const env = process.env.RDPO_GLOO_INCLUDE;
  if (env) return hasConfig(env) ? { dir: env, source: 'RDPO_GLOO_INCLUDE' } : { dir: null, reason: `RDPO_GLOO_INCLUDE=${env} holds no gloo/config.h` };
  if (hasConfig('/usr/include')) return { dir: '/usr/include', source: 'system' };
  const local = path.join(root, '.gloo', 'root', 'usr', 'include');
  if (hasConfig(local)) return { dir: local, source: 'project-local (.gloo/)' };
  const fix = 'apt-get install libgloo-dev, or set RDPO_GLOO_INCLUDE to a directory holding gloo/config.h, then npm run build:native';
  if (!provision) return { dir: null, reason: `gloo headers not found and provisioning is off (RDPO_NO_PROVISION=1): ${fix}` };
  if (!onPath('apt-get') || !onPath('dpkg')) return { dir: null, reason: `gloo headers not found and this system has no apt-get/dpkg to fetch them: ${fix}` };
  const dir = path.join(root, '.gloo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log('fetching the gloo headers without root: apt-get download libgloo-dev, unpacked into .gloo/');
  const dl = spawnSync('apt-get', ['download', 'libgloo-dev'], { cwd: dir, encoding: 'utf8' });
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (dl.status !== 0 || !deb) return { dir: null, reason: `apt-get download libgloo-dev failed (${(dl.stderr || '').trim().split('\n').pop()}): ${fix}` };
  const x = spawnSync('dpkg', ['-x', deb, 'root'], { cwd: dir, encoding: 'utf8' });
  if (x.status !== 0 || !hasConfig(local)) return { dir: null, reason: `dpkg -x ${deb} gave no gloo/config.h: ${fix}` };
  writeFileSync(path.join(dir, 'SOURCE'), `${deb}\n`);
  return { dir: local, source: `provisioned from ${deb} (.gloo/)` };
}

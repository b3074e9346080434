import type { Command } from 'commander';
import { doctorReport, packageVersion } from '../../native/runtime.js';
import { NativeLoadError } from '../../native/load.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the package, LibTorch, CPU and accelerator set-up')
    .option('--json', 'print one JSON object')
    .action((opts: { json?: boolean }) => {
      let report;
      try {
        report = doctorReport();
      } catch (err) {
        if (!(err instanceof NativeLoadError)) throw err;
        if (opts.json) {
          console.log(JSON.stringify({ version: packageVersion(), ok: false, error: err.message }, null, 2));
        } else {
          console.error(`rdpo-native ${packageVersion()}: ${err.message}`);
        }
        process.exitCode = 1;
        return;
      }
      if (opts.json) {
        console.log(JSON.stringify({ ok: true, ...report }, null, 2));
        return;
      }
      const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
      const c = report.cpu;
      const feats = [c.avx2 && 'AVX2', c.avx512 && 'AVX-512', c.avx512bf16 && 'AVX-512 BF16', c.amx && 'AMX'].filter(Boolean);
      const lines = [
        `rdpo-native ${report.version} (node ${report.node}, ${report.platform})`,
        `libtorch    ${report.torch} at ${report.torchPath}`,
        `C++ ABI     _GLIBCXX_USE_CXX11_ABI=${report.cxx11Abi ? 1 : 0}`,
        `CPU         ${c.model}, ${c.cores} cores; ATen kernels ${c.capability || '?'}; ${feats.join(', ') || 'no AVX2'}`,
        `native bf16 ${report.nativeBf16.native ? 'yes' : 'no'} on cpu (${report.nativeBf16.reason}); --dtype auto picks ${report.nativeBf16.native ? 'bfloat16' : 'float32'} there`,
        `threads     intra-op ${report.threads}, inter-op ${report.interOpThreads}`,
        `CUDA        ${report.cuda ? 'available' : report.cudaCompiled ? 'compiled in, no usable device' : 'not in this libtorch'}`,
        `MPS         ${report.mps ? 'available' : 'no'}`,
        ...report.devices.map(
          (d) => `  ${d.type}:${d.index}  ${d.name}  ${gib(d.totalMemoryBytes)}${d.computeCapability ? `  sm ${d.computeCapability}` : ''}`,
        ),
        `data-par.   ${report.dataParallel.available ? `${report.dataParallel.backend} (train --nproc N, or torchrun-style RANK/WORLD_SIZE)` : `not available: ${report.dataParallel.reason}`}`,
        `  backends  ${report.dataParallel.backends.join(', ') || 'none'} compiled`,
        ...(report.dataParallel.glooHeaders ? [`  gloo      headers ${report.dataParallel.glooHeaders}`] : []),
        `  nccl      ${report.dataParallel.nccl.available ? `NCCL ${report.dataParallel.nccl.version} (CUDA ranks; nccl.h matches the NCCL LibTorch loaded)` : `not available: ${report.dataParallel.nccl.reason}`}`,
        `addon       ${report.addonPath}`,
      ];
      console.log(lines.join('\n'));
    });
}

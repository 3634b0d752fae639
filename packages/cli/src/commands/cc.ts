// `previrt cc <compiler> [arguments]`: runs the compiler with -B<dir> holding previrt's `as` shim, so
// every object it assembles goes through the afterburner: `make CC="previrt cc gcc"`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { ensureFrontEnd, isPicCompile } from '@previrt/afterburner';
import { CliError, EXIT_USAGE } from '../errors.js';
import { rawCommandArgs } from './as.js';

const USAGE = `previrt cc [--print-shim-dir | --print-bin-dir] <compiler> [compiler arguments]

Runs <compiler> with -B<shim dir>/ so that it assembles through previrt's as (the afterburner), e.g.
  make CC="previrt cc gcc"
The shim is a small native client (built on first use with the system C compiler into
~/.cache/previrt, or PREVIRT_CACHE_DIR) that hands each job to a long-lived previrt server.
Position-independent compiles (-fpic/-fPIC/-fpie/-fPIE on the command line: in a kernel build the
vDSO and the boot decompressor) are assembled unchanged, since absolute records would need run-time
relocations there; PREVIRT_PIC=rewrite rewrites them too.

  --print-shim-dir  print the directory for 'gcc -B' (CC="gcc -B<dir>/" hooks a build without previrt cc)
  --print-bin-dir   print the directory of the native 'previrt' launcher: with it first on PATH,
                    'previrt cc' starts no Node process per compiler call
`;

export const cliScript = fileURLToPath(new URL('../../bin/previrt.js', import.meta.url));

export const ccCommand: CommandModule<object, { '--'?: unknown[] }> = {
  command: 'cc',
  describe: 'run a C compiler so that it assembles through previrt as (make CC="previrt cc gcc")',
  builder: (y) => y.parserConfiguration({ 'unknown-options-as-args': true, 'halt-at-non-option': true, 'populate--': true }).strict(false),
  handler: (parsed) => {
    const argv = rawCommandArgs(parsed);
    const first = argv[0];
    if (first === undefined) throw new CliError('cc: name the compiler to run, e.g. previrt cc gcc -c foo.c', EXIT_USAGE);
    if (first === '--help' || first === '-h') { process.stdout.write(USAGE); return; }
    const fe = ensureFrontEnd(cliScript);
    if (first === '--print-shim-dir') { process.stdout.write(`${fe.shimDir}\n`); return; }
    if (first === '--print-bin-dir') { process.stdout.write(`${fe.binDir}\n`); return; }
    if (first.startsWith('-')) throw new CliError(`cc: unknown option ${first} (the compiler comes first; see previrt cc --help)`, EXIT_USAGE);
    const args = argv.slice(1);
    const r = spawnSync(first, [`-B${fe.shimDir}/`, ...args], {
      stdio: 'inherit',
      env: { ...process.env, PREVIRT_CC_PIC: isPicCompile(args) ? '1' : '0' },
    });
    if (r.error) throw new CliError(`cc: cannot run ${first}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`, 127);
    if (r.signal) process.kill(process.pid, r.signal);
    process.exitCode = r.status ?? 1;
  },
};

// `previrt cc <compiler> [arguments]`: runs the compiler with -B<dir> holding previrt's `as` shim, so
// every object it assembles goes through the afterburner: `make CC="previrt cc gcc"`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { ensureFrontEnd, skipReason } from '@previrt/afterburner';
import { CliError, EXIT_USAGE } from '../errors.js';
import { rawCommandArgs } from './as.js';

const USAGE = `previrt cc [--print-shim-dir | --print-bin-dir] <compiler> [compiler arguments]

Runs <compiler> with -B<shim dir>/ so that it assembles through previrt's as (the afterburner), e.g.
  make CC="previrt cc gcc"
The shim is a small native client (built on first use with the system C compiler into
~/.cache/previrt, or PREVIRT_CACHE_DIR) that hands each job to a long-lived previrt server.
Compiles whose objects end up where absolute records would be run-time relocations are assembled
unchanged: position-independent code (-fpic/-fPIC/-fpie/-fPIE on the command line; in Linux the boot
decompressor) and Linux vDSO objects (-DBUILD_VDSO). PREVIRT_EXCLUDE=<glob>[:<glob>...] leaves more
objects alone (matched against the -o argument); PREVIRT_REWRITE_ALL=1 rewrites everything.

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
    const env: NodeJS.ProcessEnv = { ...process.env };
    const skip = skipReason(args);
    if (skip) env.PREVIRT_CC_SKIP = skip;
    else delete env.PREVIRT_CC_SKIP;
    const r = spawnSync(first, [`-B${fe.shimDir}/`, ...args], { stdio: 'inherit', env });
    if (r.error) throw new CliError(`cc: cannot run ${first}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`, 127);
    if (r.signal) process.kill(process.pid, r.signal);
    process.exitCode = r.status ?? 1;
  },
};

// Builds (once, into a cache directory) the native front end of the build hook: the `as` shim that
// gcc finds through -B and the `previrt` launcher for `previrt cc`, both from native/previrt-client.c
// with the system C compiler. Without a C compiler the shims are shell scripts that run the Node CLI:
// correct, only slower (a Node start-up per assembler call).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIM_MARKER } from './assemble.js';

export interface FrontEnd {
  /** Directory for `gcc -B`: holds `as`. */
  shimDir: string;
  /** Directory holding the `previrt` launcher (put it first on PATH for a fast `previrt cc`). */
  binDir: string;
  socketPath: string;
  /** Whether the shims are the compiled client (false: shell scripts running Node). */
  native: boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** Package root: `dist/..` at run time, `src/..` under jest. */
const packageRoot = path.resolve(here, '..');
export const CLIENT_SOURCE = path.join(packageRoot, 'native', 'previrt-client.c');
export const SERVER_MAIN = path.join(packageRoot, 'dist', 'server-main.js');

export function cacheRoot(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.PREVIRT_CACHE_DIR) return env.PREVIRT_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || (env.HOME ? path.join(env.HOME, '.cache') : path.join(os.tmpdir(), `previrt-${process.getuid?.() ?? 0}`));
  return path.join(base, 'previrt');
}

/** Changes whenever the client, the server code or the node binary changes: a new server then. */
function versionHash(cliJs: string): string {
  const h = createHash('sha256');
  h.update(fs.readFileSync(CLIENT_SOURCE));
  h.update(process.execPath);
  h.update(cliJs);
  const dirs = [path.join(packageRoot, 'dist'), path.resolve(packageRoot, '..', 'isa', 'dist')];
  for (const dir of dirs) {
    let names: string[] = [];
    try { names = fs.readdirSync(dir).filter((n) => n.endsWith('.js')).sort(); } catch { /* not built */ }
    for (const n of names) h.update(`${n}:${fs.statSync(path.join(dir, n)).mtimeMs}`);
  }
  return h.digest('hex').slice(0, 16);
}

function cString(s: string): string {
  return JSON.stringify(s);
}

function writeAtomic(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}

/**
 * The front end for this installation, built on first use. Safe when several builds start at once:
 * every file is written under a temporary name and renamed into place.
 */
export function ensureFrontEnd(cliJs: string, env: Readonly<Record<string, string | undefined>> = process.env): FrontEnd {
  const dir = path.join(cacheRoot(env), versionHash(cliJs));
  const shimDir = path.join(dir, 'shim');
  const binDir = path.join(dir, 'bin');
  const socketPath = path.join(dir, 'as.sock');
  const shim = path.join(shimDir, 'as');
  const launcher = path.join(binDir, 'previrt');
  const nativeFlag = path.join(dir, 'native');
  if (fs.existsSync(shim) && fs.existsSync(launcher)) {
    return { shimDir, binDir, socketPath, native: fs.existsSync(nativeFlag) };
  }
  fs.mkdirSync(shimDir, { recursive: true });
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(path.join(shimDir, SHIM_MARKER), 'previrt as shim: not the real assembler\n');
  const compiler = env.PREVIRT_HOST_CC || 'cc';
  const built = `${shim}.${process.pid}.build`;
  const r = spawnSync(compiler, [
    '-O2', '-w', '-o', built, CLIENT_SOURCE,
    `-DPREVIRT_SOCKET=${cString(socketPath)}`, `-DPREVIRT_NODE=${cString(process.execPath)}`,
    `-DPREVIRT_SERVER_JS=${cString(SERVER_MAIN)}`, `-DPREVIRT_CLI_JS=${cString(cliJs)}`,
    `-DPREVIRT_SHIM_DIR=${cString(shimDir)}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: env as NodeJS.ProcessEnv });
  if (r.status === 0 && socketPath.length < 100) {
    const bytes = fs.readFileSync(built);
    fs.rmSync(built, { force: true });
    writeAtomic(launcher, bytes, 0o755);
    writeAtomic(shim, bytes, 0o755);
    fs.writeFileSync(nativeFlag, '');
    return { shimDir, binDir, socketPath, native: true };
  }
  fs.rmSync(built, { force: true });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeAtomic(shim, `#!/bin/sh\nexec ${q(process.execPath)} ${q(cliJs)} as "$@"\n`, 0o755);
  writeAtomic(launcher, `#!/bin/sh\nexec ${q(process.execPath)} ${q(cliJs)} "$@"\n`, 0o755);
  return { shimDir, binDir, socketPath, native: false };
}

/**
 * Why a compile gets no records, or null: position-independent code (the last -f[no-]pic/pie wins;
 * in a kernel build the boot decompressor) and Linux vDSO objects (-DBUILD_VDSO...) are linked where
 * absolute records would become run-time relocations, which those links reject; PREVIRT_EXCLUDE is a
 * `:`-separated list of globs on the output object to leave alone. The native client does the same.
 */
export function skipReason(args: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): 'pic' | 'vdso' | 'exclude' | null {
  let pic = false;
  let vdso = false;
  let output: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (/^-f(pic|PIC|pie|PIE)$/.test(a)) pic = true;
    else if (/^-fno-(pic|PIC|pie|PIE)$/.test(a)) pic = false;
    else if (a.startsWith('-DBUILD_VDSO')) vdso = true;
    else if (a === '-D' && args[i + 1]?.startsWith('BUILD_VDSO')) vdso = true;
    else if (a === '-o' && i + 1 < args.length) output = args[i + 1]!;
  }
  if (env.PREVIRT_EXCLUDE && output !== null && env.PREVIRT_EXCLUDE.split(':').some((g) => g && globMatches(g, output!))) return 'exclude';
  if (vdso) return 'vdso';
  if (pic) return 'pic';
  return null;
}

/** fnmatch(3) without flags: `*` and `?` match any characters, `/` included; `[...]` classes. */
function globMatches(glob: string, text: string): boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) { re += '\\['; continue; }
      re += `[${glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(text);
}

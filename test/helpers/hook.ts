// What the end-to-end tests of the build hook share: an environment with a private cache directory
// (the afterburner server's socket and pid file live there), stopping the servers started with it,
// and reading the .afterburn records of an ELF file with objcopy (format v1).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The environment for `previrt cc`/`previrt as` runs of one test: its own cache, a server that idles out. */
export function hookEnv(cacheDir: string, serverIdleSeconds: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PREVIRT_CACHE_DIR: cacheDir, PREVIRT_SERVER_IDLE: String(serverIdleSeconds) };
  delete env.PREVIRT_CC_SKIP;
  delete env.PREVIRT_EXCLUDE;
  return env;
}

/** Stops the afterburner servers started with this cache directory, by the pid each left there. */
export function stopAfterburnServers(cacheDir: string): void {
  for (const dir of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    const pidFile = path.join(cacheDir, dir, 'as.sock.pid');
    if (fs.existsSync(pidFile)) {
      try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM'); } catch { /* already gone */ }
    }
  }
}

export interface RawRecord { address: number; insnLen: number; siteLen: number; kind: number }

/**
 * The records of the `.afterburn` section of an ELF file as objcopy extracts it (ELF32: u32 address,
 * u8 insn_len, u8 site_len, u16 kind; ELF64: u64 address, the same, u32 zero); none without the section.
 * `scratch` is a file name the section's bytes may be written to.
 */
export function afterburnRecords(elf: string, elfClass: 32 | 64, scratch: string): RawRecord[] {
  fs.rmSync(scratch, { force: true });
  spawnSync('objcopy', ['-O', 'binary', '--only-section=.afterburn', elf, scratch]);
  if (!fs.existsSync(scratch)) return [];
  const b = fs.readFileSync(scratch);
  const size = elfClass === 64 ? 16 : 8;
  const out: RawRecord[] = [];
  for (let i = 0; i + size <= b.length; i += size) {
    const address = elfClass === 64 ? Number(b.readBigUInt64LE(i)) : b.readUInt32LE(i);
    const at = elfClass === 64 ? i + 8 : i + 4;
    out.push({ address, insnLen: b[at]!, siteLen: b[at + 1]!, kind: b.readUInt16LE(at + 2) });
  }
  return out;
}

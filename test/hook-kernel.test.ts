// The test kernel (fixtures/kernel) built through the hook with `make CC="previrt cc gcc"` alone (the
// Makefile assembles its plain `.s` sources through $(CC) too, as kbuild does) must pass test=all on
// QEMU with the same transcript as the plain build; every record must point at an instruction of its
// kind followed by NOPs up to site_len (as `previrt decode` sees the image); every sensitive
// instruction `previrt decode --sensitive` finds must have a record, except the ones the afterburner
// reports as skipped: those between the exclusion markers are in .afterburn_excluded, the rest are int3.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEMORY_OPERATION_KINDS, SENSITIVE_CLASSES, kindSiteSize, recordInstructionClass, siteLength } from '@previrt/isa';
import { afterburnRecords, hookEnv, stopAfterburnServers } from './helpers/hook.js';
import { bootOnQemu } from './helpers/qemu.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(repo, 'packages/cli/bin/previrt.js');
const kernelDir = path.join(repo, 'fixtures/kernel');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'previrt-hook-kernel-'));
const plain = path.join(work, 'plain');
const hooked = path.join(work, 'hooked');
const report = path.join(work, 'report.jsonl');
const env = hookEnv(path.join(work, 'cache'), 30);
const classByName = new Map(SENSITIVE_CLASSES.map((c) => [c.name, c]));

interface DecodedInsn { address: number; length: number; mnemonic: string; operands?: string; class: string | null; needsSite?: boolean }

const boot = (dir: string) => bootOnQemu(path.join(dir, 'kernel.elf'), 'test=all', { disk: path.join(plain, 'disk.img'), timeout: 90_000 });
const records = (elf: string) => afterburnRecords(elf, 32, path.join(work, 'afterburn.bin'));

/** Contents of one section (objcopy --dump-section: -O binary leaves out unallocated sections). */
function sectionBytes(file: string, name: string): Buffer {
  const bin = path.join(work, 'section.bin');
  fs.rmSync(bin, { force: true });
  execFileSync('objcopy', [`--dump-section=${name}=${bin}`, file, path.join(work, 'copy.o')]);
  return fs.readFileSync(bin);
}

/** The records of .afterburn_excluded (same layout as .afterburn, ELF32). */
function excludedRecords(elf: string): { address: number; insnLen: number; siteLen: number; kind: number }[] {
  const b = sectionBytes(elf, '.afterburn_excluded');
  const out = [];
  for (let i = 0; i + 8 <= b.length; i += 8) out.push({ address: b.readUInt32LE(i), insnLen: b[i + 4]!, siteLen: b[i + 5]!, kind: b.readUInt16LE(i + 6) });
  return out;
}

/** Allocated sections of an object that have contents. */
function allocatedSections(obj: string): string[] {
  const out = execFileSync('readelf', ['-SW', obj], { encoding: 'utf8' });
  return [...out.matchAll(/\]\s+(\S+)\s+(?:PROGBITS|INIT_ARRAY|FINI_ARRAY|NOTE)\s+\S+\s+\S+\s+(\S+)\s+\S+\s+(\S*A\S*)\s/g)]
    .filter((m) => parseInt(m[2]!, 16) > 0).map((m) => m[1]!);
}

let launcher = '';
beforeAll(() => {
  launcher = path.join(execFileSync(process.execPath, [cli, 'cc', '--print-bin-dir'], { env, encoding: 'utf8' }).trim(), 'previrt');
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${plain}`, '-j2', 'all', 'disk'], { env, stdio: 'pipe' });
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${hooked}`, '-j2', `CC=${launcher} cc gcc`, 'all'],
    { env: { ...env, PREVIRT_REPORT: report }, stdio: 'pipe' });
}, 600_000);

afterAll(() => {
  stopAfterburnServers(path.join(work, 'cache'));
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the test kernel through the hook', () => {
  test('test=all passes on QEMU with the same transcript as the plain build', () => {
    const a = boot(plain);
    const b = boot(hooked);
    expect(a.status).toBe(1); // isa-debug-exit with 0: every self-test passed
    expect(a.stdout).toMatch(/^selftest: \d+ passed, 0 failed$/m);
    expect(b.status).toBe(a.status);
    expect(b.stdout).toBe(a.stdout);
  });

  test('every record points at an instruction of its kind, followed by NOPs up to site_len', () => {
    const recs = records(path.join(hooked, 'kernel.elf'));
    expect(recs.length).toBeGreaterThan(100);
    const decoded = JSON.parse(execFileSync(process.execPath, [cli, 'decode', '--json', '-q', path.join(hooked, 'kernel.elf')],
      { env, encoding: 'utf8', maxBuffer: 1 << 28 })) as { instructions: DecodedInsn[] };
    const at = new Map(decoded.instructions.map((i) => [i.address, i]));
    const bad: string[] = [];
    for (const r of recs) {
      const insn = at.get(r.address);
      const where = `0x${r.address.toString(16)}`;
      if (!insn) { bad.push(`${where}: no instruction starts here`); continue; }
      // Annotated memory operations (kinds 0x101.., from previrt/annotate.h) are plain accesses.
      const memoryKind = MEMORY_OPERATION_KINDS.find((k) => k.id === r.kind);
      if (!memoryKind && (insn.class === null || classByName.get(insn.class)!.id !== recordInstructionClass(r.kind)?.id)) bad.push(`${where}: ${insn.mnemonic} is ${insn.class}, record kind ${r.kind}`);
      if (insn.length !== r.insnLen) bad.push(`${where}: length ${insn.length}, record ${r.insnLen}`);
      const size = kindSiteSize(r.kind);
      if (size === undefined || r.siteLen !== siteLength(size, r.insnLen, 32)) bad.push(`${where}: site_len ${r.siteLen} for kind ${r.kind}`);
      for (let a = r.address + insn.length; a < r.address + r.siteLen;) {
        const pad = at.get(a);
        const text = pad ? `${pad.mnemonic} ${pad.operands ?? ''}`.trim() : '?';
        if (!pad || !/^(nop|xchg %ax,%ax|lea 0x0\(%esi(,%eiz,1)?\),%esi|mov %esi,%esi|data16|cs nop)/.test(text)) { bad.push(`${where}: '${text}' in the pad`); break; }
        a += pad.length;
      }
    }
    expect(bad).toEqual([]);
  });

  test('CC alone hooks the plain .s sources: segtest.o has a record for every site the rewriter finds in it', () => {
    const rewritten = JSON.parse(execFileSync(process.execPath, [cli, 'rewrite', path.join(kernelDir, 'src/segtest.s'), '-o', path.join(work, 'segtest.s'), '--json'],
      { env, encoding: 'utf8' })) as { sites: unknown[] };
    expect(rewritten.sites.length).toBeGreaterThanOrEqual(10);
    expect(records(path.join(hooked, 'segtest.o')).length).toBe(rewritten.sites.length);
    const lines = fs.readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { output: string; sites: Record<string, number> });
    const entry = lines.find((l) => l.output === path.join(hooked, 'segtest.o'));
    expect(Object.values(entry?.sites ?? {}).reduce((a, b) => a + b, 0)).toBe(rewritten.sites.length);
  });

  test('every sensitive instruction previrt decode finds has a record, except the ones reported skipped', () => {
    const elf = path.join(hooked, 'kernel.elf');
    const covered = new Set(records(elf).map((r) => r.address));
    const excludedTable = excludedRecords(elf);
    const excludedAt = new Map(excludedTable.map((r) => [r.address, r]));
    const found = JSON.parse(execFileSync(process.execPath, [cli, 'decode', '--sensitive', '--json', '-q', elf], { env, encoding: 'utf8' })) as { sites: DecodedInsn[] };
    const uncovered: Record<string, number> = {};
    const unmarked: string[] = [];
    for (const s of found.sites) {
      if (covered.has(s.address)) continue;
      uncovered[s.class!] = (uncovered[s.class!] ?? 0) + 1;
      // Left alone between the markers: in the excluded table with its kind and length; else one
      // that needs no site (int3, the traps, rdtsc, push %ds: every back end keeps them).
      const e = excludedAt.get(s.address);
      if (e) {
        if (classByName.get(s.class!)!.id !== e.kind || e.insnLen !== s.length || e.siteLen !== s.length) {
          unmarked.push(`0x${s.address.toString(16)}: ${s.class} (${s.length} bytes) vs excluded record ${JSON.stringify(e)}`);
        }
        excludedAt.delete(s.address);
      } else if (s.needsSite) {
        unmarked.push(`0x${s.address.toString(16)}: ${s.class} is neither covered nor in .afterburn_excluded`);
      }
    }
    expect(unmarked).toEqual([]);
    expect(excludedTable.length).toBeGreaterThan(20);
    // Every excluded record points at a sensitive instruction the decoder finds.
    expect([...excludedAt.keys()]).toEqual([]);
    // What the afterburner reported skipping, over every object of the build.
    const skipped: Record<string, number> = {};
    const lines = fs.readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { skipped: Record<string, number>; sites: Record<string, number> });
    for (const l of lines) for (const [k, n] of Object.entries(l.skipped)) skipped[k.split(':')[0]!] = (skipped[k.split(':')[0]!] ?? 0) + n;
    expect(lines.length).toBeGreaterThanOrEqual(15);
    expect(found.sites.length).toBeGreaterThan(covered.size);
    expect(uncovered).toEqual(skipped);
  });

  test('no-op guarantee: every object without records is byte-identical to the plain build\'s', () => {
    const objects = fs.readdirSync(plain).filter((f) => f.endsWith('.o'));
    expect(objects.length).toBeGreaterThanOrEqual(15);
    let identical = 0;
    let onlyExcluded = 0;
    const differing: string[] = [];
    for (const o of objects) {
      const a = fs.readFileSync(path.join(plain, o));
      const b = fs.readFileSync(path.join(hooked, o));
      if (a.equals(b)) { identical++; continue; }
      const sections = execFileSync('readelf', ['-SW', path.join(hooked, o)], { encoding: 'utf8' });
      if (/\s\.afterburn\s/.test(sections)) continue;
      if (!/\s\.afterburn_excluded\s/.test(sections)) { differing.push(o); continue; }
      // Only instructions left alone on purpose: every allocated section is the plain one, byte for byte.
      onlyExcluded++;
      for (const name of allocatedSections(path.join(plain, o))) {
        if (!sectionBytes(path.join(plain, o), name).equals(sectionBytes(path.join(hooked, o), name))) differing.push(`${o} ${name}`);
      }
    }
    expect(differing).toEqual([]);
    expect(identical).toBeGreaterThan(0);
    expect(onlyExcluded).toBeGreaterThan(0); // user.o: the ring-3 programs
  });
});

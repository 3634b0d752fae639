// The test kernel (fixtures/kernel) built through the hook: `make CC="previrt cc gcc"` (and
// AS="previrt as" for its plain `.s` sources, which the Makefile assembles with $(AS) directly)
// must pass test=all on QEMU with the same transcript as the plain build; every record must point at
// an instruction of its kind followed by NOPs up to site_len (as `previrt decode` sees the image);
// and every sensitive instruction `previrt decode --sensitive` finds must have a record, except the
// ones the afterburner reports as skipped (exclusion markers, int3).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEMORY_OPERATION_KINDS, SENSITIVE_CLASSES } from '@previrt/isa';
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

interface DecodedInsn { address: number; length: number; mnemonic: string; operands?: string; class: string | null }

const boot = (dir: string) => bootOnQemu(path.join(dir, 'kernel.elf'), 'test=all', { disk: path.join(plain, 'disk.img'), timeout: 90_000 });
const records = (elf: string) => afterburnRecords(elf, 32, path.join(work, 'afterburn.bin'));

let launcher = '';
let shimAs = '';
beforeAll(() => {
  launcher = path.join(execFileSync(process.execPath, [cli, 'cc', '--print-bin-dir'], { env, encoding: 'utf8' }).trim(), 'previrt');
  shimAs = path.join(execFileSync(process.execPath, [cli, 'cc', '--print-shim-dir'], { env, encoding: 'utf8' }).trim(), 'as');
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${plain}`, '-j2', 'all', 'disk'], { env, stdio: 'pipe' });
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${hooked}`, '-j2', `CC=${launcher} cc gcc`, `AS=${shimAs}`, 'all'],
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
      if (!memoryKind && (insn.class === null || classByName.get(insn.class)!.id !== r.kind)) bad.push(`${where}: ${insn.mnemonic} is ${insn.class}, record kind ${r.kind}`);
      if (insn.length !== r.insnLen) bad.push(`${where}: length ${insn.length}, record ${r.insnLen}`);
      const size = memoryKind?.siteSize ?? SENSITIVE_CLASSES.find((c) => c.id === r.kind)?.siteSize;
      if (size === undefined || r.siteLen !== Math.max(size, r.insnLen)) bad.push(`${where}: site_len ${r.siteLen} for kind ${r.kind}`);
      for (let a = r.address + insn.length; a < r.address + r.siteLen;) {
        const pad = at.get(a);
        const text = pad ? `${pad.mnemonic} ${pad.operands ?? ''}`.trim() : '?';
        if (!pad || !/^(nop|xchg %ax,%ax|lea 0x0\(%esi(,%eiz,1)?\),%esi|mov %esi,%esi|data16|cs nop)/.test(text)) { bad.push(`${where}: '${text}' in the pad`); break; }
        a += pad.length;
      }
    }
    expect(bad).toEqual([]);
  });

  test('every sensitive instruction previrt decode finds has a record, except the ones reported skipped', () => {
    const elf = path.join(hooked, 'kernel.elf');
    const covered = new Set(records(elf).map((r) => r.address));
    const found = JSON.parse(execFileSync(process.execPath, [cli, 'decode', '--sensitive', '--json', '-q', elf], { env, encoding: 'utf8' })) as { sites: DecodedInsn[] };
    const uncovered: Record<string, number> = {};
    for (const s of found.sites) if (!covered.has(s.address)) uncovered[s.class!] = (uncovered[s.class!] ?? 0) + 1;
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
    const differing: string[] = [];
    for (const o of objects) {
      const a = fs.readFileSync(path.join(plain, o));
      const b = fs.readFileSync(path.join(hooked, o));
      if (a.equals(b)) { identical++; continue; }
      const sections = execFileSync('readelf', ['-SW', path.join(hooked, o)], { encoding: 'utf8' });
      if (!/\s\.afterburn\s/.test(sections)) differing.push(o);
    }
    expect(differing).toEqual([]);
    expect(identical).toBeGreaterThan(0);
  });
});

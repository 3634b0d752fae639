// The test kernel built through the afterburner (make CC="previrt cc gcc" AS="previrt as"): every
// sensitive instruction that needs a site, outside the excluded regions (the Multiboot entry, the ring-3 programs) gets
// a record of its class, the excluded objects get none, and the padded kernel prints exactly the same
// test=all transcript on QEMU as the plain build, which shows that no kernel code depends on the
// length or position of a sensitive instruction.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SENSITIVE_CLASSES, kindSiteSize, recordInstructionClass } from '@previrt/isa';
import { afterburnRecords } from './helpers/hook.js';
import { bootOnQemu } from './helpers/qemu.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernelDir = join(root, 'fixtures/kernel');
const previrt = `node ${join(root, 'packages/cli/bin/previrt.js')}`;
let plain: string;
let padded: string;

beforeAll(() => {
  plain = mkdtempSync(join(tmpdir(), 'kernel-plain-'));
  padded = mkdtempSync(join(tmpdir(), 'kernel-padded-'));
  execFileSync('make', ['-C', kernelDir, `BUILD=${plain}`, '-j2', 'all', 'disk'], { stdio: 'pipe' });
  execFileSync('make', ['-C', kernelDir, `BUILD=${padded}`, '-j2', `CC=${previrt} cc gcc`, `AS=${previrt} as`, 'all'],
    { stdio: 'pipe' });
}, 300_000);
afterAll(() => {
  rmSync(plain, { recursive: true, force: true });
  rmSync(padded, { recursive: true, force: true });
});

function sectionNames(file: string): string[] {
  const out = execFileSync('readelf', ['-W', '-S', file], { encoding: 'utf8' });
  return [...out.matchAll(/^\s*\[\s*\d+\]\s+(\S+)/gm)].map((m) => m[1]!);
}

function symbolAddress(elf: string, name: string): number {
  const out = execFileSync('nm', [elf], { encoding: 'utf8' });
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(out);
  if (!m) throw new Error(`${name} not in ${elf}`);
  return parseInt(m[1]!, 16);
}

/** The .afterburn records (format v1, ELF32). */
const records = (elf: string) => afterburnRecords(elf, 32, join(padded, 'afterburn.bin'));

const boot = (build: string, cmdline: string) => bootOnQemu(join(build, 'kernel.elf'), cmdline, { disk: join(plain, 'disk.img') });

test('the excluded objects carry no records, the others do', () => {
  // No loader table (.afterburn, .afterburn.<kind>); their instructions are listed in the unallocated
  // .afterburn_excluded, which only `previrt check` reads.
  const loaderTables = (obj: string) => sectionNames(obj).filter((s) => s === '.afterburn' || s.startsWith('.afterburn.'));
  expect(loaderTables(join(padded, 'boot.o'))).toEqual([]);
  expect(loaderTables(join(padded, 'user.o'))).toEqual([]);
  for (const obj of ['entry.o', 'segtest.o', 'traps.o', 'mm.o', 'apic.o']) {
    expect(sectionNames(join(padded, obj)).some((s) => s.startsWith('.afterburn'))).toBe(true);
  }
});

test('every sensitive instruction that needs a site, outside the excluded regions, has a record of its class and enough room', () => {
  const elf = join(padded, 'kernel.elf');
  const decoded = JSON.parse(execFileSync(process.execPath, [join(root, 'packages/cli/bin/previrt.js'), 'decode',
    '--sensitive', '--json', '--quiet', elf], { encoding: 'utf8', maxBuffer: 1 << 26 })) as
    { sites: { address: number; length: number; class: string; needsSite: boolean }[] };
  const userLo = symbolAddress(elf, '__user_start');
  const userHi = symbolAddress(elf, '__user_end');
  const bootLo = symbolAddress(elf, '_start');
  const bootHi = bootLo + Number(/^\s*\d+: [0-9a-f]+\s+(\d+) FUNC\s+GLOBAL\s+\w+\s+\d+ _start$/m
    .exec(execFileSync('readelf', ['-W', '-s', elf], { encoding: 'utf8' }))![1]);
  const byAddress = new Map(records(elf).map((r) => [r.address, r]));
  const classId = new Map(SENSITIVE_CLASSES.map((c) => [c.name, c]));
  const missing: string[] = [];
  let covered = 0;
  for (const site of decoded.sites) {
    if ((site.address >= userLo && site.address < userHi) || (site.address >= bootLo && site.address < bootHi)) continue;
    const rec = byAddress.get(site.address);
    const cls = classId.get(site.class)!;
    // Traps every hypervisor reflects (int3, int n, into, ud2, sysenter) and forms every back end
    // keeps (rdtsc, push %ds) need no site: a record is optional for them, but must be right when present.
    if (!rec && !site.needsSite) continue;
    expect({ site: site.address, needsSite: site.needsSite }).toEqual({ site: site.address, needsSite: cls.needsSite && site.needsSite });
    // A record of the class, or of an annotated kind on it (irq-restore on popf), with its site size.
    if (!rec || recordInstructionClass(rec.kind)?.id !== cls.id || rec.insnLen !== site.length
      || rec.siteLen < Math.max(kindSiteSize(rec.kind)!, site.length)) {
      missing.push(`${site.address.toString(16)} ${site.class}`);
    } else {
      covered++;
    }
  }
  expect(missing).toEqual([]);
  expect(covered).toBeGreaterThan(300);
  // The annotated memory operations and the annotated IF-only popf (local_irq_restore) are recorded too.
  const annotatedKinds = new Set(records(elf).filter((r) => r.kind >= 0x101).map((r) => r.kind));
  expect([...annotatedKinds].sort()).toEqual([0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x180]);
});

test('the padded kernel prints the same test=all transcript on QEMU as the plain one', () => {
  const a = boot(plain, 'test=all');
  const b = boot(padded, 'test=all');
  expect(a.status).toBe(1);
  expect(b.stdout).toBe(a.stdout);
  expect(b.status).toBe(1);
});

// `previrt check` on the test kernel (fixtures/kernel), built plainly and through the hook
// (CC="previrt cc gcc" alone: the Makefile assembles its plain `.s` sources through $(CC) too): the
// hooked image checks clean with no command-line exclusions, the instructions of its
// PV_NO_AFTERBURN regions listed as excluded through the afterburner's .afterburn_excluded table, with
// no bad record; the plain image reports every sensitive instruction as uncovered — the same
// instructions, kind by kind, that the hooked image covers or leaves out on purpose.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { annotatedInstructionKindByName } from '@previrt/isa';
import { parseElf, toImage, writeElf } from '@previrt/linker';
import { compareWithReadelf } from '../packages/linker/test/readelf.js';
import { hookEnv, stopAfterburnServers } from './helpers/hook.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(repo, 'packages/cli/bin/previrt.js');
const kernelDir = path.join(repo, 'fixtures/kernel');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'previrt-check-kernel-'));
const plain = path.join(work, 'plain');
const hooked = path.join(work, 'hooked');
const env = hookEnv(path.join(work, 'cache'), 20);

/** The functions of the test kernel inside its PV_NO_AFTERBURN_BEGIN/END regions (boot.S, user.c). */
const EXCLUDED = ['_start', 'callgate_call', 'role_*'];
const EXCLUDED_SYMBOL = /^(_start|callgate_call|role_\w+)$/;

interface Report {
  sites: number; covered: number; badRecords: { address: number; problem: string }[];
  uncovered: { address: number; kind: string; symbol: string }[]; records: number;
  excluded: { address: number; kind: string; symbol: string; reason: string }[];
  recordsByKind: Record<string, number>;
}

function check(elf: string, extra: string[] = []): { status: number | null; report: Report } {
  const r = spawnSync(process.execPath, [cli, 'check', elf, '--json', ...extra], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.stderr) throw new Error(r.stderr);
  return { status: r.status, report: JSON.parse(r.stdout) as Report };
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

beforeAll(() => {
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${plain}`, '-j2', 'all'], { env, stdio: 'pipe' });
  execFileSync('make', ['-s', '-C', kernelDir, `BUILD=${hooked}`, '-j2', `CC=${process.execPath} ${cli} cc gcc`, 'all'],
    { env, stdio: 'pipe' });
}, 600_000);

afterAll(() => {
  stopAfterburnServers(path.join(work, 'cache'));
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the ELF library on the test kernel', () => {
  test('parseElf agrees with readelf on the images and every object; write(read(x)) is x', () => {
    const files = [plain, hooked].flatMap((dir) => [path.join(dir, 'kernel.elf'),
      ...fs.readdirSync(dir).filter((f) => f.endsWith('.o')).map((f) => path.join(dir, f))]);
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const bytes = new Uint8Array(fs.readFileSync(file));
      const elf = parseElf(bytes, file);
      try {
        compareWithReadelf(file, elf);
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`);
      }
      expect(Buffer.from(writeElf(toImage(elf))).equals(Buffer.from(bytes))).toBe(true);
    }
  });
});

describe('previrt check on the test kernel', () => {
  test('the hooked kernel checks clean with no exclusion flags, its marked regions listed as excluded', () => {
    const { status, report } = check(path.join(hooked, 'kernel.elf'));
    expect(report.badRecords).toEqual([]);
    expect(report.uncovered).toEqual([]);
    expect(status).toBe(0);
    expect(report.covered).toBe(report.sites);
    expect(report.sites).toBeGreaterThan(300);
    // Annotated memory operations (the kernel's page-table and device accesses) are among them.
    expect(Object.keys(report.recordsByKind)).toEqual(expect.arrayContaining(['pte-set', 'mmio-read', 'mmio-write']));
    // What the table marks is exactly what naming the regions' functions on the command line selects:
    // every instruction of the PV_NO_AFTERBURN regions that needs a site, and nothing else.
    expect(report.excluded.length).toBeGreaterThan(20);
    for (const e of report.excluded) {
      expect({ symbol: e.symbol, reason: e.reason }).toEqual({ symbol: expect.stringMatching(EXCLUDED_SYMBOL), reason: expect.stringMatching(/\.afterburn_excluded/) });
    }
    const bySymbol = check(path.join(hooked, 'kernel.elf'), EXCLUDED.flatMap((s) => ['--exclude-symbol', s])).report;
    expect(bySymbol.excluded.map((e) => e.address)).toEqual(report.excluded.map((e) => e.address));
  });

  test('the excluded table is not loaded: no allocated section, outside every segment, beside the loader table', () => {
    const sections = execFileSync('readelf', ['-SW', path.join(hooked, 'kernel.elf')], { encoding: 'utf8' });
    const row = /\]\s+\.afterburn_excluded\s+PROGBITS\s+(\S+)\s+\S+\s+\S+\s+\S+\s+(\S*)\s/.exec(sections);
    expect(row).not.toBeNull();
    expect({ address: row![1], flags: row![2] }).toEqual({ address: '00000000', flags: expect.stringMatching(/^\d+$/) });
    const segments = execFileSync('readelf', ['-lW', path.join(hooked, 'kernel.elf')], { encoding: 'utf8' });
    expect(segments).not.toContain('.afterburn_excluded');
    expect(segments).toMatch(/\s\.afterburn\s/);
  });

  test('the plain kernel reports every sensitive instruction as uncovered, kind by kind', () => {
    const plainCheck = check(path.join(plain, 'kernel.elf'));
    const hookedCheck = check(path.join(hooked, 'kernel.elf'));
    expect(plainCheck.status).toBe(1);
    expect(plainCheck.report.badRecords).toEqual([]);
    // The plain build has the annotation macros' records only.
    for (const kind of Object.keys(plainCheck.report.recordsByKind)) expect(kind).toMatch(/^(pte|pde|mmio)-/);
    // Per instruction class: an annotated kind (irq-restore) counts as the class it sits on (popf).
    const hookedInstructions: Record<string, number> = {};
    for (const [k, n] of Object.entries(hookedCheck.report.recordsByKind)) {
      if (/^(pte|pde|mmio)-/.test(k)) continue;
      const cls = annotatedInstructionKindByName(k)?.instructionClass ?? k;
      hookedInstructions[cls] = (hookedInstructions[cls] ?? 0) + n;
    }
    for (const [k, n] of Object.entries(countBy(hookedCheck.report.excluded, (e) => e.kind))) hookedInstructions[k] = (hookedInstructions[k] ?? 0) + n;
    // Records of trap classes (int, int3, ud2) are optional: the plain check does not list them.
    const needed = Object.fromEntries(Object.entries(hookedInstructions).filter(([k]) => !['int', 'int3', 'ud2', 'into', 'syscall', 'sysenter'].includes(k)));
    expect(countBy(plainCheck.report.uncovered, (u) => u.kind)).toEqual(needed);
  });
});

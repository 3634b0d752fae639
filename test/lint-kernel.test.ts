// `previrt lint` on the test kernel (fixtures/kernel): its findings equal the hand-checked expectation
// file fixtures/lint/kernel.expected (every unannotated page-table and device access, nothing else);
// after `--fix` it lints clean, builds through the afterburner (make CC="previrt cc gcc"), `previrt check`
// passes with no command-line exclusions (the instructions the kernel excludes on purpose are listed as
// excluded, each in a region the scanner knows too), the two fixed accesses carry records of their
// kinds, and test=all still passes on QEMU.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterburnerOffRegions, defaultConfig, runLint, type LintResult } from '@previrt/scanner';
import { afterburnRecords } from './helpers/hook.js';
import { bootOnQemu } from './helpers/qemu.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernelDir = join(root, 'fixtures/kernel');
const cli = join(root, 'packages/cli/bin/previrt.js');
const previrt = `${process.execPath} ${cli}`;
let work: string;
let build: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lint-kernel-'));
  build = join(work, 'build');
  cpSync(kernelDir, join(work, 'kernel'), { recursive: true, filter: (src) => !src.startsWith(join(kernelDir, 'build')) });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const lintKernel = (level: 'note' | 'warning', fix = false): Promise<LintResult> =>
  runLint({ paths: ['.'], cwd: join(work, 'kernel'), config: defaultConfig(), level, jobs: 1, fix });

function describeFindings(r: LintResult, dir: string): string[] {
  const out: string[] = [];
  for (const f of r.report.files) {
    const lines = readFileSync(join(dir, f.file), 'utf8').split('\n');
    for (const x of f.findings) {
      if (x.suppressed || x.severity === 'note') continue;
      out.push(`${f.file}: ${x.severity}: ${x.rule} ${x.kind}${x.fix ? ' fix' : ''} | ${lines[x.line - 1]!.trim()}`);
    }
  }
  return out;
}

test('the findings equal the hand-checked expectation file', async () => {
  const expected = readFileSync(join(root, 'fixtures/lint/kernel.expected'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const r = await lintKernel('warning');
  expect(describeFindings(r, join(work, 'kernel'))).toEqual(expected);
});

test('the notes are only sensitive inline asm (no hidden encodings, no builtins), the well-known helpers among them', async () => {
  const r = await lintKernel('note');
  const notes = r.report.files.flatMap((f) => f.findings.filter((x) => x.severity === 'note' && !x.suppressed).map((x) => `${f.file} ${x.rule} ${x.kind}`));
  expect(new Set(notes.map((n) => n.split(' ')[1]))).toEqual(new Set(['asm-sensitive']));
  for (const n of ['include/cpu.h asm-sensitive cli', 'include/cpu.h asm-sensitive sti', 'include/cpu.h asm-sensitive mov-to-cr',
    'include/cpu.h asm-sensitive pushf', 'include/io.h asm-sensitive out', 'include/io.h asm-sensitive in', 'include/io.h asm-sensitive ins',
    // Templates of macros defined in headers, at their uses: PROBE_INSN("rdtscp"), write_dr(7, 0), load_seg(gs, ...).
    'src/selftest.c asm-sensitive rdtscp', 'src/selftest.c asm-sensitive mov-to-dr', 'src/selftest.c asm-sensitive mov-to-segment']) {
    expect(notes).toContain(n);
  }
});

test('after --fix the kernel lints clean, builds through the afterburner, checks clean and passes test=all on QEMU', async () => {
  const fixed = await lintKernel('warning', true);
  expect(fixed.report.fixedFiles).toEqual(['include/mmu.h', 'src/apic.c']);
  const mmu = readFileSync(join(work, 'kernel/include/mmu.h'), 'utf8');
  expect(mmu).toContain('\tPV_PTE_SET((volatile pte_t *)ptep, 0);\n');
  expect(readFileSync(join(work, 'kernel/src/apic.c'), 'utf8')).toContain('\tPV_MMIO_WRITE((volatile u32 *)(lapic + LAPIC_EOI), 0);\n');
  const again = spawnSync(process.execPath, [cli, 'lint', '.'], { cwd: join(work, 'kernel'), encoding: 'utf8' });
  expect({ status: again.status, stdout: again.stdout }).toEqual({ status: 0, stdout: '' });

  execFileSync('make', ['-C', join(work, 'kernel'), `BUILD=${build}`, '-j2', `PREVIRT=${previrt}`, `CC=${previrt} cc gcc`,
    'all', 'disk'], { stdio: 'pipe' });
  const elf = join(build, 'kernel.elf');

  // previrt check, with no exclusion flags: nothing uncovered; what the kernel leaves alone on purpose
  // (boot code before paging, the ring-3 programs) is listed as excluded, through the afterburner's
  // .afterburn_excluded table, and lies in a region the scanner sees too (source lines from addr2line).
  const r = spawnSync(process.execPath, [cli, 'check', '--json', elf], { encoding: 'utf8' });
  const check = JSON.parse(r.stdout);
  expect(check.badRecords).toEqual([]);
  expect(check.uncovered).toEqual([]);
  expect(r.status).toBe(0);
  const excluded = check.excluded as { address: number; mnemonic: string }[];
  expect(excluded.length).toBeGreaterThan(20);
  const sources = execFileSync('addr2line', ['-e', elf, ...excluded.map((e) => e.address.toString(16))], { encoding: 'utf8' }).trim().split('\n');
  for (const source of sources) {
    const [file, line] = source.replace(`${join(work, 'kernel')}/`, '').split(':');
    const regions = afterburnerOffRegions(readFileSync(join(work, 'kernel', file!), 'utf8'));
    expect({ site: source, excluded: regions.some((x) => Number(line) >= x.startLine && Number(line) <= x.endLine) })
      .toEqual({ site: source, excluded: true });
  }
  // The two fixed accesses are sites now: a pte-set record in unmap_page, an mmio-write record in the timer handler.
  const syms = execFileSync('nm', ['-S', elf], { encoding: 'utf8' });
  const range = (name: string) => {
    const m = new RegExp(`^([0-9a-f]+) ([0-9a-f]+) [tT] ${name}$`, 'm').exec(syms)!;
    return [parseInt(m[1]!, 16), parseInt(m[1]!, 16) + parseInt(m[2]!, 16)] as const;
  };
  const recs = afterburnRecords(elf, 32, join(work, 'afterburn.bin'));
  const within = (name: string, kind: number) => {
    const [a, b] = range(name);
    return recs.filter((r) => r.kind === kind && r.address >= a && r.address < b).length;
  };
  expect(within('unmap_page', 0x101)).toBe(1);
  expect(within('lapic_timer_interrupt', 0x107)).toBe(1);

  const run = bootOnQemu(elf, 'test=all', { disk: join(build, 'disk.img'), timeout: 120_000 });
  expect(run.stdout).toMatch(/^selftest: \d+ passed, 0 failed$/m);
  expect(run.stdout).not.toMatch(/^FAIL /m);
  expect(run.status).toBe(1); // isa-debug-exit: (0 << 1) | 1
}, 300_000);

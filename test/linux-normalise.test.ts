// The normalisations of the Linux e2e (scripts/linux/normalise.mjs) hide only what they name: the
// clock lines as QEMU and previrt's hvm back end printed them for the pre-virtualized Linux 6.1
// (scripts/linux-e2e.sh), once through boot-compare's patterns and once through the masks that
// `previrt verify` applies (new RegExp(mask, 'g'), as packages/cli/src/commands/verify.ts does).
// @ts-expect-error a plain ES module of the scripts, without types
import { NORMALISE, prepare } from '../scripts/linux/normalise.mjs';

const qemu = [
  'Linux version 6.1.0 (previrt@e2e) #1 Mon Jan  1 00:00:00 UTC 2024',
  'tsc: Fast TSC calibration using PIT',
  'tsc: Detected 1000.044 MHz processor',
  'clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0xe6a40a5fb8, max_idle_ns: 440795232978 ns',
  'Calibrating delay loop (skipped), value calculated using timer frequency.. 2000.08 BogoMIPS (lpj=4000176)',
  'x87 FPU will use FXSAVE',
  'sched_clock: Marking stable (251170815, 312237)->(252542244, -1059192)',
  'previrt-e2e: init reached user space',
  'reboot: machine restart',
  'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
].join('\n');
const hvm = qemu
  .replace('1000.044 MHz', '999.965 MHz')
  .replace('0xe6a40a5fb8, max_idle_ns: 440795232978', '0x1cd3ebf4f53, max_idle_ns: 881590451058')
  .replace('2000.08 BogoMIPS (lpj=4000176)', '1999.93 BogoMIPS (lpj=3999860)')
  .replace('(251170815, 312237)->(252542244, -1059192)', '(245873489, 865279)->(247914110, -1175342)')
  .replace('SeaBIOS (version 1.16.2-debian-1.16.2-1)', '');

type Entry = { pattern: RegExp; mask: string; machines?: string[] };
const entries = NORMALISE as Entry[];
const masked = (t: string) => entries.reduce((acc, n) => acc.replace(new RegExp(n.mask, 'g'), '<masked>'), t);
const withoutRestartTail = (t: string) => t.slice(0, t.indexOf('reboot: machine restart') + 'reboot: machine restart'.length);

test("the clock lines are equal after normalisation on previrt's machines; the every-machine one alone leaves the TSC calibration", () => {
  for (const m of ['native', 'hvm', 'xen', 'l4']) expect(prepare(qemu, m)).toBe(prepare(hvm, m));
  // zero-cost-compare.mjs compares under the normalisations of every machine alone (machine ''):
  // there the TSC calibration lines still differ, so they must come out equal with costs 0.
  const every = prepare(hvm, '').split('\n');
  expect(prepare(qemu, '').split('\n').filter((l: string, i: number) => l !== every[i]))
    .toEqual(['tsc: Detected 1000.044 MHz processor',
      'clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0xe6a40a5fb8, max_idle_ns: 440795232978 ns',
      'Calibrating delay loop (skipped), value calculated using timer frequency.. 2000.08 BogoMIPS (lpj=4000176)']);
  expect(prepare(qemu, 'hvm')).not.toContain('SeaBIOS');
});

test('a real difference is never normalised, by the patterns or by the masks', () => {
  const fsave = hvm.replace('x87 FPU will use FXSAVE', 'x87 FPU will use FSAVE');
  for (const m of ['native', 'hvm', 'xen', 'l4']) expect(prepare(qemu, m)).not.toBe(prepare(fsave, m));
  expect(masked(withoutRestartTail(qemu))).not.toBe(masked(withoutRestartTail(fsave)));
  const tsc = hvm.replace('Fast TSC calibration using PIT', 'Fast TSC calibration failed');
  expect(prepare(qemu, 'hvm')).not.toBe(prepare(tsc, 'hvm'));
});

test("verify's masks cover the same lines as the patterns, and nothing else", () => {
  expect(masked(withoutRestartTail(qemu))).toBe(masked(withoutRestartTail(hvm)));
  for (const n of entries) {
    const byPattern = qemu.split('\n').filter((l) => l.replace(new RegExp(n.pattern.source, 'm'), '') !== l);
    const byMask = qemu.split('\n').filter((l) => l.replace(new RegExp(n.mask, 'g'), '') !== l);
    expect(byMask).toEqual(byPattern);
    expect(byPattern.length).toBeGreaterThan(0);
  }
});

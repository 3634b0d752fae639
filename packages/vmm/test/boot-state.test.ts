// What a Multiboot kernel finds at entry (registers, boot information, memory map, GDT, MP tables,
// BIOS data area, CMOS, interrupt controllers, UART, i8042): the probe kernel of fixtures/vmm/probe
// prints it on QEMU and on the simulated PC, and the two must agree except where this machine
// differs by design (listed below with the reason).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine, DEFAULT_RTC_BASE } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
let build: string;
beforeAll(() => {
  build = mkdtempSync(join(tmpdir(), 'probe-'));
  execFileSync('make', ['-C', join(root, 'fixtures/vmm/probe'), `BUILD=${build}`], { stdio: 'pipe' });
});
afterAll(() => rmSync(build, { recursive: true, force: true }));

/** Lines (by key) that differ on purpose. */
const BY_DESIGN: Record<string, string> = {
  edx: 'scratch value left by QEMU\'s option ROM',
  edi: 'scratch value left by QEMU\'s option ROM',
  'pic1-irr': 'a UART interrupt request SeaBIOS left pending',
  'crtc-e': 'cursor after the SeaBIOS banner (no BIOS runs here)',
  'crtc-f': 'cursor after the SeaBIOS banner',
  vga: 'text memory holds the SeaBIOS banner on QEMU',
  low: 'real-mode interrupt vectors of SeaBIOS',
};

function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let key = '';
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9-]+)[=: ]/.exec(line);
    if (m && !/^[0-9a-f]{8}:/.test(line)) {
      key = m[1] === 'cpuid' ? 'cpuid' : m[1];
      out.set(key, (out.get(key) ?? '') + line + '\n');
    } else if (key) out.set(key, (out.get(key) ?? '') + line + '\n');
  }
  return out;
}

test('the boot state matches QEMU\'s (Multiboot info, memory map, GDT, MP tables, BDA, CMOS, APICs, UART, i8042)', () => {
  const kernel = join(build, 'probe.elf');
  const base = new Date(DEFAULT_RTC_BASE * 1000).toISOString().slice(0, 19);
  const q = spawnSync('qemu-system-i386', ['-kernel', kernel, '-append', 'hello world', '-serial', 'stdio', '-display', 'none', '-no-reboot',
    // QEMU's RTC follows its instruction-counting clock (1 ns per instruction, as here), not the host's.
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-icount', 'shift=0,sleep=off', '-rtc', `base=${base},clock=vm`],
  { encoding: 'latin1', timeout: 60_000 });
  const out: number[] = [];
  const m = new Machine({ kernel: readFileSync(kernel), kernelName: kernel, append: 'hello world', serialOut: (b) => out.push(b) });
  const r = m.run(50_000_000);
  expect(r.exitCode).toBe(q.status);
  const a = sections(q.stdout);
  const b = sections(Buffer.from(out).toString('latin1'));
  expect([...b.keys()]).toEqual([...a.keys()]);
  expect(a.get('mpcfg')).toBeDefined();
  for (const [key, text] of a) {
    if (key in BY_DESIGN) continue;
    expect(`${key}: ${b.get(key)}`).toBe(`${key}: ${text}`);
  }
});

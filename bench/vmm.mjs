#!/usr/bin/env node
// The same guest workload on the simulated PC (previrt), qemu-system-i386 (TCG) and v86, in one run:
// guest instructions per second and wall-time ratios.
//   node bench/vmm.mjs [--scale N] [--repeat N]
// The workload is fixtures/vmm/bench (built here with make): a mixed integer kernel (sieve, CRC,
// quicksort, recursion, string instructions, int $0x80 system calls, pushf/cli/popf, page walks with
// paging on) that runs with interrupts off, so every machine executes the same instructions. The
// instruction count comes from previrt's exact counter (v86's own counter is shown beside it); each
// machine is also timed with scale=0 (boot and exit only) and that start-up time is subtracted.
// Wall and CPU seconds are both shown: on a shared machine wall time includes waiting for a core.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../packages/vmm/dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const scale = arg('scale', 4);
const repeat = arg('repeat', 3);
execFileSync('make', ['-s', '-C', join(root, 'fixtures/vmm/bench')], { stdio: 'inherit' });
const kernelPath = join(root, 'fixtures/vmm/bench/build/bench.elf');
const kernel = readFileSync(kernelPath);

const cpuSince = (u) => { const d = process.cpuUsage(u); return (d.user + d.system) / 1e6; };

function previrt(s) {
  const out = [];
  const u0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const m = new Machine({ kernel, kernelName: kernelPath, append: `scale=${s}`, serialOut: (b) => out.push(b) });
  const r = m.run(1e12);
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.reason !== 'exit') throw new Error(`previrt: ${r.message}`);
  return { sec, cpu: cpuSince(u0), instructions: m.cpu.icount, serial: Buffer.from(out).toString('latin1') };
}

function qemu(s) {
  // bash's time reports QEMU's own CPU seconds (user + system) on stderr.
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time qemu-system-i386 -kernel ${kernelPath} -append scale=${s} -serial stdio ` +
    '-display none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04'], { encoding: 'latin1' });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const [user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { sec, cpu: user + sys, serial: r.stdout };
}

async function v86(s) {
  const { V86 } = await import('v86');
  const wasm = join(root, 'node_modules/v86/build/v86.wasm');
  const u0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let serial = '';
  const emu = new V86({
    wasm_path: wasm, memory_size: 128 << 20, autostart: true, disable_speaker: true, cmdline: `scale=${s} noexit`,
    multiboot: { buffer: kernel.buffer.slice(kernel.byteOffset, kernel.byteOffset + kernel.byteLength) },
  });
  await new Promise((resolve) => {
    emu.add_listener('serial0-output-byte', (b) => { serial += String.fromCharCode(b); if (serial.endsWith('done\n')) resolve(); });
  });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const instructions = emu.get_instruction_counter();
  const cpu = cpuSince(u0);
  await emu.stop();
  return { sec, cpu, serial, instructions };
}

const best = async (f) => { let r = null; for (let i = 0; i < repeat; i++) { const x = await f(); if (!r || x.sec < r.sec) r = x; } return r; };
const results = [];
for (const [name, f] of [['previrt', previrt], ['qemu-system-i386 (TCG)', qemu], ['v86', v86]]) {
  const base = await best(() => f(0));
  const full = await best(() => f(scale));
  results.push({ name, base, full });
}
const ref = results[0];
const work = ref.full.instructions - ref.base.instructions;
for (const r of results.slice(1)) {
  const same = r.full.serial.replace(/\r/g, '').includes(ref.full.serial.split('\n').slice(1).join('\n'));
  if (!same) console.log(`warning: ${r.name} printed different results:\n${r.full.serial}`);
}
console.log(`workload: fixtures/vmm/bench scale=${scale}: ${(work / 1e6).toFixed(1)} million guest instructions (best of ${repeat})`);
console.log('machine                   wall s  start s  work s  guest MIPS | cpu s  start  work  guest MIPS | wall, cpu vs previrt');
for (const r of results) {
  const workSec = Math.max(1e-9, r.full.sec - r.base.sec);
  const workCpu = Math.max(1e-9, r.full.cpu - r.base.cpu);
  const refWork = Math.max(1e-9, ref.full.sec - ref.base.sec);
  const refCpu = Math.max(1e-9, ref.full.cpu - ref.base.cpu);
  console.log(`${r.name.padEnd(24)} ${r.full.sec.toFixed(2).padStart(6)} ${r.base.sec.toFixed(2).padStart(8)} ${workSec.toFixed(2).padStart(7)} ` +
    `${(work / workSec / 1e6).toFixed(1).padStart(11)} | ${r.full.cpu.toFixed(2).padStart(5)} ${r.base.cpu.toFixed(2).padStart(6)} ${workCpu.toFixed(2).padStart(5)} ` +
    `${(work / workCpu / 1e6).toFixed(1).padStart(11)} | ${(workSec / refWork).toFixed(2)}x, ${(workCpu / refCpu).toFixed(2)}x`);
}
const v = results[2];
if (v.full.instructions) console.log(`v86's own instruction counter: ${((v.full.instructions - v.base.instructions) / 1e6).toFixed(1)} million for the workload`);

#!/usr/bin/env node
// Boots one Linux bzImage on QEMU and on previrt's machine (one run per back end) and compares the
// serial console transcripts up to the init's line and the restart that follows it.
//
// QEMU runs on its instruction-counting clock (-icount shift=0,sleep=off: 1 ns per instruction, the
// rate of previrt's virtual clock) with the RTC on that clock, so that TSC and PIT calibration, the
// delay loop and the timer checks see the same time on both machines. What still differs is named and
// normalised, each with its reason (normalise.mjs); nothing else is.
//
// Usage: boot-compare.mjs <bzImage> [--append <cmdline>] [--hypervisor native[,hvm,xen,l4]]
//                         [--memory MB] [--out <dir>] [--json]
//        boot-compare.mjs --print-masks   (the same normalisations as `previrt verify --mask` expressions)
//   --out: writes qemu.txt and previrt-<back end>.txt (raw transcripts) there.
// Exit status: 0 when every transcript equals QEMU's after normalisation (back ends that `previrt run`
// does not offer are listed as not available), 1 otherwise, 2 on bad usage.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NORMALISE, prepare } from './normalise.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const previrt = path.join(repo, 'packages/cli/bin/previrt.js');

const args = process.argv.slice(2);
const opt = { append: 'console=ttyS0 printk.time=0', hypervisor: 'native', memory: '128', out: '', json: false };
let kernel = '';
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--json') opt.json = true;
  else if (a === '--print-masks') opt['print-masks'] = true;
  else if (a === '--append' || a === '--hypervisor' || a === '--memory' || a === '--out') {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    opt[a.slice(2)] = args[++i];
  } else if (a === '-h' || a === '--help') usage('');
  else if (!kernel && !a.startsWith('-')) kernel = a;
  else usage(`unknown argument ${a}`);
}
if (!kernel && !opt['print-masks']) usage('no bzImage given');
if (kernel && !fs.existsSync(kernel)) { console.error(`boot-compare: ${kernel}: no such file`); process.exit(2); }

function usage(msg) {
  if (msg) console.error(`boot-compare: ${msg}`);
  console.error('usage: boot-compare.mjs <bzImage> [--append <cmdline>] [--hypervisor native[,hvm,xen,l4]] [--memory MB] [--out <dir>] [--json]');
  process.exit(msg ? 2 : 0);
}

function qemu() {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('qemu-system-i386', ['-kernel', kernel, '-append', opt.append, '-m', opt.memory, '-no-reboot',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
    '-icount', 'shift=0,sleep=off', '-rtc', 'base=2024-01-01T00:00:00,clock=vm'],
  { encoding: 'latin1', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw new Error(`qemu-system-i386: ${r.error.message}`);
  return { transcript: r.stdout, exit: r.status, wall };
}

function ours(hypervisor) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [previrt, 'run', kernel, '--append', opt.append, '--memory', opt.memory,
    '--hypervisor', hypervisor, '--json'], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status === 2) return { unavailable: (r.stderr || r.stdout).trim().split('\n')[0], wall };
  let j;
  try { j = JSON.parse(r.stdout); } catch { return { unavailable: `no JSON from previrt run (exit ${r.status}): ${r.stderr.trim().split('\n')[0]}`, wall }; }
  return { transcript: j.serial, exit: j.exitCode, reason: j.reason, message: j.message, instructions: j.instructions, runSeconds: j.wallSeconds, counters: j.counters, wall };
}

function firstDifference(a, b) {
  const la = a.split('\n'), lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return { line: i + 1, qemu: la[i] ?? '<end>', previrt: lb[i] ?? '<end>' };
  }
  return null;
}

if (opt['print-masks']) {
  // For `previrt verify --mask`: one regular expression per line (verify masks on every machine).
  for (const n of NORMALISE) console.log(n.mask);
  process.exit(0);
}
const q = qemu();
const reference = prepare(q.transcript, 'native');
const reachedInit = reference.includes('previrt-e2e: init reached user space\n');
const rows = [];
if (opt.out) {
  fs.mkdirSync(opt.out, { recursive: true });
  fs.writeFileSync(path.join(opt.out, 'qemu.txt'), q.transcript.replace(/\r/g, ''));
}
for (const hv of opt.hypervisor.split(',').filter(Boolean)) {
  const r = ours(hv);
  if (r.unavailable) { rows.push({ hypervisor: hv, available: false, why: r.unavailable }); continue; }
  if (opt.out) fs.writeFileSync(path.join(opt.out, `previrt-${hv}.txt`), r.transcript.replace(/\r/g, ''));
  const diff = firstDifference(prepare(q.transcript, hv), prepare(r.transcript, hv));
  rows.push({ hypervisor: hv, available: true, identical: diff === null, difference: diff, exitCode: r.exit, reason: r.reason,
    instructions: r.instructions, runSeconds: r.runSeconds, wallSeconds: r.wall, counters: r.counters });
}
// A back end `previrt run` does not offer yet is reported, not counted as a difference.
const ok = reachedInit && rows.some((r) => r.available) && rows.every((r) => !r.available || r.identical);
if (opt.json) {
  console.log(JSON.stringify({ kernel, append: opt.append, qemu: { exitCode: q.exit, wallSeconds: q.wall, reachedInit, lines: reference.split('\n').length - 1 },
    normalised: NORMALISE.map((n) => ({ pattern: String(n.pattern), machines: n.machines ?? 'all', reason: n.reason })), machines: rows, identical: ok }, null, 2));
} else {
  console.log(`QEMU (-icount shift=0): ${reference.split('\n').length - 1} lines up to the restart, init ${reachedInit ? 'reached' : 'NOT reached'}, ${q.wall.toFixed(1)} s wall`);
  for (const n of NORMALISE) console.log(`normalised${n.machines ? ` on ${n.machines.join(', ')}` : ''}: ${String(n.pattern)}\n  because: ${n.reason}`);
  for (const r of rows) {
    if (!r.available) { console.log(`${r.hypervisor}: not available (${r.why})`); continue; }
    const what = r.identical ? 'identical to QEMU' : `DIFFERS at line ${r.difference.line}:\n  qemu:    ${r.difference.qemu}\n  previrt: ${r.difference.previrt}`;
    console.log(`${r.hypervisor}: ${what}; ${r.reason} (exit ${r.exitCode}), ${r.instructions} instructions, ${r.runSeconds.toFixed(2)} s run, ${r.wallSeconds.toFixed(2)} s wall with start-up`);
  }
  const missing = rows.filter((r) => !r.available).map((r) => r.hypervisor);
  console.log(`transcripts identical: ${ok ? 'yes' : 'no'}${missing.length ? ` (not available: ${missing.join(', ')})` : ''}`);
}
process.exitCode = ok ? 0 : 1;

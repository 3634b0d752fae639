#!/usr/bin/env node
// Checks that a normalisation applied only on previrt's machines (normalise.mjs: entries with `machines`) hides
// nothing but the back ends' modeled cost: boots a Linux bzImage on the given back ends with every
// cost that takes virtual time set to 0 (VM exits, hypercalls, IPCs, traps, events, in-place
// operations, port accesses' bus time; the instruction, NOP-pad and per-class instruction costs stay,
// since they change only the modeled cycles, never a clock) and compares each transcript with QEMU's under the
// normalisations that apply to every machine alone. It runs the machine through @previrt/vmm's
// createVirtualMachine, as `previrt run` does, because the cost table is not a command-line option.
//
// Usage: zero-cost-compare.mjs <bzImage> --reference <QEMU transcript> [--hypervisor native,hvm,xen,l4]
//                              [--append <cmdline>] [--memory MB]
//   --reference: QEMU's raw serial transcript of the same kernel and command line
//   (boot-compare.mjs --out <dir> writes it as <dir>/qemu.txt).
// Exit status: 0 when every transcript equals QEMU's, 1 otherwise, 2 on bad usage.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NORMALISE, prepare } from './normalise.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { createVirtualMachine, DEFAULT_COSTS } = await import(pathToFileURL(path.join(repo, 'packages/vmm/dist/index.js')).href);

const args = process.argv.slice(2);
const opt = { append: 'console=ttyS0 printk.time=0', hypervisor: 'native,hvm,xen,l4', memory: '128', reference: '' };
let kernel = '';
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (['--append', '--hypervisor', '--memory', '--reference'].includes(a)) {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    opt[a.slice(2)] = args[++i];
  } else if (a === '-h' || a === '--help') usage('');
  else if (!kernel && !a.startsWith('-')) kernel = a;
  else usage(`unknown argument ${a}`);
}
if (!kernel) usage('no bzImage given');
if (!opt.reference) usage('no --reference transcript given');
for (const f of [kernel, opt.reference]) if (!fs.existsSync(f)) { console.error(`zero-cost-compare: ${f}: no such file`); process.exit(2); }

function usage(msg) {
  if (msg) console.error(`zero-cost-compare: ${msg}`);
  console.error('usage: zero-cost-compare.mjs <bzImage> --reference <QEMU transcript> [--hypervisor native,hvm,xen,l4] [--append <cmdline>] [--memory MB]');
  process.exit(msg ? 2 : 0);
}

const zero = (v) => (typeof v === 'number' ? 0 : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zero(x)])) : v);
const costs = {
  ...zero(DEFAULT_COSTS), instruction: DEFAULT_COSTS.instruction, padNop: DEFAULT_COSTS.padNop, instructionCost: DEFAULT_COSTS.instructionCost,
  portAccess: DEFAULT_COSTS.instruction, // a port access at one instruction: no bus time
};

const everyMachine = NORMALISE.filter((n) => !n.machines);
// The normalisations of every machine only: pass a name no entry with `machines` lists.
const reference = prepare(fs.readFileSync(opt.reference, 'latin1'), '');
if (!reference.includes('previrt-e2e: init reached user space\n')) { console.error(`zero-cost-compare: ${opt.reference}: the init's line is not in it`); process.exit(2); }
console.log(`normalised (every machine): ${everyMachine.map((n) => String(n.pattern)).join(' ')}; charged costs 0`);
let ok = true;
for (const hv of opt.hypervisor.split(',').filter(Boolean)) {
  const out = [];
  const t0 = process.hrtime.bigint();
  const vm = createVirtualMachine({ memoryMB: Number(opt.memory), kernel: fs.readFileSync(kernel), kernelName: path.basename(kernel),
    append: opt.append, serialOut: (b) => out.push(b), hypervisor: hv, costs });
  const r = vm.run(2_000_000_000);
  vm.finish();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const text = prepare(Buffer.from(out).toString('latin1'), '');
  const la = reference.split('\n'), lb = text.split('\n');
  let diff = null;
  for (let i = 0; i < Math.max(la.length, lb.length) && !diff; i++) if (la[i] !== lb[i]) diff = { line: i + 1, qemu: la[i] ?? '<end>', previrt: lb[i] ?? '<end>' };
  if (diff) ok = false;
  console.log(`${hv}: ${diff ? `DIFFERS at line ${diff.line}:\n  qemu:    ${diff.qemu}\n  previrt: ${diff.previrt}` : 'identical to QEMU'}; `
    + `${r.reason} (exit ${r.exitCode}), ${vm.machine.cpu.icount} instructions, ${vm.machine.cpu.chargedCycles} cycles charged to the clocks, ${wall.toFixed(2)} s`);
}
console.log(`transcripts identical with costs 0: ${ok ? 'yes' : 'no'}`);
process.exitCode = ok ? 0 : 1;

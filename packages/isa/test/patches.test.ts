// The patch table: every record kind has a patch on every back end, every kind's site size holds its
// longest patch, and the bytes written over a site are what GNU as and ld produce for the same code.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ANNOTATED_INSTRUCTION_KINDS, BACKEND_NAMES, CALL_STUB, IRET_INLINE, KEEP, MEMORY_OPERATION_KINDS, IRQ_RESTORE_INLINE, POPF_INLINE, PUSHF_INLINE, SENSITIVE_CLASSES,
  SYSEXIT_IRET, VIF_CLEAR, VIF_SET, decode, encodeCallWrapped, encodePatch, longestPatch, patchFor, patchLayout,
  patchTableKinds, sensitiveClassByName, type PatchTargets,
} from '@previrt/isa';
import { assemble, withTempDir } from './support/gnu';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const allKinds = [...SENSITIVE_CLASSES.map((c) => ({ id: c.id, name: c.name, siteSize: c.siteSize })),
  ...MEMORY_OPERATION_KINDS.map((k) => ({ id: k.id, name: k.name, siteSize: k.siteSize })),
  ...ANNOTATED_INSTRUCTION_KINDS.map((k) => ({ id: k.id, name: k.name, siteSize: k.siteSize }))];

/** Links `source` (32-bit) with .text at `base` and returns the raw bytes. */
function link(source: string, base: number): Uint8Array {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'a.s'), `.text\n.globl _start\n_start:\n${source}\n`);
    execFileSync('as', ['--32', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('ld', ['-m', 'elf_i386', `-Ttext=0x${base.toString(16)}`, '-o', join(dir, 'a.elf'), join(dir, 'a.o')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.elf'), join(dir, 'a.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  });
}

test('every record kind has a patch on every back end, and native keeps every site', () => {
  expect(patchTableKinds().sort((a, b) => a - b)).toEqual(allKinds.map((k) => k.id).sort((a, b) => a - b));
  for (const k of allKinds) {
    for (const b of BACKEND_NAMES) expect(['keep', 'inline', 'call']).toContain(patchFor(k.id, b).form);
    expect(patchFor(k.id, 'native')).toBe(KEEP);
  }
});

test("every kind's site size holds its longest patch", () => {
  for (const k of allKinds) expect({ kind: k.name, fits: k.siteSize >= longestPatch(k.id) }).toEqual({ kind: k.name, fits: true });
  // The longest patches: the inline interrupt-flag sequences and the 5-byte call.
  const id = (n: string) => sensitiveClassByName(n)!.id;
  expect(['cli', 'sti', 'pushf', 'popf', 'iret', 'hlt'].map((n) => longestPatch(id(n)))).toEqual([7, 7, 7, 7, 7, 5]);
  // hvm rewrites only what exits: the interrupt-flag classes run in the guest under VT-x.
  expect(patchFor(id('cli'), 'hvm')).toBe(KEEP);
  expect(patchFor(id('popf'), 'hvm')).toBe(KEEP);
  expect(patchFor(id('out'), 'hvm')).toBe(CALL_STUB);
  // Below ring 0 the interrupt-flag classes are inline where the site holds the sequence.
  const at = (bytes: number[]) => decode(Uint8Array.from(bytes), 0, 32);
  expect(patchFor(id('popf'), 'xen', at([0x9d]), { siteLen: 7 })).toBe(POPF_INLINE);
  expect(patchFor(id('popf'), 'xen', at([0x9d]), { siteLen: 19 })).toBe(POPF_INLINE); // a site of an older build
  expect(patchFor(id('popf'), 'l4', at([0x9d]), { siteLen: 6 })).toBe(CALL_STUB); // too short for the sequence
  expect(patchFor(id('popf'), 'xen', at([0x66, 0x9d]), { siteLen: 8 })).toBe(CALL_STUB); // popfw
  expect(patchFor(id('iret'), 'xen', at([0xcf]), { siteLen: 7 })).toBe(IRET_INLINE);
  expect(patchFor(id('iret'), 'l4', at([0xcf]), { siteLen: 7 })).toBe(CALL_STUB); // a return to user is an IPC
  expect(patchFor(id('sti'), 'l4', at([0xfb]), { siteLen: 7 })).toBe(VIF_SET);
  expect(patchFor(id('pushf'), 'xen', at([0x9c]), { siteLen: 7 })).toBe(PUSHF_INLINE);
  // An annotated IF-only popf: a call through its hook below ring 0, the popf itself on native and hvm.
  const irqRestore = ANNOTATED_INSTRUCTION_KINDS.find((k) => k.name === 'irq-restore')!.id;
  expect(longestPatch(irqRestore)).toBe(7);
  for (const b of ['xen', 'l4'] as const) expect(patchFor(irqRestore, b, at([0x9d]), { siteLen: 7 })).toBe(IRQ_RESTORE_INLINE);
  expect(patchFor(irqRestore, 'hvm', at([0x9d]), { siteLen: 7 })).toBe(KEEP);
  expect(patchFor(id('sysexit'), 'xen')).toBe(SYSEXIT_IRET);
  // hvm: what exits anyway is kept; with shadow paging CR3 reads and page-table writes go through the monitor.
  expect(patchFor(id('wrmsr'), 'hvm')).toBe(KEEP);
  expect(patchFor(id('mov-from-cr'), 'hvm', at([0x0f, 0x20, 0xd8]))).toBe(KEEP);
  expect(patchFor(id('mov-from-cr'), 'hvm', at([0x0f, 0x20, 0xd8]), { paging: 'shadow' })).toBe(CALL_STUB);
  expect(patchFor(id('mov-from-cr'), 'hvm', at([0x0f, 0x20, 0xc0]), { paging: 'shadow' })).toBe(KEEP);
});

test('traps every hypervisor reflects keep their instruction everywhere', () => {
  for (const name of ['int', 'int3', 'into', 'ud2', 'sysenter', 'syscall']) {
    for (const b of BACKEND_NAMES) expect(patchFor(sensitiveClassByName(name)!.id, b)).toBe(KEEP);
  }
});

test('segment classes are patched below ring 0 only for the registers that carry the CPL', () => {
  const id = (n: string) => sensitiveClassByName(n)!.id;
  const at = (bytes: number[]) => decode(Uint8Array.from(bytes), 0, 32);
  // push %cs / push %ss / push %ds / push %fs
  expect(patchFor(id('push-segment'), 'xen', at([0x0e]))).toBe(CALL_STUB);
  expect(patchFor(id('push-segment'), 'l4', at([0x16]))).toBe(CALL_STUB);
  expect(patchFor(id('push-segment'), 'xen', at([0x1e]))).toBe(KEEP);
  expect(patchFor(id('push-segment'), 'xen', at([0x0f, 0xa0]))).toBe(KEEP);
  // mov %cs,%eax (8c c8) / mov %ds,%eax (8c d8); mov %eax,%ss (8e d0) / mov %eax,%ds (8e d8)
  expect(patchFor(id('mov-from-segment'), 'xen', at([0x8c, 0xc8]))).toBe(CALL_STUB);
  expect(patchFor(id('mov-from-segment'), 'xen', at([0x8c, 0xd8]))).toBe(KEEP);
  expect(patchFor(id('mov-to-segment'), 'xen', at([0x8e, 0xd0]))).toBe(CALL_STUB);
  expect(patchFor(id('mov-to-segment'), 'l4', at([0x8e, 0xd8]))).toBe(KEEP);
  // lss (0f b2) vs lfs (0f b4); pop %ss (17) vs pop %ds (1f)
  expect(patchFor(id('load-far-pointer'), 'xen', at([0x0f, 0xb2, 0x03]))).toBe(CALL_STUB);
  expect(patchFor(id('load-far-pointer'), 'xen', at([0x0f, 0xb4, 0x03]))).toBe(KEEP);
  expect(patchFor(id('pop-segment'), 'l4', at([0x17]))).toBe(CALL_STUB);
  expect(patchFor(id('pop-segment'), 'l4', at([0x1f]))).toBe(KEEP);
  // On hvm segment instructions never exit.
  expect(patchFor(id('push-segment'), 'hvm', at([0x0e]))).toBe(KEEP);
});

/** The bytes from `from` on decode as NOP instructions that end exactly at the end. */
function expectNops(bytes: Uint8Array, from: number): void {
  let at = from;
  while (at < bytes.length) {
    const insn = decode(bytes, at, 32);
    expect(insn.mnemonic).toMatch(/^(nop[wl]?|xchg)$/);
    at += insn.length;
  }
  expect(at).toBe(bytes.length);
}

describe('encodePatch', () => {
  const targets: PatchTargets = {
    vifByte: 0xff800004, flagsHook: 0xff800004, stiHook: 0xff800020, popfHook: 0xff800030, returnHook: 0xff800024,
    irqRestoreHook: 0xff800038, stubFor: (kind) => 0xff801000 + 16 * kind, plainStub: () => 0xff801540,
  };

  test('the inline interrupt-flag sequences are what GNU as assembles from their templates', () => {
    const cases: [typeof VIF_SET, string, number[], string][] = [

      [PUSHF_INLINE, 'pushf', [0x9c], 'pushfl; call *0xff800004'],
      [POPF_INLINE, 'popf', [0x9d], 'call *0xff800030; popfl'],
      [IRET_INLINE, 'iret', [0xcf], 'call *0xff800024; iretl'],
    ];
    const irqRestore = ANNOTATED_INSTRUCTION_KINDS.find((k) => k.name === 'irq-restore')!;
    for (const [spec, name, original, source] of cases) {
      const kind = name === 'irq-restore' ? irqRestore.id : sensitiveClassByName(name)!.id;
      const ref = assemble(source, 32);
      const bytes = encodePatch(spec, kind, 0x100000, longestPatch(kind), targets, Uint8Array.from(original));
      expect({ name, bytes: hex(bytes) }).toEqual({ name, bytes: hex(ref) });
      // The hook's return address is where the monitor finds the site from.
      const { hookCallEnd } = patchLayout(spec, { length: 1 });
      const call = decode(bytes, hookCallEnd - 6, 32);
      expect(`${call.mnemonic} ${call.length}`).toMatch(/^call[l]? 6$/);
      const padded = encodePatch(spec, kind, 0x100000, ref.length + 5, targets, Uint8Array.from(original));
      expectNops(padded, ref.length);
    }
  });

  test('sti and irq-restore call through their hooks in the 7-byte SIB form, as objdump reads it', () => {
    // GNU as always picks the 6-byte form of `call *abs32`: objdump is the reference here.
    const irqRestore = ANNOTATED_INSTRUCTION_KINDS.find((k) => k.name === 'irq-restore')!.id;
    for (const [spec, kind, word] of [[VIF_SET, sensitiveClassByName('sti')!.id, 0xff800020], [IRQ_RESTORE_INLINE, irqRestore, 0xff800038]] as const) {
      const bytes = encodePatch(spec, kind, 0x100000, 7, targets, Uint8Array.of(spec === VIF_SET ? 0xfb : 0x9d));
      const text = withTempDir((dir) => {
        writeFileSync(join(dir, 'p.bin'), bytes);
        return execFileSync('objdump', ['-D', '-b', 'binary', '-m', 'i386', join(dir, 'p.bin')], { encoding: 'utf8' });
      });
      const line = /^\s*0:\t([0-9a-f ]+)\t(.*)$/m.exec(text)!;
      expect({ bytes: line[1]!.trim(), insn: line[2]!.replace(/\s+/g, ' ').trim() })
        .toEqual({ bytes: 'ff 14 25 ' + [0, 8, 16, 24].map((b) => ((word >>> b) & 0xff).toString(16).padStart(2, '0')).join(' '), insn: `call *-0x${(0x100000000 - word).toString(16)}(,%eiz,1)` }); // a signed disp32
      const { hookCallEnd } = patchLayout(spec, { length: 1 });
      expect(hookCallEnd).toBe(7);
      expect(decode(bytes, 0, 32).length).toBe(7);
    }
  });

  test('the inline cli is GNU as\'s `movb $0, <vif>`, padded with the NOPs of .nops', () => {
    const cli = sensitiveClassByName('cli')!;
    const bytes = encodePatch(VIF_CLEAR, cli.id, 0x100000, 7, targets);
    expect(hex(bytes)).toBe(hex(assemble('movb $0, 0xff800004', 32)));
    const padded = encodePatch(VIF_CLEAR, cli.id, 0x100000, 12, targets);
    expect(hex(padded.subarray(0, 7))).toBe(hex(bytes));
    expectNops(padded, 7);
  });

  test('a call reaches a stub at the top of the address space by wraparound, as ld links it', () => {
    const hlt = sensitiveClassByName('hlt')!;
    for (const site of [0x100000, 0x1234567, 0xc0100ff0]) {
      const stub = targets.stubFor(hlt.id);
      const bytes = encodePatch(CALL_STUB, hlt.id, site, 8, targets);
      const ref = link(`call 0x${stub.toString(16)}`, site);
      expect(hex(bytes.subarray(0, 5))).toBe(hex(ref));
      expectNops(bytes, 5);
      const insn = decode(bytes, 0, 32, site);
      expect(insn.mnemonic).toBe('call');
      expect(insn.length).toBe(5);
    }
    // Downwards and upwards within the signed range too.
    expect(hex(encodeCallWrapped(0x2000, 0x1000))).toBe(hex(link('call 0x1000', 0x2000)));
  });

  test('a patch longer than the site is refused', () => {
    const cli = sensitiveClassByName('cli')!;
    expect(() => encodePatch(VIF_CLEAR, cli.id, 0x100000, 6, targets)).toThrow(/does not fit a 6-byte site/);
    expect(() => encodePatch(KEEP, cli.id, 0x100000, 7, targets)).toThrow(/not rewritten/);
  });
});

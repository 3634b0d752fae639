// The patch table: every record kind has a patch on every back end, every kind's site size holds its
// longest patch, and the bytes written over a site are what GNU as and ld produce for the same code.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BACKEND_NAMES, CALL_STUB, KEEP, MEMORY_OPERATION_KINDS, SENSITIVE_CLASSES, VIF_CLEAR, decode, encodeCallWrapped,
  encodePatch, longestPatch, patchFor, patchTableKinds, sensitiveClassByName, type PatchTargets,
} from '@previrt/isa';
import { assemble, withTempDir } from './support/gnu';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const allKinds = [...SENSITIVE_CLASSES.map((c) => ({ id: c.id, name: c.name, siteSize: c.siteSize })),
  ...MEMORY_OPERATION_KINDS.map((k) => ({ id: k.id, name: k.name, siteSize: k.siteSize }))];

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
  // The longest patches: the inline cli (7 bytes) and the 5-byte call.
  expect(longestPatch(sensitiveClassByName('cli')!.id)).toBe(7);
  expect(longestPatch(sensitiveClassByName('hlt')!.id)).toBe(5);
  // hvm rewrites only what exits: the interrupt-flag classes run in the guest under VT-x.
  expect(patchFor(sensitiveClassByName('cli')!.id, 'hvm')).toBe(KEEP);
  expect(patchFor(sensitiveClassByName('popf')!.id, 'hvm')).toBe(KEEP);
  expect(patchFor(sensitiveClassByName('popf')!.id, 'xen')).toBe(CALL_STUB);
  expect(patchFor(sensitiveClassByName('out')!.id, 'hvm')).toBe(CALL_STUB);
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
  const targets: PatchTargets = { vifByte: 0xff800001, stubFor: (kind) => 0xff801000 + 16 * kind };

  test('the inline cli is GNU as\'s `movb $0, <vif>`, padded with the NOPs of .nops', () => {
    const cli = sensitiveClassByName('cli')!;
    const bytes = encodePatch(VIF_CLEAR, cli.id, 0x100000, 7, targets);
    expect(hex(bytes)).toBe(hex(assemble('movb $0, 0xff800001', 32)));
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

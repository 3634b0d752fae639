// The plain-x86 stubs of the monitor window's stub page are what GNU as assembles from the sequences
// the patch table (packages/isa/src/patches.ts) describes for them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLAIN, STATE, stubPage, windowLayout } from '@previrt/vmm';

function assemble(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'window-stubs-'));
  try {
    writeFileSync(join(dir, 'a.s'), `.text\n${source}\n`);
    execFileSync('as', ['--32', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('the flag stubs behind sti_hook, popf_hook, return_hook and irq_restore_hook', () => {
  const layout = windowLayout(0xff800000);
  const page = stubPage(layout);
  const vif = `0x${(layout.base + STATE.vif).toString(16)}`;
  const cases: [string, number, string][] = [
    ['sti', PLAIN.stiSet, `movb $1, ${vif}; ret`],
    ['popf', PLAIN.popfCheck, `testb $2, 5(%esp); setnz ${vif}; testb $0x30, 5(%esp); jnz 1f; ret; 1: vmcall; ret`],
    ['iret', PLAIN.iretCheck, `testb $2, 13(%esp); setnz ${vif}; testb $0x30, 13(%esp); jnz 1f; ret; 1: vmcall; ret`],
    ['irq-restore', PLAIN.irqRestore, `testb $2, 5(%esp); setnz ${vif}; ret $4`],
    ['irq-restore slow', PLAIN.irqRestoreSlow, 'vmcall; ret $4'],
  ];
  for (const [name, at, source] of cases) {
    const ref = assemble(source);
    expect({ name, bytes: hex(page.subarray(at, at + ref.length)) }).toEqual({ name, bytes: hex(ref) });
  }
  // The slow entries of popf and iret are the `vmcall; ret` their checks jump to.
  expect(PLAIN.popfSlow - PLAIN.popfCheck).toBe(assemble(`testb $2, 5(%esp); setnz ${vif}; testb $0x30, 5(%esp); jnz 1f; ret; 1:`).length);
  expect(PLAIN.iretSlow - PLAIN.iretCheck).toBe(assemble(`testb $2, 13(%esp); setnz ${vif}; testb $0x30, 13(%esp); jnz 1f; ret; 1:`).length);
});

// PAE paging against QEMU: the guest of fixtures/vmm/guests/pae.c walks 4 KB and 2 MB pages through
// 64-bit entries and prints every access (value or fault, error code, CR2) and the entries' accessed/
// dirty bits, with CR0.WP on and off, reserved bits, a page above 4 GB, invlpg and global pages. The
// transcript must be byte-identical to QEMU's, with closures and with every block as generated code.
import { runCGuest } from './c-guest.js';

test('PAE translation, faults and accessed/dirty bits as QEMU', () => {
  const { qemu, machine } = runCGuest('pae');
  expect(qemu.stdout).toMatch(/^cr0=80000011\ncr3=[0-9a-f]{8}\ncr4=000000a0\n/);
  expect(qemu.stdout).toContain('rsvd40 read 00403000 fault 0e code 0008');
  expect(qemu.stdout).toMatch(/\nend\n$/);
  for (const run of machine) {
    expect(run.stdout).toBe(qemu.stdout);
    expect(run.exitCode).toBe(qemu.status);
  }
});

// The SSE state against QEMU: the guest of fixtures/vmm/guests/sse.c dumps what fxsave writes (with and
// without CR4.OSFXSR), round-trips a state through fxrstor, and prints the faults of fxsave/fxrstor,
// ldmxcsr/stmxcsr, movaps and emms under CR0.TS/EM, OSFXSR and misalignment, and XMM moves. The
// transcript must be byte-identical to QEMU's, with closures and with every block as generated code.
import { runCGuest } from './c-guest.js';

test('fxsave/fxrstor, MXCSR, fences, movnti, emms and XMM moves as QEMU, faults included', () => {
  const { qemu, machine } = runCGuest('sse');
  expect(qemu.stdout).toMatch(/^fxsave:\n000: 7f 03 00 20 f0 00 .* 80 1f 00 00 ff ff 00 00\n/m);
  expect(qemu.stdout).toMatch(/\nend\n$/);
  for (const run of machine) {
    expect(run.stdout).toBe(qemu.stdout);
    expect(run.exitCode).toBe(qemu.status);
  }
});

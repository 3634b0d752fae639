// A seeded slice of the differential CPU test (the full campaign is scripts/cpu-diff.mjs): random
// sequences of integer and system instructions in the harness kernel, run on qemu-system-i386 and on
// the simulated PC; every recorded field must agree outside the documented undefined flags.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { generateCases, RESULT_FIELDS, Rng, casesAssembly } from '../src/cpudiff.js';
import { runChunk } from '../src/cpudiff-runner.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'cpudiff-test-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the generator is deterministic: same seed, same cases', () => {
  expect(casesAssembly(generateCases(7, 100, 20))).toBe(casesAssembly(generateCases(7, 100, 20)));
  expect(casesAssembly(generateCases(7, 100, 20))).not.toBe(casesAssembly(generateCases(8, 100, 20)));
  const r = new Rng(1);
  expect([r.u32(), r.u32()]).not.toEqual([r.u32(), r.u32()]);
});

test('1000 seeded random sequences give the same registers, flags, memory and faults as QEMU (closures and generated code)', () => {
  const cases = generateCases(20261125, 0, 1000);
  // The slice covers ring 3, paging and the undefined-flag masking.
  expect(cases.filter((c) => c.ring3).length).toBeGreaterThan(150);
  expect(cases.filter((c) => c.paging).length).toBeGreaterThan(250);
  const r = runChunk(join(root, 'fixtures/vmm/cpudiff'), work, cases);
  expect(r.ourMessage).toBe('');
  const report = r.mismatches.slice(0, 5).map((m) => {
    const c = cases.find((x) => x.index === m.index)!;
    return `case ${m.index}: ${m.fields.map((f) => `${f.name} qemu=${(f.reference >>> 0).toString(16)} ours=${(f.ours >>> 0).toString(16)}`).join(', ')}\n  ${c.code.join('; ')}`;
  });
  expect(report).toEqual([]);
  expect(r.compared + r.referenceCrashes.length).toBe(1000);
  expect(RESULT_FIELDS).toContain('eflags');
}, 300_000);

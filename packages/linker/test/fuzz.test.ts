// A seeded slice of the ELF fuzzer (scripts/fuzz-elf.mjs runs the long campaigns): mutated real
// objects and images never crash the reader, the writer round trip, the check or inspect.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom, mutateElf, runFuzzCase } from '@previrt/linker';
import { buildCheckFixture } from './check-fixture.js';

let dir: string;
const seeds: { name: string; bytes: Uint8Array }[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'previrt-fuzz-'));
  for (const v of [0, 11] as const) {
    const elf = buildCheckFixture(dir, v);
    seeds.push({ name: `kernel-${v}.elf`, bytes: new Uint8Array(readFileSync(elf)) });
    seeds.push({ name: `kernel-${v}.o`, bytes: new Uint8Array(readFileSync(join(dir, `kernel-${v}.o`))) });
  }
  execFileSync('gcc', ['-m64', '-O2', '-g', '-c', '-x', 'c', '-', '-o', join(dir, 'p64.o')], {
    input: 'int g[4]; int f(int x) { switch (x) { case 0: return g[0]; case 1: return 3; case 2: return g[2]; default: return x; } }\n',
  });
  seeds.push({ name: 'p64.o', bytes: new Uint8Array(readFileSync(join(dir, 'p64.o'))) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('400 seeded mutations: each is parsed and checked, or rejected with a typed error', () => {
  const random = seededRandom(20260601);
  const outcomes = { parsed: 0, rejected: 0 };
  for (let i = 0; i < 400; i++) {
    const seed = seeds[i % seeds.length]!;
    const m = mutateElf(seed.bytes, random);
    let outcome: 'parsed' | 'rejected';
    try {
      outcome = runFuzzCase(m.bytes, `${seed.name}#${i}`);
    } catch (err) {
      throw new Error(`case ${i} (${seed.name}: ${m.description}) crashed: ${(err as Error).stack}`);
    }
    outcomes[outcome]++;
  }
  // Both paths are exercised: the mutations are neither all fatal nor all harmless.
  expect(outcomes.parsed).toBeGreaterThan(50);
  expect(outcomes.rejected).toBeGreaterThan(50);
});

test('the mutator is deterministic for a seed', () => {
  const a = mutateElf(seeds[0]!.bytes, seededRandom(7));
  const b = mutateElf(seeds[0]!.bytes, seededRandom(7));
  expect(a.description).toBe(b.description);
  expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
});

// The CPUID model: QEMU's default i386 CPU (`qemu32`, QEMU 7.2 TCG), leaf for leaf as
// `fixtures/vmm/probe` records it on QEMU (`packages/vmm/test/boot-state.test.ts` compares them).
// Every feature bit reported here is implemented to the degree the SDM promises it (see the package
// README, "CPU model").

/** Family 6, model 6, stepping 3. */
export const CPU_SIGNATURE = 0x663;

/**
 * CPUID.1 EDX: FPU DE PSE TSC MSR PAE MCE CX8 APIC SEP PGE CMOV PAT MMX FXSR SSE SSE2
 * (QEMU's PPRO_FEATURES; no MTRR, MCA, CLFSH, PSE-36).
 */
export const CPU_FEATURES = 0x0781abfd;

/** CPUID.1 ECX: SSE3 and the hypervisor bit (QEMU sets it on every CPU model). */
export const CPU_FEATURES_ECX = 0x80000001;

const MAX_BASIC = 4;
const MAX_EXTENDED = 0x80000004;
const BRAND = 'QEMU Virtual CPU version 2.5+';

function text(s: string, i: number): number {
  return s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
}
const VENDOR: [number, number, number] = [text('Genu', 0), text('ineI', 0), text('ntel', 0)]; // EBX, EDX, ECX

/**
 * Leaf 4 sub-leaves (deterministic cache parameters, as QEMU's legacy caches): L1D 32 KB and L1I
 * 32 KB 8-way, L2 4 MB 16-way, L3 16 MB 16-way (inclusive, complex indexing); then a null entry.
 */
const CACHES: [number, number, number, number][] = [
  [0x121, 0x01c0003f, 0x3f, 1],
  [0x122, 0x01c0003f, 0x3f, 1],
  [0x143, 0x03c0003f, 0xfff, 1],
  [0x163, 0x03c0003f, 0x3fff, 6],
];

/** EAX, EBX, ECX, EDX for `cpuid` with EAX = leaf, ECX = subleaf. */
export function cpuidLeaf(leaf: number, subleaf: number): [number, number, number, number] {
  leaf >>>= 0;
  // Past the last leaf of its range, QEMU (like Intel CPUs) answers the highest basic leaf.
  if (leaf >= 0x80000000 ? leaf > MAX_EXTENDED : leaf > MAX_BASIC) leaf = MAX_BASIC;
  switch (leaf) {
    case 0: return [MAX_BASIC, VENDOR[0], VENDOR[2], VENDOR[1]];
    // EBX: CLFLUSH line size 8 quadwords, one logical processor, APIC ID 0.
    case 1: return [CPU_SIGNATURE, 0x800, CPU_FEATURES_ECX, CPU_FEATURES];
    // Cache and TLB descriptors: 0x4d L3 16 MB, 0x2c L1D 32 KB, 0x30 L1I 32 KB, 0x7d L2 2 MB.
    case 2: return [1, 0, 0x4d, 0x002c307d];
    case 3: return [0, 0, 0, 0];
    case 4: return CACHES[subleaf >>> 0] ?? [0, 0, 0, 0];
    case 0x80000000: return [MAX_EXTENDED, VENDOR[0], VENDOR[2], VENDOR[1]];
    case 0x80000001: return [CPU_SIGNATURE, 0, 0, 0];
    default: {
      const brand = BRAND.padEnd(48, '\0');
      const o = (leaf - 0x80000002) * 16;
      return [text(brand, o), text(brand, o + 4), text(brand, o + 8), text(brand, o + 12)];
    }
  }
}

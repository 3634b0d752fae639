/*
 * What the interrupt-flag instructions cost on the machine this runs on, in core cycles, measured in
 * user mode (where they run without a fault; IF itself does not change at CPL 3, the microcode path
 * is the same): the figures behind `instructionCost` in the cost table
 * (packages/vmm/src/backends/costs.ts). Also the afterburner's pads on this machine: a
 * local_irq_save/restore loop (pushf; pop; inc; push; popf; inc) with and without its 32-bit
 * `.nops` pads (pushf and popf sites of 7 bytes: one 6-byte NOP each).
 *   gcc -O2 -m32 -no-pie -o /tmp/insn-cost bench/backends-insn-cost.c && /tmp/insn-cost
 * Core cycles come from a chain of dependent adds (one cycle each), so the TSC's rate does not matter.
 * cli/sti and port I/O cannot be measured here: they need IOPL 3 (iopl() is not available in this
 * VM) or ring 0, and port I/O exits to the hypervisor.
 * Measured in this nested VM (AMD EPYC, user mode, best of 30 x 1,000,000): push+pop 1.0 cycles
 * per pair, pushf+pop 4.0, push+popf 19.0, iret to the same ring 42 (pushfl; push %cs; push; iretl
 * minus three pushes), one-byte nop 0.1, the 7-byte `lea 0(%esi,%eiz),%esi` NOP 1.0 back to back
 * (a dependency chain on %esi); the irqflags-like loop 24.0 cycles plain and 23.7-24.0 with the pads.
 * With the 7-byte sites (one 6-byte NOP after pushf and after popf), three runs on an idle machine:
 * the loop 23.5-23.8 cycles plain, 23.6-24.0 padded; two save/restore pairs 48.3-49.4 plain,
 * 48.2-49.0 padded: within +-0.7%, the pads hidden behind popf.
 */
#include <stdint.h>
#include <stdio.h>

#define N 1000000
#define REPEAT10(x) x x x x x x x x x x

static volatile uint32_t counter;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Best of 30 runs of N iterations, in TSC ticks per iteration. */
#define MEASURE(name, body)                                                              \
	static double name(void)                                                          \
	{                                                                                 \
		uint64_t best = ~0ull;                                                        \
		for (int t = 0; t < 30; t++) {                                                \
			uint64_t a = rdtsc();                                                     \
			for (int i = 0; i < N; i++)                                               \
				__asm__ __volatile__(body ::: "cc", "memory", "eax", "ecx", "esi"); \
			uint64_t b = rdtsc() - a;                                                 \
			if (b < best)                                                             \
				best = b;                                                             \
		}                                                                             \
		return (double)best / N;                                                      \
	}

MEASURE(adds, REPEAT10("addl $1, %%eax\n\t"))
MEASURE(push_pop, REPEAT10("pushl %%eax\n\tpopl %%eax\n\t"))
MEASURE(pushf_pop, REPEAT10("pushfl\n\tpopl %%eax\n\t"))
MEASURE(push_popf, REPEAT10("pushfl\n\tpopfl\n\t"))
MEASURE(pushes_iret, "pushfl\n\tpushl %%cs\n\tpushl $1f\n\tiretl\n1:\n\t")
MEASURE(pushes_only, "pushfl\n\tpushl %%cs\n\tpushl $1f\n\taddl $12, %%esp\n1:\n\t")
MEASURE(nop1, REPEAT10("nop\n\t"))
MEASURE(lea_nop7, REPEAT10(".byte 0x8d,0xb4,0x26,0,0,0,0\n\t"))
MEASURE(irqflags_plain, "pushfl; popl %%ecx; incl counter; pushl %%ecx; popfl; incl counter")
MEASURE(irqflags_padded, "pushfl; .nops 6; popl %%ecx; incl counter; pushl %%ecx; popfl; .nops 6; incl counter")
/* The irq-restore site (7 bytes) and a pushf site both padded, as the test kernel's local_irq_save/restore is now. */
MEASURE(irqflags_padded_twice, "pushfl; .nops 6; popl %%ecx; incl counter; pushl %%ecx; popfl; .nops 6; incl counter; pushfl; .nops 6; popl %%ecx; pushl %%ecx; popfl; .nops 6")
MEASURE(irqflags_plain_twice, "pushfl; popl %%ecx; incl counter; pushl %%ecx; popfl; incl counter; pushfl; popl %%ecx; pushl %%ecx; popfl")

int main(void)
{
	double cycle = adds() / 10; /* TSC ticks per core cycle */
	double pair = push_pop() / 10 / cycle;

	printf("push+pop %.2f  pushf+pop %.2f  push+popf %.2f  cycles per pair\n", pair, pushf_pop() / 10 / cycle, push_popf() / 10 / cycle);
	printf("pushf %.1f  popf %.1f  cycles (the pair less half a push+pop)\n", pushf_pop() / 10 / cycle - pair / 2, push_popf() / 10 / cycle - pair / 2);
	printf("iret to the same ring %.1f cycles\n", (pushes_iret() - pushes_only()) / cycle);
	printf("nop %.2f  lea-nop7 %.2f cycles\n", nop1() / 10 / cycle, lea_nop7() / 10 / cycle);
	double plain = irqflags_plain() / cycle, padded = irqflags_padded() / cycle;
	printf("irqflags-like loop: plain %.2f, with the pads %.2f cycles (%+.1f%%)\n", plain, padded, 100 * (padded / plain - 1));
	plain = irqflags_plain_twice() / cycle, padded = irqflags_padded_twice() / cycle;
	printf("two save/restore pairs: plain %.2f, with the pads %.2f cycles (%+.1f%%)\n", plain, padded, 100 * (padded / plain - 1));
	return 0;
}

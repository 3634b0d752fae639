/*
 * The cost of a VM exit on the machine this runs on: rdtsc around cpuid, which always exits under
 * VT-x and SVM. The figure behind `--exit-cost` in the cost table (packages/vmm/src/backends/costs.ts).
 *   gcc -O2 -o /tmp/exit-cost bench/backends-exit-cost.c && /tmp/exit-cost
 * Measured in this nested VM (AMD EPYC guest): minimum 8,944, mean about 11,000 cycles per cpuid;
 * an empty rdtsc pair costs 26.
 */
#include <stdint.h>
#include <stdio.h>

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

int main(void)
{
	const int n = 20000;
	uint64_t best = ~0ull, sum = 0, empty = ~0ull;

	for (int i = 0; i < n; i++) {
		uint32_t a = 0, b, c = 0, d;
		uint64_t t0 = rdtsc();
		__asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		uint64_t t = rdtsc() - t0;
		if (t < best)
			best = t;
		sum += t;
	}
	for (int i = 0; i < n; i++) {
		uint64_t t0 = rdtsc();
		uint64_t t = rdtsc() - t0;
		if (t < empty)
			empty = t;
	}
	printf("cpuid: minimum %llu, mean %llu cycles; empty rdtsc pair %llu\n", (unsigned long long)best,
	       (unsigned long long)(sum / n), (unsigned long long)empty);
	return 0;
}

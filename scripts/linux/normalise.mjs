// The normalisations of the Linux console transcripts (QEMU against previrt's machine), shared by
// boot-compare.mjs and zero-cost-compare.mjs: what differs only by timing, each with its reason and
// the machines it applies to. Nothing else is normalised.

/**
 * What differs between QEMU and previrt only by timing, with the reason and the machines it applies
 * to (all when none are named). Applied to both transcripts of a comparison.
 */
export const NORMALISE = [
  {
    pattern: /^(sched_clock: Marking stable )\(-?\d+, -?\d+\)->\(-?\d+, -?\d+\)$/gm,
    replace: '$1(<ns>, <ns>)->(<ns>, <ns>)',
    mask: 'sched_clock: Marking stable [^\\r\\n]*',
    reason: 'clock readings counted from machine reset: on QEMU they include SeaBIOS, its linuxboot option ROM and '
      + 'the kernel\'s real-mode setup code (millions of instructions on the counting clock), which previrt skips by '
      + 'entering at the 32-bit boot protocol entry point (off native also the decompressor, which a domain builder skips)',
  },
  {
    pattern: /^(tsc: Detected )[0-9.]+( MHz processor)$|^(clocksource: tsc-early: mask: 0x[0-9a-f]+ max_cycles: )0x[0-9a-f]+, max_idle_ns: \d+( ns)$|^(Calibrating delay loop \(skipped\), value calculated using timer frequency\.\. )[0-9.]+ BogoMIPS \(lpj=\d+\)$/gm,
    replace: (m, a, b, c, d, e) => (a ? `${a}<MHz>${b}` : c ? `${c}<cycles>, max_idle_ns: <ns>${d}` : `${e}<BogoMIPS>`),
    mask: 'tsc: Detected [0-9.]+ MHz|max_cycles: 0x[0-9a-f]+, max_idle_ns: [0-9]+ ns|[0-9.]+ BogoMIPS \\(lpj=[0-9]+\\)',
    machines: ['native', 'hvm', 'xen', 'l4'],
    reason: 'the TSC is calibrated against PIT channel 2, which the kernel polls with `in`; those reads take virtual '
      + 'time between the samples (natively the port\'s bus cycle, on hvm, xen and l4 VM exits, hypercalls, IPCs or '
      + 'in-place device reads, as the cost table has them), so the measured frequency moves in its last digits '
      + '(a few kHz of 1000 MHz) and with it the values derived from it: the tsc-early '
      + 'clocksource\'s max_cycles/max_idle_ns and the BogoMIPS (lpj). zero-cost-compare.mjs checks it: with every '
      + 'charged cost set to 0 these lines come out as QEMU\'s',
  },
];

/** The transcript up to the restart after the init's line (inclusive), CRs removed, normalised for a machine. */
export function prepare(text, machine) {
  let t = text.replace(/\r/g, '');
  const init = t.indexOf('previrt-e2e: init reached user space');
  if (init >= 0) {
    const m = /^reboot: machine restart\n?/m.exec(t.slice(init));
    if (m) t = t.slice(0, init + m.index + m[0].length);
  }
  for (const n of NORMALISE) if (!n.machines || n.machines.includes(machine)) t = t.replace(n.pattern, n.replace);
  return t;
}

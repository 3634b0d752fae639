#!/usr/bin/env bash
# The demo: one kernel binary, every hypervisor. Installs what is missing (scripts/setup.sh), builds
# the test kernel through the afterburner (make CC="previrt cc gcc"), proves its records with
# previrt check, runs its self-tests and its benchmarks with previrt verify on the native, hvm, xen
# and l4 back ends and on QEMU (same serial output everywhere), then compares the pre-virtualized
# build with the hand-ported para-virtual one (PARAVIRT=1) and prints the porting effort of each.
# A few minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
previrt() { node packages/cli/bin/previrt.js "$@"; }
kernel_dir=fixtures/kernel
work=$kernel_dir/build/demo
mkdir -p "$work"

echo "== building the test kernel through the afterburner: make CC=\"previrt cc gcc\""
make -s -C "$kernel_dir" all disk
make -s -C "$kernel_dir" BUILD=build/demo/afterburned CC="node $PWD/packages/cli/bin/previrt.js cc gcc" all
kernel=$work/afterburned/kernel.elf
disk=$kernel_dir/build/disk.img

echo
echo "== previrt check $kernel"
previrt check "$kernel" | tail -1

echo
echo "== previrt inspect --summary (records per kind)"
previrt inspect --summary "$kernel" | head -20

echo
echo "== previrt verify $kernel --append test=all (native, hvm, xen, l4 and QEMU)"
previrt verify "$kernel" --append test=all --disk "$disk"

echo
echo "== previrt verify $kernel --append bench=all (output lines compared apart from cycles)"
previrt verify "$kernel" --append bench=all --disk "$disk" --mask 'cycles=[0-9]+'

echo
echo "== the same binary without records on xen: refused, and what --force shows"
make -s -C "$kernel_dir" all
set +e
previrt run "$kernel_dir/build/kernel.elf" --hypervisor xen --append test=irq-flags --disk "$disk"
previrt run "$kernel_dir/build/kernel.elf" --hypervisor xen --force --append test=irq-flags --disk "$disk"
set -e

echo
echo "== pre-virtualized against para-virtual (make PARAVIRT=1), and the other back ends, per workload"
node bench/backends.mjs --keep-build "$work/bench"

echo
echo "== porting effort"
node scripts/porting-effort.mjs

#!/usr/bin/env bash
# Runs every bench= workload of the test kernel on QEMU and prints its lines
# (`bench <name>: ops=<n> cycles=<n>`), several runs side by side.
#
#   scripts/kernel-bench.sh [--runs N] [--icount] [name...]
#
# --icount runs QEMU with -icount shift=0,sleep=off: the guest's TSC then advances one tick per
# guest instruction (plus the time skipped while halted), which sizes a workload in instructions.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1
icount=()
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--icount) icount=(-icount shift=0,sleep=off); shift ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "kernel-bench: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1"); shift ;;
	esac
done
[ ${#names[@]} -gt 0 ] || names=(all)

make -s -C fixtures/kernel all disk
image=$(mktemp --suffix=.img)
trap 'rm -f "$image"' EXIT
cp fixtures/kernel/build/disk.img "$image"

failed=0
for name in "${names[@]}"; do
	for run in $(seq 1 "$runs"); do
		set +e
		out=$(qemu-system-i386 "${icount[@]}" -kernel fixtures/kernel/build/kernel.elf -append "bench=$name" \
			-serial stdio -display none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
			-drive "file=$image,format=raw,if=ide")
		status=$?
		set -e
		echo "$out" | grep '^bench ' | sed "s/\$/  (run $run)/"
		if [ "$status" -ne 1 ]; then
			echo "kernel-bench: bench=$name failed on QEMU (exit status $status)" >&2
			echo "$out" >&2
			failed=1
		fi
	done
done
exit $failed

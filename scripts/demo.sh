#!/usr/bin/env bash
# The demo. For now: install what is missing and build (scripts/setup.sh), build the test kernel,
# boot its self-tests on QEMU (the reference machine) and print the transcript, then list the
# sensitive instructions previrt finds in the kernel binary. Later stages extend it (afterburnt
# build, every hypervisor back end).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
make -s -C fixtures/kernel all disk

kernel=fixtures/kernel/build/kernel.elf
image=$(mktemp --suffix=.img)
trap 'rm -f "$image"' EXIT
cp fixtures/kernel/build/disk.img "$image"

echo "== qemu-system-i386 -kernel $kernel -append test=all"
set +e
qemu-system-i386 -kernel "$kernel" -append "test=all" -serial stdio -display none -no-reboot \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -drive "file=$image,format=raw,if=ide"
status=$?
set -e
# isa-debug-exit: QEMU exits with (code << 1) | 1, so 1 means the kernel reported success.
if [ "$status" -ne 1 ]; then
	echo "demo: the test kernel failed on QEMU (exit status $status)" >&2
	exit 1
fi

echo
echo "== previrt decode --sensitive $kernel (sites per class; the full list: run the command)"
node packages/cli/bin/previrt.js decode --sensitive --json "$kernel" | node -e '
	const sites = JSON.parse(require("fs").readFileSync(0, "utf8")).sites;
	const count = new Map();
	for (const s of sites) count.set(s.class, (count.get(s.class) ?? 0) + 1);
	for (const [cls, n] of [...count].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(5)}  ${cls}`);
	console.log(`${String(sites.length).padStart(5)}  sites in ${count.size} classes`);'

#!/usr/bin/env bash
# End-to-end proof of the build hook on real Linux (not part of CI; takes ~10 minutes on 2 cores):
# builds an i386 tinyconfig kernel (+ serial console + a built-in initramfs whose /init prints one line
# and restarts the machine) once plainly and once with `make CC="previrt cc gcc"`, boots both on
# QEMU, compares the boot line, prints the sites by kind and the hooked/plain build-time ratio.
#
# Then (step 4) the pre-virtualized kernel: annotated (scripts/linux/annotate.sh), built through the
# hook, checked with `previrt check`, and booted on QEMU and on previrt's machine on every back end
# (scripts/linux/boot-compare.mjs): the console transcripts must be identical, with only what differs
# by timing normalised (scripts/linux/normalise.mjs; the off-native part checked with the back ends'
# costs at 0 by scripts/linux/zero-cost-compare.mjs); last `previrt verify` prints the table of every
# machine against QEMU.
#
# Usage: scripts/linux-e2e.sh [--rebuild] [--jobs N] [--timing N]
#   Work directory: $PREVIRT_LINUX_DIR (default /work/linux-build); resumable: finished steps are
#   skipped (a build is redone with --rebuild). Kconfig runs through the hook too, and the two
#   .config files must come out identical (the hook must not change what the probes see).
#   --timing N: afterwards, N more plain/hooked build pairs, alternating, for a build-time ratio
#   that is less at the mercy of a busy machine (the best time of each side is compared).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${PREVIRT_LINUX_DIR:-/work/linux-build}
jobs=2
rebuild=0
timing=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) rebuild=1 ;;
    --jobs) jobs=$2; shift ;;
    --timing) timing=$2; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "linux-e2e: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "linux-e2e: $*" >&2; }

# 1. Debian packages: the kernel source and its build dependencies, QEMU.
need=()
[ -f /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
for p in flex bison bc cpio xz-utils libelf-dev libssl-dev gcc-multilib qemu-system-x86; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -d "$repo/node_modules" ] || (cd "$repo" && PREVIRT_SETUP_QUIET=1 scripts/setup.sh)
(cd "$repo" && npx tsc -b packages/cli) || [ -f "$repo/packages/cli/dist/commands/cc.js" ] || { say "the TypeScript build failed"; exit 1; }

# 2. Source tree, init, initramfs list.
mkdir -p "$work"
src="$work/linux-source-6.1"
if [ ! -f "$src/.previrt-extracted" ]; then
  say "extracting /usr/src/linux-source-6.1.tar.xz"
  rm -rf "$src"
  tar -C "$work" -xf /usr/src/linux-source-6.1.tar.xz
  touch "$src/.previrt-extracted"
fi
gcc -m32 -ffreestanding -nostdlib -static -fno-pie -no-pie -O2 -o "$work/init" "$repo/scripts/linux/init.c"
sed "s|@INIT@|$work/init|" "$repo/scripts/linux/initramfs.list" > "$work/initramfs.list"

# 3. The hook: the native `previrt` launcher first on PATH, so that `previrt cc` starts no Node.
previrt_js="$repo/packages/cli/bin/previrt.js"
launcher_dir=$(node "$previrt_js" cc --print-bin-dir)
export PATH="$launcher_dir:$PATH"
say "previrt launcher: $(command -v previrt)"

configure() { # <dir> <make args...>
  local dir=$1; shift
  mkdir -p "$dir"
  make -s -C "$src" O="$dir" ARCH=i386 "$@" tinyconfig >/dev/null
  "$src/scripts/config" --file "$dir/.config" \
    -e PRINTK -e TTY -e SERIAL_8250 -e SERIAL_8250_CONSOLE -e BLK_DEV_INITRD -e BINFMT_ELF \
    -d VT -d INPUT -d HID -d SERIO -d LEGACY_PTYS \
    --set-str INITRAMFS_SOURCE "$work/initramfs.list"
  make -s -C "$src" O="$dir" ARCH=i386 "$@" olddefconfig >/dev/null
}

# Both kernels are built in the same directory ($work/obj, then renamed), with a fixed build
# timestamp, user and host, so that an object may differ between them only through the hook.
export KBUILD_BUILD_TIMESTAMP="2024-01-01 00:00:00 UTC" KBUILD_BUILD_USER=previrt KBUILD_BUILD_HOST=e2e

build() { # <name> <make args...>: builds bzImage, records the wall time in <dir>/build-seconds
  local name=$1; shift
  local dir="$work/$name" obj="$work/obj"
  if [ "$rebuild" = 1 ] || [ ! -f "$dir/build-seconds" ]; then
    rm -rf "$dir" "$obj"
    configure "$obj" "$@"
    say "building $name kernel (make -j$jobs $*)"
    local t0 t1
    t0=$(date +%s.%N)
    if ! make -s -C "$src" O="$obj" ARCH=i386 -j"$jobs" "$@" bzImage > "$obj/build.log" 2>&1; then
      tail -30 "$obj/build.log" >&2
      mv "$obj" "$dir"
      say "$name build failed (log: $dir/build.log)"
      exit 1
    fi
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "%.1f\n", $2 - $1 }' > "$obj/build-seconds"
    mv "$obj" "$dir"
  fi
  say "$name build: $(cat "$dir/build-seconds") s"
}

boot() { # <name>: boots bzImage on QEMU, prints the init's line (or nothing)
  local dir="$work/$1"
  timeout 120 qemu-system-i386 -kernel "$dir/arch/x86/boot/bzImage" -append console=ttyS0 -no-reboot \
    -display none -serial "file:$dir/boot.log" -m 128 >/dev/null 2>&1 || true
  grep -a 'previrt-e2e:' "$dir/boot.log" | tr -d '\r' | head -1
}

build plain
build hooked CC="previrt cc gcc"

plain_s=$(cat "$work/plain/build-seconds")
hooked_s=$(cat "$work/hooked/build-seconds")
if diff <(grep -v '^#' "$work/plain/.config") <(grep -v '^#' "$work/hooked/.config") >/dev/null; then
  config_same=yes
else
  config_same=no
fi
plain_line=$(boot plain)
hooked_line=$(boot hooked)

echo
echo "== sites in the hooked vmlinux"
node "$repo/scripts/linux/records.mjs" "$work/hooked/vmlinux" || true
echo
echo "== no-op guarantee: plain vs hooked objects"
if node "$repo/scripts/linux/compare-objects.mjs" "$work/plain" "$work/hooked" "$work/obj"; then noop=yes; else noop=no; fi
echo
echo "== summary"
echo "plain build:  ${plain_s} s"
echo "hooked build: ${hooked_s} s"
awk -v p="$plain_s" -v h="$hooked_s" 'BEGIN { printf "build-time ratio hooked/plain: %.3f\n", h / p }'
echo ".config identical: $config_same"
echo "objects without records byte-identical: $noop"
echo "plain boot line:  ${plain_line:-<none>}"
echo "hooked boot line: ${hooked_line:-<none>}"
if [ "$timing" -gt 0 ]; then
  # Wall time on a shared machine says little; the CPU time of the whole build (make and every
  # process it waited for, plus the previrt server, which is not its child) is steadier.
  sock="$(dirname "$launcher_dir")/as.sock"
  seconds() { awk -v t="$1" 'BEGIN { split(t, a, "m"); sub("s", "", a[2]); print a[1] * 60 + a[2] }'; }
  echo
  echo "== timing: $timing more plain/hooked pairs, alternating (make -j$jobs bzImage from scratch)"
  best_plain=$plain_s best_hooked=$hooked_s cpu_plain=0 cpu_hooked=0
  for i in $(seq "$timing"); do
    for name in plain hooked; do
      obj="$work/obj"
      rm -rf "$obj"
      if [ "$name" = hooked ]; then args=(CC="previrt cc gcc"); else args=(); fi
      configure "$obj" "${args[@]}"
      [ ! -f "$sock.pid" ] || { kill "$(cat "$sock.pid")" 2>/dev/null || true; sleep 1; }
      t0=$(date +%s.%N)
      children=$( (make -s -C "$src" O="$obj" ARCH=i386 -j"$jobs" "${args[@]}" bzImage > "$obj/build.log" 2>&1; echo $? > "$obj/status"; times) | tail -1)
      t1=$(date +%s.%N)
      [ "$(cat "$obj/status")" = 0 ] || { say "timing build failed (log: $obj/build.log)"; exit 1; }
      cpu=$(echo "$(seconds "${children% *}") $(seconds "${children#* }")" | awk '{ printf "%.1f", $1 + $2 }')
      server=0
      if [ "$name" = hooked ] && [ -f "$sock.pid" ]; then
        kill "$(cat "$sock.pid")" 2>/dev/null || true
        sleep 1
        server=$(tail -1 "$sock.log" | sed -n 's/.* \([0-9]*\) ms CPU$/\1/p' | awk '{ printf "%.1f", $1 / 1000 }')
        server=${server:-0}
      fi
      s=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
      echo "run $i $name: wall $s s, CPU $cpu s (build) + $server s (previrt server), load average $(cut -d' ' -f1-3 /proc/loadavg)"
      if [ "$name" = plain ]; then
        best_plain=$(echo "$best_plain $s" | awk '{ print ($2 < $1) ? $2 : $1 }')
        cpu_plain=$(echo "$cpu_plain $cpu" | awk '{ print $1 + $2 }')
      else
        best_hooked=$(echo "$best_hooked $s" | awk '{ print ($2 < $1) ? $2 : $1 }')
        cpu_hooked=$(echo "$cpu_hooked $cpu $server" | awk '{ print $1 + $2 + $3 }')
      fi
    done
  done
  rm -rf "$work/obj"
  awk -v p="$best_plain" -v h="$best_hooked" 'BEGIN { printf "wall: best plain %.1f s, best hooked %.1f s: ratio hooked/plain %.3f\n", p, h, h / p }'
  awk -v p="$cpu_plain" -v h="$cpu_hooked" 'BEGIN { printf "CPU:  plain %.1f s, hooked %.1f s (server included): ratio hooked/plain %.3f\n", p, h, h / p }'
fi
status=0
if [ -n "$plain_line" ] && [ "$plain_line" = "$hooked_line" ]; then
  echo "boots matched: yes"
else
  echo "boots matched: no"
  status=1
fi

# 4. The pre-virtualized kernel: Linux's own sensitive memory operations annotated (page-table
# setters/readers, local APIC and I/O APIC accessors: `previrt lint --fix` where it can,
# scripts/linux/annotations.patch where it cannot; see scripts/linux/annotate.sh), configured with the
# local APIC and I/O APIC (so that their accessors run) and a gzip payload, built through the hook.
# `previrt check` must prove every sensitive instruction and annotation of its vmlinux covered; its
# console transcript on previrt's machine, on every back end, must equal QEMU's (boot-compare.mjs
# names and normalises what differs only by the clock's origin).
asrc="$work/linux-annotated"
adir="$work/annotated"
echo
echo "== pre-virtualized kernel (annotated, APIC + I/O APIC, through previrt cc)"
"$repo/scripts/linux/annotate.sh" "$src" "$asrc" | tee "$work/annotate.log" | sed 's/^/  /'
# The build is stale too when previrt would lay the sites out differently: the site size of every
# kind (the back ends' patches must fit), which forms get a site (the patch table), the afterburner
# and the annotation header, as the built previrt has them.
sites_fingerprint=$(node --input-type=module -e "
  import { SENSITIVE_CLASSES, MEMORY_OPERATION_KINDS, ANNOTATED_INSTRUCTION_KINDS } from '$repo/packages/isa/dist/index.js';
  console.log([...SENSITIVE_CLASSES, ...MEMORY_OPERATION_KINDS, ...ANNOTATED_INSTRUCTION_KINDS].map((c) => c.name + '=' + (c.needsSite === false ? '-' : c.siteSize)).join(' '));
")" rules $(cat "$repo/packages/isa/dist/patches.js" "$repo/packages/afterburner/dist/rewrite.js" | sha256sum | cut -c1-16)"
sites_fingerprint+=" header $(sha256sum "$asrc/include/previrt/annotate.h" | cut -c1-16)"
if [ "$rebuild" = 1 ] || [ ! -f "$adir/build-seconds" ] || [ "$repo/scripts/linux/annotations.patch" -nt "$adir/build-seconds" ] \
   || [ "$repo/scripts/linux/annotate.sh" -nt "$adir/build-seconds" ] \
   || [ "$(cat "$adir/previrt-sites" 2>/dev/null)" != "$sites_fingerprint" ]; then
  [ "$rebuild" = 1 ] || [ ! -f "$adir/previrt-sites" ] || [ "$(cat "$adir/previrt-sites")" = "$sites_fingerprint" ] \
    || say "previrt's site layout changed since the last pre-virtualized build: rebuilding"
  rm -rf "$adir"
  mkdir -p "$adir"
  make -s -C "$asrc" O="$adir" ARCH=i386 CC="previrt cc gcc" tinyconfig >/dev/null
  "$asrc/scripts/config" --file "$adir/.config" \
    -e PRINTK -e TTY -e SERIAL_8250 -e SERIAL_8250_CONSOLE -e BLK_DEV_INITRD -e BINFMT_ELF \
    -d VT -d INPUT -d HID -d SERIO -d LEGACY_PTYS \
    -e X86_UP_APIC -e X86_UP_IOAPIC -d KERNEL_XZ -e KERNEL_GZIP \
    --set-str INITRAMFS_SOURCE "$work/initramfs.list"
  make -s -C "$asrc" O="$adir" ARCH=i386 CC="previrt cc gcc" olddefconfig >/dev/null
  say "building the pre-virtualized kernel (make -j$jobs CC=previrt cc gcc)"
  t0=$(date +%s.%N)
  if ! make -s -C "$asrc" O="$adir" ARCH=i386 -j"$jobs" CC="previrt cc gcc" bzImage > "$adir/build.log" 2>&1; then
    grep -v 'orphan section' "$adir/build.log" | tail -30 >&2
    say "pre-virtualized build failed (log: $adir/build.log)"
    exit 1
  fi
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{ printf "%.1f\n", $2 - $1 }' > "$adir/build-seconds"
  echo "$sites_fingerprint" > "$adir/previrt-sites"
fi
say "pre-virtualized build: $(cat "$adir/build-seconds") s"
echo
echo "== previrt check $adir/vmlinux"
if node "$previrt_js" check "$adir/vmlinux" | tail -20; then check_ok=yes; else check_ok=no; status=1; fi
node "$previrt_js" inspect --summary "$adir/vmlinux" | grep -E '^ *(pte|pde|mmio)-' | sed 's/^ */  annotated /' || true
echo
echo "== console transcripts: QEMU and previrt (native hvm xen l4), normalised per machine"
if node "$repo/scripts/linux/boot-compare.mjs" "$adir/arch/x86/boot/bzImage" --hypervisor native,hvm,xen,l4 --out "$adir/boots"; then
  boots_ok=yes
else
  boots_ok=no; status=1
fi
# The normalisation applied only off native must hide nothing but the back ends' modeled cost: with
# every cost that takes virtual time set to 0, hvm, xen and l4 must print QEMU's transcript under the
# every-machine normalisation alone.
echo
echo "== console transcripts with the charged costs 0 (native hvm xen l4 against QEMU's of the step above)"
if node "$repo/scripts/linux/zero-cost-compare.mjs" "$adir/arch/x86/boot/bzImage" --reference "$adir/boots/qemu.txt" --hypervisor native,hvm,xen,l4; then
  zero_ok=yes
else
  zero_ok=no; status=1
fi
# The hooked kernel of steps 1-3 (xz payload, no annotations) boots on previrt native through the
# 32-bit protocol and the kernel's own decompressor, as on QEMU (the pre-virtualized one is loaded as
# a domain builder loads it, on every back end alike).
echo
echo "== console transcripts: the hooked kernel through its decompressor, QEMU and previrt native"
if node "$repo/scripts/linux/boot-compare.mjs" "$work/hooked/arch/x86/boot/bzImage" --hypervisor native --out "$work/hooked/boots"; then
  :
else
  boots_ok=no; status=1
fi
# previrt verify: the same comparison as one table (instructions, sensitive operations, exits,
# hypercalls/IPCs, modeled cycles, overhead against native, wall time per machine); its masks apply
# to every machine and are the normalisations boot-compare.mjs names above, with their reasons.
echo
echo "== previrt verify $adir/arch/x86/boot/bzImage"
masks=()
while IFS= read -r m; do masks+=(--mask "$m"); done < <(node "$repo/scripts/linux/boot-compare.mjs" --print-masks)
if node "$previrt_js" verify "$adir/arch/x86/boot/bzImage" --append "console=ttyS0 printk.time=0" "${masks[@]}" < /dev/null | tee "$adir/verify.txt"; then
  verify_ok=yes
else
  verify_ok=no; status=1
fi
echo
echo "== pre-virtualization summary"
tail -1 "$work/annotate.log"
echo "previrt check clean: $check_ok"
echo "transcripts identical to QEMU (boot-compare): $boots_ok"
echo "off-native normalisation only timing (identical with costs 0): $zero_ok"
echo "previrt verify: all machines agree: $verify_ok"
exit $status

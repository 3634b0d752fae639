#!/usr/bin/env bash
# Installs what previrt needs when it is missing, then builds: Debian packages (the GNU toolchain with
# 32-bit support, make, QEMU as the reference machine), the npm dependencies, and the TypeScript build.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

quiet=${PREVIRT_SETUP_QUIET:-}
say() { [ -n "$quiet" ] || echo "setup: $*" >&2; }

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v as >/dev/null && command -v objdump >/dev/null && command -v readelf >/dev/null || need+=(binutils)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
# gcc -m32 with C library headers (the differential corpus includes <stdio.h> and friends).
[ -e /usr/include/i386-linux-gnu/gnu/stubs-32.h ] || [ -e /usr/include/gnu/stubs-32.h ] || need+=(gcc-multilib)
command -v cpio >/dev/null || need+=(cpio)
# GNU patch: the reference that applies the unified diffs of `previrt lint --fix --dry-run` in the tests.
command -v patch >/dev/null || need+=(patch)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${need[*]} (run as root, or install them: apt-get install --no-install-recommends ${need[*]})" >&2
    exit 2
  fi
  say "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

say "building"
npx tsc -b

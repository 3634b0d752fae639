#!/usr/bin/env bash
# The test command of the README: installs what is missing, builds, runs every jest test and ends with
# the plain line `N passed, N failed`. Exit status 0 only when every test passed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit $?
result=.ci/jest-result.json
mkdir -p .ci
rm -f "$result"
node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$result" "$@"
status=$?
if [ -f "$result" ]; then
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests + (r.numRuntimeErrorTestSuites || 0)} failed`);' "$result"
else
  echo "0 passed, 1 failed"
  status=1
fi
exit $status

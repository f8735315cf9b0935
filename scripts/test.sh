#!/usr/bin/env bash
# Installs what is missing, builds into build/ and runs every test (unit, MPI under mpiexec
# with 1-4 ranks, integration with real mpirun and namespaces). Exits non-zero on failure.
set -euo pipefail
UKRUN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$UKRUN_ROOT/scripts/deps.sh"

ukrun_install_packages
ukrun_build "$UKRUN_ROOT/build"

cd "$UKRUN_ROOT/build"
ctest --output-on-failure --timeout 900 "$@"

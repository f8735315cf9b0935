#!/usr/bin/env bash
# Installs what ukrun needs on Debian 12, builds it into build/, and runs the default job
# (process backend, 2 ranks, small lattice), storing the result in results.h5.
set -euo pipefail
UKRUN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$UKRUN_ROOT/scripts/deps.sh"

ukrun_install_packages
ukrun_build "$UKRUN_ROOT/build"

echo
echo "ukrun: built $UKRUN_ROOT/build/ukrun and ukrun-lattice; running the default job"
cd "$UKRUN_ROOT"
exec "$UKRUN_ROOT/build/ukrun" run --results "$UKRUN_ROOT/results.h5"

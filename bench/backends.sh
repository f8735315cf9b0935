#!/usr/bin/env bash
# bench/backends.sh: every backend against the process backend, in one run.
#
# Usage: bench/backends.sh [BUILD_DIR]        (default BUILD_DIR: build, beside this folder)
#   Root is needed for the isolated backends. Environment knobs:
#     BACKENDS="process netns"   backends to measure; nanos is added when UKRUN_NANOS_DIR is set
#     RANKS=2                    ranks per job (measure scaling at 1-2 on a 2-core machine)
#     LATTICE=8x8x8x8            global lattice of the Dirac run
#     REPEAT=3                   jobs per backend and figure; the best is reported
#     LAUNCH_RANKS="1 2 4"       rank counts of the launch series (a tiny lattice, one job each)
#
# For each backend it runs, through `ukrun run` (the real mpirun, the real instances):
#   1. `ukrun-lattice bench pingpong`: rank-to-rank latency (8 B) and bandwidth (4 MiB);
#   2. `ukrun-lattice --lattice L`: the Dirac operator per site (compute overhead);
#   3. a launch series at LAUNCH_RANKS ranks (8x4x4x4, one Dirac application);
# and reads from the HDF5 results file the launch time (`ukrun run` start to every rank past
# MPI_Init), the slowest rank's time to MPI_Init and, per rank, boot time, resident memory and
# image size. It prints one table with each figure and its ratio to the process backend, then
# the launch series. Emulated (TCG) columns are marked: compare them with care.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
build=$(cd "$build" 2>/dev/null && pwd) ||
    { echo "bench/backends.sh: build directory '${1:-build}' not found; build first" >&2; exit 2; }
ukrun=$build/ukrun
backends=${BACKENDS:-process netns}
[ -n "${UKRUN_NANOS_DIR:-}" ] && [[ " $backends " != *" nanos "* ]] && backends="$backends nanos"
ranks=${RANKS:-2}
lattice=${LATTICE:-8x8x8x8}
repeat=${REPEAT:-3}
launch_ranks=${LAUNCH_RANKS:-1 2 4}
work=$(mktemp -d /tmp/ukrun-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "bench/backends.sh on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "backends: $backends; $ranks ranks; lattice $lattice; best of $repeat"
echo

for backend in $backends; do
    for i in $(seq "$repeat"); do
        for job in pingpong dirac; do
            if [ "$job" = pingpong ]; then args=(bench pingpong); else args=(--lattice "$lattice"); fi
            if ! "$ukrun" run --backend "$backend" --ranks "$ranks" --timeout 1800 \
                    --results "$work/$job.h5" -- "${args[@]}" > "$work/$backend-$job-$i.log" 2>&1; then
                echo "bench/backends.sh: $backend $job run $i failed; last lines:" >&2
                tail -n 5 "$work/$backend-$job-$i.log" >&2
            fi
        done
    done
done

for backend in $backends; do
    for n in $launch_ranks; do
        "$ukrun" run --backend "$backend" --ranks "$n" --timeout 1800 --results "$work/launch.h5" \
            -- --lattice 8x4x4x4 --repetitions 1 > "$work/$backend-launch-$n.log" 2>&1 ||
            { echo "bench/backends.sh: $backend launch with $n ranks failed; last lines:" >&2
              tail -n 5 "$work/$backend-launch-$n.log" >&2; }
    done
done

for job in pingpong dirac launch; do
    [ -f "$work/$job.h5" ] && "$ukrun" show "$work/$job.h5" --json > "$work/$job.json"
done

python3 - "$work" <<'PY'
import json, math, os, sys
work = sys.argv[1]
def load(name):
    path = os.path.join(work, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else []

def best(runs, backend, figure, lower=True):
    values = [v for v in (figure(r) for r in runs if r["backend"] == backend and r["status"] == "ok")
              if v is not None and v >= 0]
    return (min(values) if lower else max(values)) if values else None

def bench(run):
    return json.loads(run["result_json"]).get("bench", {}) if run["result_json"] else {}

def per_rank(field):
    def figure(run):
        values = [r[field] for r in run["rank_records"] if r[field] >= 0]
        return max(values) if values else None
    return figure

ping, dirac, launch = load("pingpong"), load("dirac"), load("launch")
backends = list(dict.fromkeys(r["backend"] for r in ping + dirac))
rows = [("launch ms", lambda r: r["launch_ms"], ping + dirac, True),
        ("MPI_Init ms", lambda r: r["mpi_init_ms"], ping + dirac, True),
        ("latency 8 B us", lambda r: bench(r).get("latency_8B_us"), ping, True),
        ("bandwidth 4 MiB MB/s", lambda r: bench(r).get("bandwidth_4MiB_mbps"), ping, False),
        ("Dirac us/site", lambda r: r["dirac_us_per_site"], dirac, True),
        ("boot ms (slowest rank)", per_rank("boot_ms"), ping + dirac, True),
        ("RSS MiB (largest rank)", per_rank("rss_mib"), ping + dirac, True),
        ("image MiB", per_rank("image_mib"), ping + dirac, True)]
accel = {b: next((r["accelerator"] for r in ping + dirac if r["backend"] == b), "?") for b in backends}
print("%-22s" % "figure" + "".join("%22s" % ("%s (%s)" % (b, accel[b])) for b in backends))
for name, figure, runs, lower in rows:
    base = best(runs, "process", figure, lower)
    cells = []
    for b in backends:
        v = best(runs, b, figure, lower)
        if v is None:
            cells.append("%22s" % "-")
        elif base and b != "process":
            cells.append("%22s" % ("%.4g (x%.2f)" % (v, v / base)))
        else:
            cells.append("%22s" % ("%.4g" % v))
    print("%-22s" % name + "".join(cells))
if launch:
    print("\nlaunch series: ms from `ukrun run` start to every rank past MPI_Init")
    counts = sorted({r["ranks"] for r in launch})
    print("%-22s" % "ranks" + "".join("%12d" % n for n in counts))
    for b in backends:
        cells = []
        for n in counts:
            v = [r["launch_ms"] for r in launch
                 if r["backend"] == b and r["ranks"] == n and r["status"] == "ok"]
            cells.append("%12.0f" % v[0] if v else "%12s" % "-")
        print("%-22s" % b + "".join(cells))
if any(a == "tcg" for a in accel.values()):
    print("\n(tcg) rows are emulated by QEMU without KVM: their times are not hardware figures.")
PY

#!/usr/bin/env bash
# bench/run.sh: this machine's memory bandwidth and the lattice kernels' speed, in one run.
#
# Usage: bench/run.sh [BUILD_DIR]            (default BUILD_DIR: build, beside this folder)
#   Needs BUILD_DIR/ukrun-lattice built (cmake --build BUILD_DIR --target ukrun-lattice),
#   a C++ compiler (c++ or $CXX) and python3. Environment knobs:
#     ISA=auto|scalar|avx2|avx512   instruction set for both benches       (default auto)
#     SU3_SECONDS=0.5               target seconds per SU(3) kernel         (default 0.5)
#     LATTICE=8x8x8x8               lattice of bench dirac, one rank        (default 8x8x8x8)
#     STREAM_MIB=256                MiB per STREAM array (>> last-level cache)  (default 256)
#   Logs and the raw outputs go to BUILD_DIR/bench-logs/. Run it on a quiet machine: the
#   figures are wall-clock (STREAM, Dirac) or thread CPU time (SU(3)) on one core.
#
# What it does:
#   1. builds bench/stream_triad.cpp and measures the STREAM triad bandwidth, 1 and 2 threads;
#   2. runs `ukrun-lattice bench su3` (openQCD su3fcts time1/2/3 in cache);
#   3. runs `ukrun-lattice bench dirac` (Dw per lattice point, working set > last-level cache);
#   4. prints each figure next to its target and its ratio to the memory roofline, i.e. to the
#      time the bytes of one call (or one lattice point) take at the 1-thread triad bandwidth.
# A subcommand that fails is reported in one line and the rest still runs; the exit status is
# the number of steps that failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "bench/run.sh: build directory '${1:-build}' not found; configure and build first" >&2; exit 2; }
lattice_bin=$build/ukrun-lattice
logs=$build/bench-logs
mkdir -p "$logs"
isa=${ISA:-auto}
su3_seconds=${SU3_SECONDS:-0.5}
lattice=${LATTICE:-8x8x8x8}
stream_mib=${STREAM_MIB:-256}
failures=0

echo "bench/run.sh on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "logs: $logs"
echo

# ---- 1. STREAM triad ----
stream_bin=$logs/stream_triad
if ${CXX:-c++} -O3 -march=native -std=c++17 -pthread "$here/stream_triad.cpp" -o "$stream_bin" \
        > "$logs/stream_build.log" 2>&1 && "$stream_bin" "$stream_mib" 10 > "$logs/stream.out" 2>&1; then
    cat "$logs/stream.out"
else
    echo "STREAM triad FAILED (build or run); see $logs/stream_build.log and $logs/stream.out"
    failures=$((failures + 1))
fi
echo

# ---- 2. and 3. the lattice benches; each ends with one UKRUN-RESULT line ----
run_bench() {  # name, then the arguments of ukrun-lattice
    local name=$1
    shift
    if [ ! -x "$lattice_bin" ]; then
        echo "ukrun-lattice bench $name FAILED: $lattice_bin is not built"
        failures=$((failures + 1))
        return
    fi
    "$lattice_bin" "$@" > "$logs/$name.out" 2>&1
    local status=$?
    grep -v '^UKRUN-RESULT ' "$logs/$name.out"
    if [ $status -ne 0 ] || ! grep -q '^UKRUN-RESULT ' "$logs/$name.out"; then
        echo "ukrun-lattice $* FAILED (exit $status, no result line or error); see $logs/$name.out"
        failures=$((failures + 1))
    fi
    echo
}
run_bench su3 bench su3 --isa "$isa" --seconds "$su3_seconds"
run_bench dirac bench dirac --isa "$isa" --lattice "$lattice"

# ---- 4. figures, targets, roofline ----
python3 - "$logs" <<'EOF'
import json, re, sys, os

logs = sys.argv[1]

def read(name):
    path = os.path.join(logs, name)
    return open(path).read() if os.path.exists(path) else ""

def result(name):
    for line in read(name + ".out").splitlines():
        if line.startswith("UKRUN-RESULT "):
            try:
                return json.loads(line[len("UKRUN-RESULT "):]).get("bench")
            except ValueError:
                return None
    return None

bw = {int(t): float(g) for t, g in re.findall(r"triad threads=(\d+) GB/s=([\d.]+)", read("stream.out"))}
bw1 = bw.get(1)
print("Memory roofline: STREAM triad %s GB/s on 1 thread, %s GB/s on 2 threads (24 B counted per "
      "element)" % (bw.get(1, "n/a"), bw.get(2, "n/a")))
print("""
Bytes per call or point (the least traffic: every operand read once, the result written once,
write-allocate not counted, as STREAM counts):
  SU(3) x vector      matrix 18 reals + vector in 6 + out 6 = 30 reals: 120 B single, 240 B double
  SU(3) x SU(3)       three matrices of 18 reals = 54 reals: 432 B double
  SU(3) x u3alg       matrix 18 + algebra 9 + result 18 = 45 reals: 360 B double
  Dw per point        gauge: 4 links of 18 reals (U_mu(x), each link counted once though x and
                      x+mu both use it) = 72 reals; clover: 2 hermitian 6x6 blocks = 72 reals;
                      spinor in 24 reals (each read once though 9 points use it) + out 24 reals
                      = 192 reals: 768 B single, 1536 B double (csw = 0: 120 reals, 480/960 B)
""")

rows = []  # (figure, value, unit, target, bytes)
su3 = result("su3")
if su3:
    kernels = su3.get("kernels", {})
    # The SU(3) x vector targets hold for U*v and U^dagger*v alike (the same 66 flops).
    targets = {"su3_multiply_single": 1.8, "su3_inverse_multiply_single": 1.8,
               "su3_multiply_double": 2.2, "su3_inverse_multiply_double": 2.2}
    order = ["su3_multiply_single", "su3_inverse_multiply_single", "su3_multiply_double",
             "su3_inverse_multiply_double", "su3xsu3_double", "su3dagxsu3_double",
             "su3xsu3dag_double", "su3dagxsu3dag_double", "su3xu3alg_double",
             "su3dagxu3alg_double", "u3algxsu3_double", "u3algxsu3dag_double"]
    for name in sorted(kernels, key=lambda n: order.index(n) if n in order else len(order)):
        k = kernels[name]
        prec = "single" if name.endswith("_single") else "double"
        base = name[: -len(prec) - 1]
        size = 4 if prec == "single" else 8
        reals = 30 if "multiply" in base else (45 if "u3alg" in base else 54)
        rows.append(("su3 %s %s" % (base, prec), k["ns_per_call"], "ns", targets.get(name),
                     reals * size))
else:
    print("bench su3: no figures (the run failed or printed no result line)")

dirac = result("dirac")
if dirac:
    clover = dirac.get("csw", 1) != 0
    for prec, size, target in (("single", 4, 0.10), ("double", 8, 0.155)):
        for case in ("streaming", "cached"):
            c = dirac.get(prec, {}).get(case)
            if not c:
                continue
            rows.append(("Dw %s %s (local %s)" % (prec, case, dirac.get("local", "?")),
                         c["us_per_point"] * 1000, "ns", target * 1000 if case == "streaming" else None,
                         (192 if clover else 120) * size))
else:
    print("bench dirac: no figures (the run failed or printed no result line)")

print("%-40s %10s %10s %8s %7s %12s %9s" % ("figure (one core)", "measured", "target", "ratio",
                                           "bytes", "roofline", "/roofline"))
for fig, value, unit, target, nbytes in rows:
    roof = nbytes / bw1 if bw1 else None  # bytes / (GB/s) = ns
    print("%-40s %8.3f%-2s %10s %8s %7d %10s %9s" % (
        fig, value, unit,
        "%.3f" % target if target else "-",
        "%.2f" % (value / target) if target else "-",
        nbytes,
        "%.3fns" % roof if roof else "n/a",
        "%.2f" % (value / roof) if roof else "n/a"))
print("""
ratio: measured / target (<= 1 meets the target; Dw targets: 0.10 us single, 0.155 us double,
for the streaming case, whose fields exceed the last-level cache). roofline: the time the bytes take at the
1-thread triad bandwidth; /roofline below 1 means the kernel runs faster than memory could feed
it (its data sits in cache, as in bench su3), above 1 means it is slower than the memory bound.""")
EOF
[ $? -eq 0 ] || failures=$((failures + 1))
exit $failures

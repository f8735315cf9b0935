// `ukrun-lattice bench su3`: what openQCD's devel/nompi/su3fcts time1, time2 and time3
// measure, with ukrun's kernels in one ISA: SU(3) x vector and SU(3)^dagger x vector in single
// and double, the eight 3x3 products in double; all data in L1 cache (arrays of kElements,
// looped), ns per call and Mflops at openQCD's flop counts, and each vector kernel's result
// compared with the scalar one.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ukrun/lattice/bench.hpp"
#include "ukrun/lattice/su3_kernels.hpp"

namespace ukrun::lattice {
namespace {

constexpr int kElements = 16;  // per array: 16 matrices of 144 B in double, about 7 KB in all
constexpr int kRuns = 3;       // timed runs per kernel, the fastest is reported
constexpr double kCalibrateSeconds = 0.02;

// CPU time of the calling thread in seconds: like openQCD's clock(), it does not count time
// the scheduler gave to other processes, so a busy machine slows the figures less.
double thread_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename F>
double seconds_of(long reps, const F& batch) {
    const double start = thread_seconds();
    for (long r = 0; r < reps; ++r) batch();
    return thread_seconds() - start;
}

// Nanoseconds per element of `batch` (which processes kElements): calibrated, then the best
// of kRuns runs of `seconds` / kRuns each.
template <typename F>
double time_ns(const F& batch, double seconds) {
    long reps = 16;
    double t = seconds_of(reps, batch);
    while (t < kCalibrateSeconds) {
        reps *= 2;
        t = seconds_of(reps, batch);
    }
    double best = t / reps;
    reps = std::max(1L, static_cast<long>(reps * (seconds / kRuns) / t));
    for (int run = 0; run < kRuns; ++run) best = std::min(best, seconds_of(reps, batch) / reps);
    return best * 1e9 / kElements;
}

// An SU(2) rotation from a random unit quaternion placed in rows and columns (a, b) of the
// identity: a random element of SU(3)'s SU(2) subgroups.
Su3<double> random_su2_embedding(std::mt19937_64& rng, int a, int b) {
    std::normal_distribution<double> gauss;
    double q[4], norm = 0;
    for (double& x : q) {
        x = gauss(rng);
        norm += x * x;
    }
    for (double& x : q) x /= std::sqrt(norm);
    Su3<double> m{};
    for (int i = 0; i < 3; ++i) m.c[i][i] = {1, 0};
    m.c[a][a] = {q[0], q[3]};
    m.c[a][b] = {q[2], q[1]};
    m.c[b][a] = {-q[2], q[1]};
    m.c[b][b] = {q[0], -q[3]};
    return m;
}

// A random SU(3) matrix: a product of SU(2) rotations in the three subgroups, twice over.
Su3<double> random_su3(std::mt19937_64& rng) {
    const Su3Kernels& scalar = su3_kernels(Isa::scalar);
    Su3<double> u = random_su2_embedding(rng, 0, 1), next;
    for (int round = 0; round < 2; ++round) {
        for (auto [a, b] : {std::pair{1, 2}, std::pair{0, 2}, std::pair{0, 1}}) {
            const Su3<double> r = random_su2_embedding(rng, a, b);
            scalar.su3xsu3(&u, &r, &next, 1);
            u = next;
        }
    }
    return u;
}

template <typename T>
Su3<T> convert(const Su3<double>& u) {
    Su3<T> out;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            out.c[i][j] = {static_cast<T>(u.c[i][j].re), static_cast<T>(u.c[i][j].im)};
    return out;
}

// Largest difference between corresponding reals of two arrays of S, a plain aggregate of
// reals of type T (Su3<T> or Su3Vector<T>).
template <typename T, typename S>
double max_abs_diff(const std::vector<S>& a, const std::vector<S>& b) {
    static_assert(sizeof(S) % sizeof(T) == 0);
    const std::size_t n = a.size() * (sizeof(S) / sizeof(T));
    const T* x = reinterpret_cast<const T*>(a.data());
    const T* y = reinterpret_cast<const T*>(b.data());
    double worst = 0;
    for (std::size_t k = 0; k < n; ++k)
        worst = std::max(worst, std::abs(static_cast<double>(x[k]) - static_cast<double>(y[k])));
    return worst;
}

// The in-cache operands, random SU(3) matrices, Gaussian vectors and u(3) elements.
struct Operands {
    std::vector<Su3<double>> u, v;
    std::vector<Su3<float>> u_single;
    std::vector<Su3Vector<double>> w;
    std::vector<Su3Vector<float>> w_single;
    std::vector<U3Alg<double>> x;

    explicit Operands(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> gauss;
        for (int k = 0; k < kElements; ++k) {
            u.push_back(random_su3(rng));
            v.push_back(random_su3(rng));
            u_single.push_back(convert<float>(u.back()));
            Su3Vector<double> s;
            Su3Vector<float> s_single;
            for (int c = 0; c < 3; ++c) {
                s.c[c] = {gauss(rng), gauss(rng)};
                s_single.c[c] = {static_cast<float>(s.c[c].re), static_cast<float>(s.c[c].im)};
            }
            w.push_back(s);
            w_single.push_back(s_single);
            x.push_back({gauss(rng), gauss(rng), gauss(rng), gauss(rng), gauss(rng), gauss(rng),
                         gauss(rng), gauss(rng), gauss(rng)});
        }
    }
};

struct Row {
    std::string name, precision;
    int flops = 0;
    double ns = 0, diff = 0;
};

// Times one vector kernel of precision T and compares it with the scalar one.
template <typename T>
Row vec_row(const char* name, bool dag, const Su3Kernels& k, const std::vector<Su3<T>>& u,
            const std::vector<Su3Vector<T>>& w, double seconds) {
    const Su3VecFn<T> fn = dag ? k.vec<T>().dag_mul : k.vec<T>().mul;
    const Su3VecFn<T> ref =
        dag ? su3_kernels(Isa::scalar).vec<T>().dag_mul : su3_kernels(Isa::scalar).vec<T>().mul;
    std::vector<Su3Vector<T>> out(kElements), expect(kElements);
    Row row{name, sizeof(T) == sizeof(float) ? "single" : "double", kSu3VecFlops};
    row.ns = time_ns([&] { fn(u.data(), w.data(), out.data(), kElements); }, seconds);
    ref(u.data(), w.data(), expect.data(), kElements);
    row.diff = max_abs_diff<T>(out, expect);
    return row;
}

// Times one double 3x3 product, given as a call writing its result array, and compares it
// with the same product from the scalar table.
Row mat_row(const char* name, const std::function<void(const Su3Kernels&, Su3<double>*)>& call,
            const Su3Kernels& k, double seconds) {
    std::vector<Su3<double>> out(kElements), expect(kElements);
    Row row{name, "double", kSu3MatFlops};
    row.ns = time_ns([&] { call(k, out.data()); }, seconds);
    call(su3_kernels(Isa::scalar), expect.data());
    row.diff = max_abs_diff<double>(out, expect);
    return row;
}

// max over k of |w_k - U_k^dagger U_k w_k| / |w_k| with the ISA's vector kernels.
template <typename T>
double round_trip_error(const Su3Kernels& k, const std::vector<Su3<T>>& u,
                        const std::vector<Su3Vector<T>>& w) {
    std::vector<Su3Vector<T>> uw(kElements), back(kElements);
    k.vec<T>().mul(u.data(), w.data(), uw.data(), kElements);
    k.vec<T>().dag_mul(u.data(), uw.data(), back.data(), kElements);
    double worst = 0;
    for (int e = 0; e < kElements; ++e) {
        double diff = 0, norm = 0;
        for (int c = 0; c < 3; ++c) {
            const double dr = back[e].c[c].re - w[e].c[c].re, di = back[e].c[c].im - w[e].c[c].im;
            diff += dr * dr + di * di;
            norm += double(w[e].c[c].re) * w[e].c[c].re + double(w[e].c[c].im) * w[e].c[c].im;
        }
        worst = std::max(worst, std::sqrt(diff / norm));
    }
    return worst;
}

std::vector<Row> measure(const Su3Kernels& k, const Operands& d, double seconds) {
    std::vector<Row> rows;
    rows.push_back(vec_row("su3_multiply", false, k, d.u_single, d.w_single, seconds));
    rows.push_back(vec_row("su3_inverse_multiply", true, k, d.u_single, d.w_single, seconds));
    rows.push_back(vec_row("su3_multiply", false, k, d.u, d.w, seconds));
    rows.push_back(vec_row("su3_inverse_multiply", true, k, d.u, d.w, seconds));

    const Su3<double>* u = d.u.data();
    const Su3<double>* v = d.v.data();
    const U3Alg<double>* x = d.x.data();
    const int n = kElements;
    using K = const Su3Kernels&;
    const std::pair<const char*, std::function<void(K, Su3<double>*)>> products[] = {
        {"su3xsu3", [=](K t, Su3<double>* w) { t.su3xsu3(u, v, w, n); }},
        {"su3dagxsu3", [=](K t, Su3<double>* w) { t.su3dagxsu3(u, v, w, n); }},
        {"su3xsu3dag", [=](K t, Su3<double>* w) { t.su3xsu3dag(u, v, w, n); }},
        {"su3dagxsu3dag", [=](K t, Su3<double>* w) { t.su3dagxsu3dag(u, v, w, n); }},
        {"su3xu3alg", [=](K t, Su3<double>* w) { t.su3xu3alg(u, x, w, n); }},
        {"su3dagxu3alg", [=](K t, Su3<double>* w) { t.su3dagxu3alg(u, x, w, n); }},
        {"u3algxsu3", [=](K t, Su3<double>* w) { t.u3algxsu3(x, u, w, n); }},
        {"u3algxsu3dag", [=](K t, Su3<double>* w) { t.u3algxsu3dag(x, u, w, n); }},
    };
    for (const auto& [name, call] : products) rows.push_back(mat_row(name, call, k, seconds));
    return rows;
}

void print_table(Isa isa, double seconds, const std::vector<Row>& rows, double trip_single,
                 double trip_double, std::ostream& out) {
    char line[160];
    out << "bench su3: SU(3) kernels, ISA " << isa_name(isa) << " (CPU: " << cpu_feature_summary()
        << ")\n";
    std::snprintf(line, sizeof line,
                  "all data in cache: arrays of %d elements looped; thread CPU time, best of %d "
                  "runs, %.3g s per kernel\n",
                  kElements, kRuns, seconds);
    out << line;
    out << "flops per call as openQCD counts them: 66 per SU(3) x vector, 198 per 3x3 product "
           "(the u3alg products too)\n\n";
    out << "kernel                 precision    ns/call     Mflops  max|vec-scalar|\n";
    for (const Row& r : rows) {
        std::snprintf(line, sizeof line, "%-22s %-9s %10.3f %10.0f  %.1e%s\n", r.name.c_str(),
                      r.precision.c_str(), r.ns, r.flops / r.ns * 1e3, r.diff,
                      isa == Isa::scalar ? " (is the reference)" : "");
        out << line;
    }
    std::snprintf(line, sizeof line,
                  "\n||w - U^dag U w|| <= %.1e ||w|| (single), %.1e ||w|| (double)\n", trip_single,
                  trip_double);
    out << line;
}

}  // namespace

nlohmann::json bench_su3(Isa isa, double seconds, std::ostream& out) {
    const Su3Kernels& kernels = su3_kernels(isa);
    const Operands operands(20260412);
    const std::vector<Row> rows = measure(kernels, operands, seconds);
    const double trip_single = round_trip_error(kernels, operands.u_single, operands.w_single);
    const double trip_double = round_trip_error(kernels, operands.u, operands.w);
    print_table(isa, seconds, rows, trip_single, trip_double, out);

    nlohmann::json result = {
        {"isa", std::string(isa_name(isa))},
        {"elements", kElements},
        {"seconds_per_kernel", seconds},
        {"round_trip_error", {{"single", trip_single}, {"double", trip_double}}}};
    for (const Row& r : rows) {
        result["kernels"][r.name + "_" + r.precision] = {{"ns_per_call", r.ns},
                                                         {"mflops", r.flops / r.ns * 1e3},
                                                         {"flops_per_call", r.flops},
                                                         {"max_abs_diff_vs_scalar", r.diff}};
    }
    return result;
}

}  // namespace ukrun::lattice

// STREAM triad, a[i] = b[i] + s * c[i], over three arrays of doubles much larger than the
// last-level cache: this machine's sustainable memory bandwidth, the roofline that
// bench/run.sh compares the lattice kernels with.
//
// Usage: stream_triad [MIB_PER_ARRAY [REPETITIONS]]     (defaults: 256 MiB, 10)
// Counts 24 bytes per element as STREAM does (read b and c, write a; the write-allocate read
// of a is not counted). Runs with 1 thread and with 2 threads, each thread pinned to a core
// and touching first the part of the arrays it works on; prints the best repetition of each
// as a line `triad threads=N GB/s=X` (GB = 1e9 bytes).
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace {

struct Arrays {
    std::unique_ptr<double[]> a, b, c;
    std::size_t n;
};

void pin_to_core(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core % std::max(1u, std::thread::hardware_concurrency()), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Runs `work(begin, end)` on `threads` pinned threads over equal parts of [0, n).
template <typename Work>
void parallel(int threads, std::size_t n, const Work& work) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            pin_to_core(t);
            work(n * t / threads, n * (t + 1) / threads);
        });
    }
    for (auto& th : pool) th.join();
}

// Best bandwidth in GB/s over `repetitions` triads with `threads` threads.
double triad_gbps(Arrays& x, int threads, int repetitions) {
    parallel(threads, x.n, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) x.a[i] = 0, x.b[i] = 1, x.c[i] = 2;
    });
    const double scalar = 3.0;
    double best = 1e30;
    for (int r = 0; r < repetitions; ++r) {
        const auto start = std::chrono::steady_clock::now();
        parallel(threads, x.n, [&](std::size_t begin, std::size_t end) {
            double* __restrict a = x.a.get();
            const double* __restrict b = x.b.get();
            const double* __restrict c = x.c.get();
            for (std::size_t i = begin; i < end; ++i) a[i] = b[i] + scalar * c[i];
        });
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                            start)
                                  .count());
    }
    if (x.a[x.n / 2] != 1 + scalar * 2) {
        std::fprintf(stderr, "stream_triad: wrong result %g\n", x.a[x.n / 2]);
        std::exit(1);
    }
    return 24.0 * static_cast<double>(x.n) / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    const long mib = argc > 1 ? std::atol(argv[1]) : 256;
    const int repetitions = argc > 2 ? std::atoi(argv[2]) : 10;
    if (mib < 1 || repetitions < 1) {
        std::fprintf(stderr, "usage: stream_triad [MIB_PER_ARRAY >= 1 [REPETITIONS >= 1]]\n");
        return 2;
    }
    Arrays x;
    x.n = static_cast<std::size_t>(mib) * (1 << 20) / sizeof(double);
    x.a.reset(new double[x.n]);
    x.b.reset(new double[x.n]);
    x.c.reset(new double[x.n]);

    std::printf("stream_triad: a[i] = b[i] + s*c[i], 3 arrays of %ld MiB, 24 bytes counted per "
                "element, best of %d\n",
                mib, repetitions);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int threads : {1, 2}) {
        if (threads > cores) break;
        std::printf("triad threads=%d GB/s=%.2f\n", threads, triad_gbps(x, threads, repetitions));
    }
    return 0;
}

// `ukrun-lattice bench pingpong`: OSU-style blocking ping-pong between ranks 0 and 1, message
// sizes 8 B to 4 MiB; latency is half the round trip of the best of 5 timed blocks, bandwidth
// bytes per half trip; the mean over all blocks is reported too.
#include <algorithm>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <vector>

#include "ukrun/lattice/bench.hpp"

namespace ukrun::lattice {

namespace {

constexpr int kMinBytes = 8;
constexpr int kMaxBytes = 4 << 20;
constexpr int kWarmup = 10;             ///< untimed round trips per size
constexpr double kTargetSeconds = 0.1;  ///< timed time per size, roughly
constexpr int kBlocks = 5;              ///< timed blocks per size; the best one is reported
constexpr int kMinIterations = 2;       ///< round trips per block
constexpr int kMaxIterations = 500;
constexpr int kColumns = 5;  ///< bytes, round trips, latency us, MB/s, mean latency us
constexpr int kTag = 7;

/// `count` round trips of `bytes` bytes between ranks 0 and 1 (others return at once);
/// seconds elapsed on rank 0 and 1.
double round_trips(MPI_Comm comm, int rank, std::vector<char>& buffer, int bytes, int count) {
    const double start = MPI_Wtime();
    for (int n = 0; n < count; ++n) {
        if (rank == 0) {
            MPI_Send(buffer.data(), bytes, MPI_BYTE, 1, kTag, comm);
            MPI_Recv(buffer.data(), bytes, MPI_BYTE, 1, kTag, comm, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buffer.data(), bytes, MPI_BYTE, 0, kTag, comm, MPI_STATUS_IGNORE);
            MPI_Send(buffer.data(), bytes, MPI_BYTE, 0, kTag, comm);
        }
    }
    return MPI_Wtime() - start;
}

}  // namespace

nlohmann::json bench_pingpong(MPI_Comm comm, std::ostream& out) {
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (size < 2) {
        throw std::invalid_argument("bench pingpong needs at least 2 ranks, the job has " +
                                    std::to_string(size) + "; start it with mpirun -np 2");
    }

    std::vector<char> buffer(kMaxBytes, 'u');
    std::vector<double> rows;  // kColumns per size
    if (rank == 0) {
        out << "ping-pong between ranks 0 and 1 (" << size << " ranks in the job)\n";
        out << "      bytes  iterations  latency [us]  bandwidth [MB/s]  mean latency [us]\n";
    }
    for (int bytes = kMinBytes; bytes <= kMaxBytes; bytes *= 2) {
        // Warm up, then let rank 0 choose the block length from the warm-up time.
        const double warm = round_trips(comm, rank, buffer, bytes, kWarmup);
        int per_block = kMinIterations;
        if (rank == 0 && warm > 0) {
            const double wanted = kTargetSeconds / kBlocks / (warm / kWarmup);
            per_block =
                static_cast<int>(std::clamp<double>(wanted, kMinIterations, kMaxIterations));
        }
        MPI_Bcast(&per_block, 1, MPI_INT, 0, comm);

        // The best block is the figure (a loaded host adds noise, never speed); the mean of
        // all blocks is kept beside it.
        double best = 0, total = 0;
        for (int block = 0; block < kBlocks; ++block) {
            MPI_Barrier(comm);
            const double seconds = round_trips(comm, rank, buffer, bytes, per_block);
            best = block == 0 ? seconds : std::min(best, seconds);
            total += seconds;
        }
        const double half_trip = best / per_block / 2;
        const double mean_half_trip = total / (kBlocks * per_block) / 2;
        const double row[kColumns] = {static_cast<double>(bytes),
                                      static_cast<double>(kBlocks * per_block), half_trip * 1e6,
                                      bytes / half_trip / 1e6, mean_half_trip * 1e6};
        if (rank == 0) {
            char line[128];
            std::snprintf(line, sizeof line, "%11d  %10d  %12.2f  %16.1f  %17.2f\n", bytes,
                          kBlocks * per_block, row[2], row[3], row[4]);
            out << line << std::flush;
        }
        rows.insert(rows.end(), row, row + kColumns);
    }

    // Every rank returns rank 0's figures.
    MPI_Bcast(rows.data(), static_cast<int>(rows.size()), MPI_DOUBLE, 0, comm);
    nlohmann::json result{
        {"bench", "pingpong"}, {"ranks", size}, {"sizes", nlohmann::json::array()}};
    for (std::size_t n = 0; n < rows.size(); n += kColumns) {
        result["sizes"].push_back({{"bytes", static_cast<int>(rows[n])},
                                   {"iterations", static_cast<int>(rows[n + 1])},
                                   {"latency_us", rows[n + 2]},
                                   {"mbps", rows[n + 3]},
                                   {"mean_latency_us", rows[n + 4]}});
    }
    result["latency_8B_us"] = rows[2];
    result["bandwidth_4MiB_mbps"] = rows[rows.size() - kColumns + 3];
    return result;
}

}  // namespace ukrun::lattice

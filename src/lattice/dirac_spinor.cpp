// Spinor field linear algebra and random fields (see spinor.hpp).
#include <Random123/philox.h>

#include <cmath>

#include "ukrun/lattice/spinor.hpp"

namespace ukrun::lattice {

namespace {

constexpr int kReals = 24;  ///< real numbers in one Spinor

template <typename T>
const T* reals(const SpinorField<T>& field) {
    return reinterpret_cast<const T*>(field.data());
}

template <typename T>
T* reals(SpinorField<T>& field) {
    return reinterpret_cast<T*>(field.data());
}

template <typename T>
std::size_t real_count(const SpinorField<T>& field) {
    return field.size() * kReals;
}

}  // namespace

template <typename T>
void random_spinor(const Geometry& geometry, std::uint64_t seed, SpinorField<T>& field) {
    using Philox = r123::Philox4x32;
    field.resize(static_cast<std::size_t>(geometry.volume()));
    Philox rng;
    for (int site = 0; site < geometry.volume(); ++site) {
        auto global = static_cast<std::uint64_t>(geometry.global_index(site));
        Philox::key_type key = {
            {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
        T* out = reinterpret_cast<T*>(&field[static_cast<std::size_t>(site)]);
        for (std::uint32_t block = 0; block < kReals / 4; ++block) {
            Philox::ctr_type ctr = {{static_cast<std::uint32_t>(global),
                                     static_cast<std::uint32_t>(global >> 32), block, 0x5d1u}};
            Philox::ctr_type bits = rng(ctr, key);
            for (int k = 0; k < 4; ++k) {
                out[4 * block + k] = static_cast<T>(bits[k] * (2.0 / 4294967296.0) - 1.0);
            }
        }
    }
}

template <typename T>
std::complex<double> global_dot(MPI_Comm comm, const SpinorField<T>& a, const SpinorField<T>& b) {
    const T* x = reals(a);
    const T* y = reals(b);
    double local[2] = {0, 0};
    for (std::size_t k = 0; k < real_count(a); k += 2) {
        double xr = x[k], xi = x[k + 1], yr = y[k], yi = y[k + 1];
        local[0] += xr * yr + xi * yi;
        local[1] += xr * yi - xi * yr;
    }
    double global[2] = {0, 0};
    MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_SUM, comm);
    return {global[0], global[1]};
}

template <typename T>
double global_norm2(MPI_Comm comm, const SpinorField<T>& a) {
    const T* x = reals(a);
    double local = 0;
    for (std::size_t k = 0; k < real_count(a); ++k) local += static_cast<double>(x[k]) * x[k];
    double global = 0;
    MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_SUM, comm);
    return global;
}

template <typename T>
void axpy(double alpha, const SpinorField<T>& x, SpinorField<T>& y) {
    const T* a = reals(x);
    T* b = reals(y);
    const T t = static_cast<T>(alpha);
    for (std::size_t k = 0; k < real_count(x); ++k) b[k] += t * a[k];
}

template <typename T>
void xpby(const SpinorField<T>& x, double beta, SpinorField<T>& y) {
    const T* a = reals(x);
    T* b = reals(y);
    const T t = static_cast<T>(beta);
    for (std::size_t k = 0; k < real_count(x); ++k) b[k] = a[k] + t * b[k];
}

template <typename T>
void apply_gamma5(const SpinorField<T>& in, SpinorField<T>& out) {
    out.resize(in.size());
    for (std::size_t site = 0; site < in.size(); ++site) {
        const T* a = reinterpret_cast<const T*>(&in[site]);
        T* b = reinterpret_cast<T*>(&out[site]);
        for (int k = 0; k < kReals / 2; ++k) b[k] = a[k];
        for (int k = kReals / 2; k < kReals; ++k) b[k] = -a[k];
    }
}

template <typename To, typename From>
void convert_spinor(const SpinorField<From>& in, SpinorField<To>& out) {
    out.resize(in.size());
    const From* a = reals(in);
    To* b = reals(out);
    for (std::size_t k = 0; k < real_count(in); ++k) b[k] = static_cast<To>(a[k]);
}

template <typename T>
double max_abs_difference(const SpinorField<T>& a, const SpinorField<T>& b) {
    const T* x = reals(a);
    const T* y = reals(b);
    double worst = 0;
    for (std::size_t k = 0; k < real_count(a); ++k) {
        worst = std::fmax(worst, std::fabs(static_cast<double>(x[k]) - y[k]));
    }
    return worst;
}

#define UKRUN_SPINOR_INSTANCES(T)                                                    \
    template void random_spinor<T>(const Geometry&, std::uint64_t, SpinorField<T>&); \
    template std::complex<double> global_dot<T>(MPI_Comm, const SpinorField<T>&,     \
                                                const SpinorField<T>&);              \
    template double global_norm2<T>(MPI_Comm, const SpinorField<T>&);                \
    template void axpy<T>(double, const SpinorField<T>&, SpinorField<T>&);           \
    template void xpby<T>(const SpinorField<T>&, double, SpinorField<T>&);           \
    template void apply_gamma5<T>(const SpinorField<T>&, SpinorField<T>&);           \
    template double max_abs_difference<T>(const SpinorField<T>&, const SpinorField<T>&);

UKRUN_SPINOR_INSTANCES(float)
UKRUN_SPINOR_INSTANCES(double)
#undef UKRUN_SPINOR_INSTANCES

template void convert_spinor<float, double>(const SpinorField<double>&, SpinorField<float>&);
template void convert_spinor<double, float>(const SpinorField<float>&, SpinorField<double>&);
template void convert_spinor<double, double>(const SpinorField<double>&, SpinorField<double>&);
template void convert_spinor<float, float>(const SpinorField<float>&, SpinorField<float>&);

}  // namespace ukrun::lattice

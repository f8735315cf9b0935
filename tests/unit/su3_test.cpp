// Proves every SU(3) kernel in every ISA this CPU runs against a naive reference computed
// here in double with std::complex, on random SU(3) matrices made by Gram-Schmidt; that no
// kernel writes past n or reads past the end of its arrays; and that the dispatch refuses an
// ISA the CPU lacks.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstring>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ukrun/lattice/su3_kernels.hpp"

namespace ukrun::lattice {
// Names the ISA in gtest's messages (found by argument-dependent lookup).
void PrintTo(Isa isa, std::ostream* os) {
    *os << isa_name(isa);
}
}  // namespace ukrun::lattice

using namespace ukrun::lattice;
using Cd = std::complex<double>;
using Mat = std::array<std::array<Cd, 3>, 3>;

namespace {

constexpr int kCount = 37;  // odd, so no kernel can rely on pairs

Mat random_su3(std::mt19937_64& rng) {
    std::normal_distribution<double> gauss;
    Mat m;
    for (int r = 0; r < 2; ++r) {
        for (auto& z : m[r]) z = {gauss(rng), gauss(rng)};
        if (r == 1) {  // remove the component along row 0
            Cd dot = 0;
            for (int c = 0; c < 3; ++c) dot += std::conj(m[0][c]) * m[1][c];
            for (int c = 0; c < 3; ++c) m[1][c] -= dot * m[0][c];
        }
        double norm = 0;
        for (auto& z : m[r]) norm += std::norm(z);
        for (auto& z : m[r]) z /= std::sqrt(norm);
    }
    // Row 2 = conj(row 0 x row 1) gives a unitary matrix with determinant 1.
    for (int c = 0; c < 3; ++c) {
        const int a = (c + 1) % 3, b = (c + 2) % 3;
        m[2][c] = std::conj(m[0][a] * m[1][b] - m[0][b] * m[1][a]);
    }
    return m;
}

template <typename T>
Su3<T> to_su3(const Mat& m) {
    Su3<T> u;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            u.c[i][j] = {static_cast<T>(m[i][j].real()), static_cast<T>(m[i][j].imag())};
    return u;
}

template <typename T>
Mat from_su3(const Su3<T>& u) {
    Mat m;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) m[i][j] = {u.c[i][j].re, u.c[i][j].im};
    return m;
}

Mat dagger(const Mat& a) {
    Mat d;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) d[i][j] = std::conj(a[j][i]);
    return d;
}

Mat product(const Mat& a, const Mat& b) {
    Mat p{};
    for (int i = 0; i < 3; ++i)
        for (int l = 0; l < 3; ++l)
            for (int j = 0; j < 3; ++j) p[i][l] += a[i][j] * b[j][l];
    return p;
}

// The u(3) element as the naive reference reads openQCD's convention.
Mat alg_matrix(const U3Alg<double>& x) {
    const Cd i(0, 1);
    Mat m;
    m[0] = {i * x.c1, Cd(x.c4, x.c5), Cd(x.c6, x.c7)};
    m[1] = {Cd(-x.c4, x.c5), i * x.c2, Cd(x.c8, x.c9)};
    m[2] = {Cd(-x.c6, x.c7), Cd(-x.c8, x.c9), i * x.c3};
    return m;
}

// max |a - b| / max |b| over all entries.
double relative_diff(const Mat& a, const Mat& b) {
    double diff = 0, scale = 0;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            diff = std::max(diff, std::abs(a[i][j] - b[i][j]));
            scale = std::max(scale, std::abs(b[i][j]));
        }
    return diff / scale;
}

// An array of `count` T placed so that its last byte is the last byte before a page that
// cannot be read: a kernel reading past the end dies with SIGSEGV.
template <typename T>
class GuardedArray {
  public:
    explicit GuardedArray(int count) : bytes_(sizeof(T) * count) {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        mapped_ = (bytes_ / page_ + 2) * page_;
        base_ = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base_ == MAP_FAILED) throw std::runtime_error("mmap failed");
        char* guard = static_cast<char*>(base_) + mapped_ - page_;
        mprotect(guard, page_, PROT_NONE);
        data_ = reinterpret_cast<T*>(guard - bytes_);
    }
    ~GuardedArray() { munmap(base_, mapped_); }
    GuardedArray(const GuardedArray&) = delete;
    GuardedArray& operator=(const GuardedArray&) = delete;
    T* data() { return data_; }
    T& operator[](int k) { return data_[k]; }

  private:
    std::size_t bytes_, page_ = 0, mapped_ = 0;
    void* base_ = nullptr;
    T* data_ = nullptr;
};

class Su3Kernel : public ::testing::TestWithParam<Isa> {
  protected:
    void SetUp() override {
        if (!isa_supported(GetParam()))
            GTEST_SKIP() << isa_name(GetParam()) << " kernels not run: this CPU lacks them ("
                         << cpu_feature_summary() << ")";
        kernels_ = &su3_kernels(GetParam());
        for (int k = 0; k < kCount; ++k) {
            a_.push_back(random_su3(rng_));
            b_.push_back(random_su3(rng_));
            std::uniform_real_distribution<double> flat(-1, 1);
            U3Alg<double> x{flat(rng_), flat(rng_), flat(rng_), flat(rng_), flat(rng_),
                            flat(rng_), flat(rng_), flat(rng_), flat(rng_)};
            x_.push_back(x);
        }
    }

    // Runs a vector kernel of precision T on guarded arrays and checks it against the
    // reference op(a) * v, where op is the identity or the dagger.
    template <typename T>
    void check_vec(bool dag, double tol) {
        const Su3VecKernels<T>& vk = kernels_->vec<T>();
        GuardedArray<Su3<T>> u(kCount);
        GuardedArray<Su3Vector<T>> in(kCount);
        std::vector<Su3Vector<T>> out(kCount + 1);
        std::normal_distribution<double> gauss;
        std::vector<std::array<Cd, 3>> v(kCount);
        for (int k = 0; k < kCount; ++k) {
            u[k] = to_su3<T>(a_[k]);
            for (int c = 0; c < 3; ++c) {
                in[k].c[c] = {static_cast<T>(gauss(rng_)), static_cast<T>(gauss(rng_))};
                v[k][c] = {in[k].c[c].re, in[k].c[c].im};
            }
        }
        std::memset(&out[kCount], 0x5a, sizeof(Su3Vector<T>));
        const Su3Vector<T> sentinel = out[kCount];

        (dag ? vk.dag_mul : vk.mul)(u.data(), in.data(), out.data(), kCount);

        double worst = 0;
        for (int k = 0; k < kCount; ++k) {
            const Mat m = dag ? dagger(from_su3(u[k])) : from_su3(u[k]);
            double diff = 0, scale = 0;
            for (int i = 0; i < 3; ++i) {
                Cd ref = 0;
                for (int j = 0; j < 3; ++j) ref += m[i][j] * v[k][j];
                diff = std::max(diff, std::abs(Cd(out[k].c[i].re, out[k].c[i].im) - ref));
                scale = std::max(scale, std::abs(ref));
            }
            worst = std::max(worst, diff / scale);
        }
        EXPECT_LT(worst, tol) << (dag ? "u^dagger v" : "u v") << " in " << isa_name(GetParam());
        EXPECT_EQ(std::memcmp(&out[kCount], &sentinel, sizeof(sentinel)), 0)
            << "kernel wrote past element n - 1";
    }

    // Checks a double matrix kernel w = f(k) against the naive product `ref(k)`.
    template <typename Run, typename Ref>
    void check_mat(const char* name, Run run, Ref ref) {
        std::vector<Su3<double>> w(kCount + 1);
        std::memset(&w[kCount], 0x5a, sizeof(Su3<double>));
        const Su3<double> sentinel = w[kCount];
        run(w.data());
        double worst = 0;
        for (int k = 0; k < kCount; ++k)
            worst = std::max(worst, relative_diff(from_su3(w[k]), ref(k)));
        EXPECT_LT(worst, 1e-13) << name << " in " << isa_name(GetParam());
        EXPECT_EQ(std::memcmp(&w[kCount], &sentinel, sizeof(sentinel)), 0)
            << name << " wrote past element n - 1";
    }

    std::vector<Su3<double>> matrices(const std::vector<Mat>& m) {
        std::vector<Su3<double>> out;
        for (const Mat& x : m) out.push_back(to_su3<double>(x));
        return out;
    }

    const Su3Kernels* kernels_ = nullptr;
    std::mt19937_64 rng_{20260412};
    std::vector<Mat> a_, b_;
    std::vector<U3Alg<double>> x_;
};

TEST_P(Su3Kernel, MatrixTimesVectorSingle) {
    check_vec<float>(false, 1e-6);
}
TEST_P(Su3Kernel, DaggerTimesVectorSingle) {
    check_vec<float>(true, 1e-6);
}
TEST_P(Su3Kernel, MatrixTimesVectorDouble) {
    check_vec<double>(false, 1e-13);
}
TEST_P(Su3Kernel, DaggerTimesVectorDouble) {
    check_vec<double>(true, 1e-13);
}

TEST_P(Su3Kernel, MatrixProductsDouble) {
    const auto u = matrices(a_), v = matrices(b_);
    const Su3Kernels& kt = *kernels_;
    struct Case {
        const char* name;
        Su3MatFn fn;
        bool dag_u, dag_v;
    };
    for (const Case& c :
         {Case{"su3xsu3", kt.su3xsu3, false, false}, Case{"su3dagxsu3", kt.su3dagxsu3, true, false},
          Case{"su3xsu3dag", kt.su3xsu3dag, false, true},
          Case{"su3dagxsu3dag", kt.su3dagxsu3dag, true, true}}) {
        check_mat(
            c.name, [&](Su3<double>* w) { c.fn(u.data(), v.data(), w, kCount); },
            [&](int k) {
                return product(c.dag_u ? dagger(a_[k]) : a_[k], c.dag_v ? dagger(b_[k]) : b_[k]);
            });
    }
}

TEST_P(Su3Kernel, AlgebraProductsDouble) {
    const auto u = matrices(a_);
    const Su3Kernels& kt = *kernels_;
    check_mat(
        "su3xu3alg", [&](Su3<double>* w) { kt.su3xu3alg(u.data(), x_.data(), w, kCount); },
        [&](int k) { return product(a_[k], alg_matrix(x_[k])); });
    check_mat(
        "su3dagxu3alg", [&](Su3<double>* w) { kt.su3dagxu3alg(u.data(), x_.data(), w, kCount); },
        [&](int k) { return product(dagger(a_[k]), alg_matrix(x_[k])); });
    check_mat(
        "u3algxsu3", [&](Su3<double>* w) { kt.u3algxsu3(x_.data(), u.data(), w, kCount); },
        [&](int k) { return product(alg_matrix(x_[k]), a_[k]); });
    check_mat(
        "u3algxsu3dag", [&](Su3<double>* w) { kt.u3algxsu3dag(x_.data(), u.data(), w, kCount); },
        [&](int k) { return product(alg_matrix(x_[k]), dagger(a_[k])); });
}

TEST_P(Su3Kernel, ZeroCountTouchesNothing) {
    Su3Vector<double> out{};
    out.c[0].re = 42;
    kernels_->dbl.mul(nullptr, nullptr, &out, 0);
    EXPECT_EQ(out.c[0].re, 42);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Su3Kernel, ::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

TEST(Su3Random, GramSchmidtGivesSpecialUnitary) {
    std::mt19937_64 rng(7);
    const Mat m = random_su3(rng);
    Mat id{};
    for (int i = 0; i < 3; ++i) id[i][i] = 1;
    EXPECT_LT(relative_diff(product(m, dagger(m)), id), 1e-14);
    const Cd det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                   m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                   m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    EXPECT_NEAR(det.real(), 1.0, 1e-14);
    EXPECT_NEAR(det.imag(), 0.0, 1e-14);
}

TEST(Su3Alg, ExpansionIsAntiHermitianInOpenQcdLayout) {
    const U3Alg<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
    const Mat m = from_su3(u3alg_to_su3(x));
    EXPECT_LT(relative_diff(m, alg_matrix(x)), 1e-15);
    Mat minus_dag = dagger(m);
    for (auto& row : minus_dag)
        for (auto& z : row) z = -z;
    EXPECT_LT(relative_diff(m, minus_dag), 1e-15);
}

TEST(Su3Dispatch, UnsupportedIsaIsRefusedWithTheCpuFeatures) {
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (isa_supported(isa)) {
            EXPECT_EQ(su3_kernels(isa).isa, isa);
            continue;
        }
        try {
            su3_kernels(isa);
            FAIL() << "no exception for " << isa_name(isa);
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("does not support"), std::string::npos);
        }
    }
    EXPECT_EQ(su3_kernels(Isa::scalar).isa, Isa::scalar);
}

}  // namespace

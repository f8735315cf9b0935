// `ukrun doctor`: command-line parsing only; the checks are in doctor.cpp.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "ukrun/runner/cli.hpp"
#include "ukrun/runner/doctor.hpp"

namespace ukrun::runner {

namespace po = boost::program_options;

int cmd_doctor(const Args& args) {
    DoctorOptions options;
    std::string nanos_dir;
    po::options_description desc(
        "usage: ukrun doctor [options]\n\n"
        "Checks what this host can run: mpirun and PMIx, srun, network namespaces and bridges,\n"
        "QEMU, whether KVM really works (a bounded probe boot) or only TCG, a Nanos kernel,\n"
        "podman or Charliecloud. Exit 0 when the default process backend can run, else 69.\n\n"
        "options");
    desc.add_options()("help,h", "print this help")(
        "nanos-dir", po::value(&nanos_dir), "directory holding Nanos's kernel.img and boot.img")(
        "kvm-timeout", po::value(&options.kvm_timeout_ms)->default_value(options.kvm_timeout_ms),
        "milliseconds the KVM probe guest gets to exit");
    po::variables_map vm;
    if (const auto stop = parse_subcommand_options("doctor", args, desc, vm)) return *stop;
    if (!nanos_dir.empty()) options.nanos_dir = nanos_dir;

    const auto checks = run_doctor(options);
    std::cout << format_checks(checks);
    const bool ready = process_backend_ready(checks);
    std::cout << (ready ? "\nThe default job (process backend) can run: ukrun run\n"
                        : "\nThe default job cannot run here: fix the rows above.\n");
    return ready ? kExitOk : kExitUnavailable;
}

}  // namespace ukrun::runner

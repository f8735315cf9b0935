# Sourced by setup.sh and test.sh: the Debian 12 packages ukrun needs, installed when missing.
UKRUN_PACKAGES=(
    build-essential cmake pkg-config git
    libopenmpi-dev openmpi-bin
    libboost-program-options-dev libhdf5-dev hdf5-tools libspdlog-dev
    libgtest-dev libgmock-dev libtomlplusplus-dev librandom123-dev
    nlohmann-json3-dev libnl-route-3-dev
    iproute2 iputils-ping procps
    qemu-system-x86 qemu-utils
)

ukrun_install_packages() {
    local missing=()
    for pkg in "${UKRUN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "ukrun: missing packages: ${missing[*]}; run this script as root (sudo)" >&2
        return 1
    fi
    echo "ukrun: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ukrun_build() {
    local build_dir="$1"
    cmake -S "$UKRUN_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$build_dir" -j "$(nproc)"
}

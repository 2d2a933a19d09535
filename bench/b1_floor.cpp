// B1's floor: the least any tool has to do for the B1 host state, timed on the same simulated host.
// It issues exactly B2's minimum writes (sriov_numvfs per PF, driver_override + drivers_probe per VF,
// create per mdev), each with open/write/close as echo, driverctl and hostdevd do, and reads nothing:
// no check of what is there, no in-use check, no confirmation. The VFs are bound by THREADS threads at
// once (default 8, as many as hostdevd's executor uses: kParallelBinds), each VF's two writes in order.
// No real tool can be faster, so (status quo time) / (floor time) is the largest B1 ratio any tool can
// reach on this host and machine.
//
// Usage: bench_b1_floor DIR [THREADS]   (DIR from bench/gen_host.py: pfs.list, vfs.list, mdevs.list)
#include "common/parallel_for.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

bool put(const std::string& path, const std::string& value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        std::cerr << "bench_b1_floor: open " << path << ": " << std::strerror(errno) << "\n";
        return false;
    }
    ssize_t n = ::write(fd, value.data(), value.size());
    int error = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(value.size())) {
        std::cerr << "bench_b1_floor: write \"" << value << "\" to " << path << ": "
                  << (n < 0 ? std::strerror(error) : "short write") << "\n";
        return false;
    }
    return true;
}

// Calls `each` with the whitespace-separated words of every line of DIR/NAME; false on the first failure.
template <typename F>
bool for_each_line(const std::string& dir, const char* name, F each) {
    std::ifstream in(dir + "/" + name);
    if (!in) {
        std::cerr << "bench_b1_floor: cannot read " << dir << "/" << name << "\n";
        return false;
    }
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string a, b, c;
        words >> a >> b >> c;
        if (!a.empty() && !each(a, b, c))
            return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && std::atoi(argv[2]) < 1)) {
        std::cerr << "usage: bench_b1_floor DIR [THREADS]\n";
        return 2;
    }
    const std::string dir = argv[1];
    const size_t threads = argc == 3 ? static_cast<size_t>(std::atoi(argv[2])) : 8;
    const std::string devices = "/sys/bus/pci/devices/";
    bool ok =
        for_each_line(dir, "pfs.list", [&](const std::string& pf, const std::string& n, const std::string&) {
            return put(devices + pf + "/sriov_numvfs", n);
        });
    std::vector<std::string> vfs;
    ok = ok &&
         for_each_line(dir, "vfs.list", [&](const std::string& vf, const std::string&, const std::string&) {
             vfs.push_back(vf);
             return true;
         });
    std::atomic<bool> vfs_ok{true};
    if (ok) {
        hostdevd::parallel_for(0, vfs.size(), threads, [&](size_t i, size_t) {
            if (vfs_ok && (!put(devices + vfs[i] + "/driver_override", "vfio-pci") ||
                           !put("/sys/bus/pci/drivers_probe", vfs[i])))
                vfs_ok = false;
        });
    }
    ok = ok && vfs_ok;
    ok = ok &&
         for_each_line(dir, "mdevs.list",
                       [&](const std::string& uuid, const std::string& parent, const std::string& type) {
                           return put(devices + parent + "/mdev_supported_types/" + type + "/create", uuid);
                       });
    return ok ? 0 : 1;
}

// hostdevd: the daemon. Thin: options, logging, then the reconcile loop in daemon.cpp.
#include "daemon/daemon.hpp"
#include "daemon/journal.hpp"

#include <cerrno>
#include <cstdlib>
#include <getopt.h>
#include <iostream>
#include <malloc.h>
#include <sdbus-c++/Error.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace {

const char* const kUsage = R"(usage: hostdevd [--config-dir DIR] [--ready-timeout SECONDS] [--debug]
       hostdevd --version

Keeps SR-IOV VFs, driver bindings, mdevs and vGPU profiles as /etc/hostdevd/*.toml says, without ever
disrupting a device in use, and reports on the system bus as io.hostdevd1.
  --config-dir DIR   configuration directory (default /etc/hostdevd)
  --ready-timeout S  under systemd, report READY=1 after S seconds (default 60) even if devices are
                     still waiting for their drivers (docs/daemon.md); 1 to 3600
  --debug            log every uevent and decision
  --version          print the version
See hostdevd(8), hostdevctl(8) and hostdevd.toml(5).
)";

} // namespace

int main(int argc, char** argv) {
    // One malloc arena for every thread. glibc gives each new thread its own arena (up to 8 per core)
    // and never hands one back, so the short-lived device readers and bind threads would each leave
    // a partly used arena behind: +3.9 MiB RSS on the 4096-VF host (benchmarks.md B7, docs/benchmarks.md).
    // The threads allocate little and rarely at the same time, so sharing one arena costs nothing.
    mallopt(M_ARENA_MAX, 1);
    hostdevd::DaemonOptions options;
    bool debug = false;
    static const option long_options[] = {
        {"config-dir", required_argument, nullptr, 'c'},
        {"debug", no_argument, nullptr, 'd'},
        {"ready-timeout", required_argument, nullptr, 'r'},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'v'},
        {nullptr, 0, nullptr, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", long_options, nullptr)) != -1) {
        switch (c) {
        case 'c':
            options.config_dir = optarg;
            break;
        case 'd':
            debug = true;
            break;
        case 'r': {
            char* end = nullptr;
            errno = 0;
            long seconds = std::strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || seconds < 1 || seconds > 3600) {
                std::cerr << "hostdevd: --ready-timeout takes a number of seconds from 1 to 3600, not '"
                          << optarg << "'\n";
                return 2;
            }
            options.ready_timeout = std::chrono::seconds(seconds);
            break;
        }
        case 'h':
            std::cout << kUsage;
            return 0;
        case 'v':
            std::cout << "hostdevd " << HOSTDEVD_VERSION << '\n';
            return 0;
        default:
            std::cerr << "hostdevd: bad option " << argv[optind - 1] << "\n" << kUsage;
            return 2;
        }
    }
    if (optind < argc) {
        std::cerr << "hostdevd: unexpected argument '" << argv[optind] << "'\n" << kUsage;
        return 2;
    }
    // Under systemd: native journal entries with priorities and fields; elsewhere plain text (journal.hpp).
    hostdevd::journal::init(debug);
    hostdevd::block_loop_signals();
    try {
        hostdevd::Daemon daemon(options);
        return daemon.run();
    } catch (const sdbus::Error& e) {
        spdlog::critical("D-Bus: {}: {}", e.getName(), e.getMessage());
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
    }
    return 1;
}

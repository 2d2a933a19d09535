// Random scenario material for the safety tests, drawn from a host description (examples/hosts/*.toml)
// with a seeded generator, so every scenario is reproducible from (seed, host, index).
#pragma once

#include "host_spec.hpp"

#include <random>
#include <set>
#include <string>
#include <vector>

namespace safety {

using Rng = std::mt19937_64;

// A valid hostdevd configuration (one TOML file) for PFs, VFs, mdev parents and vGPU VFs of `host`, with
// random destroy policies: [policy] destroy (unset, "ask" or "when-idle") and each entry's own.
struct RandomConfig {
    std::string text;
    // Addresses of the PFs and mdev parents whose every selecting entry says destroy = "when-idle" (its
    // own or [policy]'s): hostdevd may destroy their VFs, vGPUs and mdevs without the operator's consent.
    std::set<std::string> may_destroy;
    bool global_when_idle =
        false; // [policy] destroy = "when-idle": for [[device]] entries (no key of their own)
};
RandomConfig random_config(const simhost::HostSpec& host, Rng& rng);

// `simhost ctl` argument lists that inject 0..2 random faults (failing writes with an errno the kernel
// can return, fewer VFs than asked, late VF probing, slow writes).
std::vector<std::vector<std::string>> random_faults(const simhost::HostSpec& host, Rng& rng);

// `simhost ctl` argument lists that make 0..3 present devices in use, chosen among what exists now in the
// simulated /sys: a VFIO group fd, QEMU's fds, a device fd alone (6.1 or 6.18 fdinfo) or a device cdev held
// by a process, a netdev up, a netdev enslaved to a bridge; or {"fake-opath"|"fake-devnull", DEVICE}: an
// unprivileged process's fake holder that must not count (the test starts it, not simhost).
std::vector<std::vector<std::string>> random_holders(Rng& rng);

// Errnos the kernel returns for the writes hostdevd makes (sysfs-abi.md; iov.c, bus.c, dd.c,
// mdev_sysfs.c, the vendor drivers' probe and sriov_configure).
const std::vector<std::string>& kernel_write_errnos();

} // namespace safety

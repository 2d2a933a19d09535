// Consumers' claims (safety.md "In use: the signals"): a libvirt domain, running or shut off, that
// references a PCI device or an mdev claims it, and a claimed device is in use for every destructive or
// rebinding action, although no process has it open. The holder string names the domain and its state:
// "libvirt domain 'web1' (shut off)".
//
// Read through libvirt's own API on a read-only connection to qemu:///system (the monolithic libvirtd
// and the modular virtqemud both answer it). libvirt.so.0 is loaded with dlopen when first needed: a
// host without libvirt loads nothing and nothing changes (docs/safety.md "Consumers' claims").
//
// Unknown counts as in use: when libvirt is configured on this host (a socket of its daemon exists under
// /run/libvirt, or domain definitions exist in /etc/libvirt/qemu) but its claims cannot be read (the
// daemon does not answer within the timeout, refuses, or the library is missing), every device and mdev
// gets the holder "libvirt ... (unknown counts as in use)" and nothing destructive runs.
#pragma once

#include "model/observed.hpp"
#include "sysfs/layout.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd {

struct ObservedChanges;

struct LibvirtClaims {
    // PCI address ("0000:01:00.1") or mdev UUID (lower case) -> the domains claiming it, as holder strings.
    std::map<std::string, std::vector<std::string>> objects;
    // Non-empty when libvirt is configured but its claims could not be read: the holder every device and
    // mdev gets ("libvirt at qemu:///system did not answer within 5 s (unknown counts as in use)").
    std::string unknown;

    std::vector<std::string> holders_of(const std::string& object) const;
    bool operator==(const LibvirtClaims&) const = default;
};

// Where libvirt is looked for. The defaults are the system's; tests use them too (inside the simulated
// host's private /run and a tmpfs over /etc/libvirt).
struct LibvirtSource {
    std::string uri = "qemu:///system";
    std::string run_dir = "/run/libvirt";         // libvirt-sock-ro, virtqemud-sock-ro, ...
    std::string domain_dir = "/etc/libvirt/qemu"; // persistent domain definitions (<name>.xml)
    std::string library = "libvirt.so.0";
    std::chrono::milliseconds timeout{5000}; // the whole read: connect, list, every domain's XML
};

// Whether libvirt is configured here: a daemon socket for the qemu driver exists, or domain definitions
// do. Neither: libvirt is not used on this host and no claims are read.
bool libvirt_configured(const LibvirtSource& source);

// The claims right now. Blocks at most `source.timeout` (the libvirt calls run on a helper thread that is
// left behind if libvirt hangs; while it hangs, further reads answer "unknown" at once). Thread-safe.
LibvirtClaims read_libvirt_claims(const LibvirtSource& source = {});

// The claims for an observation made through `layout`: read only on the live system (root "/"); a fixture
// tree has no libvirt of its own.
LibvirtClaims claims_for(const SysfsLayout& layout, const LibvirtSource& source = {});

// The executor's re-check right before a destructive or rebinding write (safety.md "Checks run
// immediately before each disruptive write"): fresh claims, of which one read serves the checks that
// follow within `reuse` (the VFs of one PF resize are asked about one by one). Thread-safe.
class FreshClaims {
public:
    explicit FreshClaims(const SysfsLayout& layout, LibvirtSource source = {},
                         std::chrono::milliseconds reuse = std::chrono::milliseconds(200))
        : layout_(layout), source_(std::move(source)), reuse_(reuse) {}
    std::vector<std::string> holders_of(const std::string& object);

private:
    const SysfsLayout& layout_;
    LibvirtSource source_;
    std::chrono::milliseconds reuse_;
    std::mutex mutex_;
    std::optional<std::chrono::steady_clock::time_point> read_at_;
    LibvirtClaims claims_;
};

// The devices a domain's XML claims: `<hostdev type='pci'>` and `<interface type='hostdev'>` PCI source
// addresses ("0000:01:00.1") and `<hostdev type='mdev'>` UUIDs (lower case). Throws std::runtime_error
// on XML that does not parse. Pure.
std::vector<std::string> claimed_by_domain_xml(const std::string& xml);

// "libvirt domain 'web1' (shut off)". `state` is virsh's word for virDomainState.
std::string describe_domain_claim(const std::string& name, const std::string& state);

// Appends the claims to the holders of the devices and mdevs they name (and the unknown holder to every
// device and mdev). Call after every observation or holder refresh, with the whole claim set: a holder
// refresh recomputes the holders it looks at without the claims. Objects whose holders change go into
// `changes` when given.
void add_claims(ObservedState& state, const LibvirtClaims& claims, ObservedChanges* changes = nullptr);

} // namespace hostdevd

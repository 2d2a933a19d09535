// The cache bookkeeping of the model (kernel_cache.cpp, docs/simhost.md "Caching"): inode numbers, which
// invalidations a change queues, and their order relative to the change's uevents. Through the Kernel's
// by-inode API, as the FUSE runtime uses it.
#include "support.hpp"

using namespace simtest;
using simhost::Invalidation;
using simhost::Kernel;
using simhost::NodeAttr;

namespace {
const std::string kPfDir = "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0";

// Looks up every component of a canonical path (no symlinks), as the kernel's path walk does.
uint64_t walk(Kernel& k, const std::string& path) {
    uint64_t ino = Kernel::kRootIno;
    size_t start = 1;
    while (start < path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        NodeAttr attr;
        INFO("lookup " << path.substr(0, end));
        REQUIRE(k.lookup(ino, path.substr(start, end - start), attr) == 0);
        ino = attr.ino;
        start = end + 1;
    }
    return ino;
}

// Invalidations and uevents in the order the runtime receives them.
struct Outputs {
    std::mutex mu;
    std::vector<std::string> log; // "entry INO NAME", "node INO [listing]", "uevent ACTION DEVPATH-tail"
    std::vector<Invalidation> invalidations;

    explicit Outputs(Kernel& k) {
        k.on_invalidate([this](const std::vector<Invalidation>& batch) {
            std::lock_guard l(mu);
            for (const auto& i : batch) {
                invalidations.push_back(i);
                log.push_back(i.name.empty() ? "node " + std::to_string(i.ino) + (i.listing ? " listing" : "")
                                             : "entry " + std::to_string(i.ino) + " " + i.name);
            }
        });
        k.on_uevent([this](const simhost::Uevent& e) {
            std::lock_guard l(mu);
            const std::string p = e.get("DEVPATH");
            log.push_back("uevent " + e.get("ACTION") + " " + p.substr(p.rfind('/') + 1));
        });
    }
    size_t index_of(const std::string& line) {
        std::lock_guard l(mu);
        auto it = std::find(log.begin(), log.end(), line);
        return it == log.end() ? log.size() : static_cast<size_t>(it - log.begin());
    }
    void clear() {
        std::lock_guard l(mu);
        log.clear();
        invalidations.clear();
    }
};
} // namespace

TEST_CASE("cache: a node keeps its inode and a removed and re-added node is a new inode") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    NodeAttr vendor1, vendor2, driver1, driver2;
    REQUIRE(k->lookup(pf, "vendor", vendor1) == 0);
    REQUIRE(k->lookup(pf, "vendor", vendor2) == 0);
    CHECK(vendor1.ino == vendor2.ino);
    REQUIRE(k->lookup(pf, "driver", driver1) == 0);
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    NodeAttr gone;
    CHECK(k->lookup(pf, "driver", gone) == -ENOENT);
    CHECK(k->getattr(driver1.ino, gone) == -ENOENT); // the kernel's old inode is dead, not reused
    REQUIRE(k->write("/bus/pci/drivers/i40e/bind", "0000:3b:00.0") == 0);
    REQUIRE(k->lookup(pf, "driver", driver2) == 0);
    CHECK(driver2.ino != driver1.ino);
    REQUIRE(k->lookup(pf, "vendor", vendor2) == 0);
    CHECK(vendor2.ino == vendor1.ino);
}

TEST_CASE("cache: fixed files report their text's length and are marked fixed, others say 4096") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    NodeAttr attr;
    REQUIRE(k->lookup(pf, "vendor", attr) == 0);
    CHECK(attr.fixed);
    CHECK(attr.size == std::string("0x8086\n").size());
    REQUIRE(k->lookup(pf, "modalias", attr) == 0);
    CHECK(attr.fixed);
    REQUIRE(k->lookup(pf, "driver_override", attr) == 0);
    CHECK_FALSE(attr.fixed);
    CHECK(attr.size == 4096);
    REQUIRE(k->lookup(pf, "sriov_numvfs", attr) == 0);
    CHECK_FALSE(attr.fixed);
    REQUIRE(k->lookup(pf, "config", attr) == 0);
    CHECK_FALSE(attr.fixed);
    CHECK(attr.size == 256);
}

TEST_CASE("cache: a change invalidates what the kernel was told about, entries first, before its uevents") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    const uint64_t vfio_dir = walk(*k, "/bus/pci/drivers/vfio-pci");
    Outputs out(*k);
    REQUIRE(k->write(kPfDir + "/driver_override", "vfio-pci") == 0);
    CHECK(out.log.empty()); // a text read with direct I/O: nothing the kernel could cache changed
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    // The PF directory lost its driver link; /bus/pci/drivers/i40e (never looked up) lost an entry too,
    // but the kernel holds nothing of it.
    const size_t entry = out.index_of("entry " + std::to_string(pf) + " driver");
    const size_t listing = out.index_of("node " + std::to_string(pf) + " listing");
    const size_t uevent = out.index_of("uevent unbind 0000:3b:00.0");
    CHECK(entry < listing);
    CHECK(listing < uevent);
    CHECK(uevent < out.log.size());
    for (const auto& i : out.invalidations) {
        NodeAttr attr;
        INFO("invalidation of inode " << i.ino << " " << i.name);
        CHECK((i.ino == pf || i.ino == Kernel::kRootIno || k->getattr(i.ino, attr) == 0));
    }
    out.clear();
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0); // binds vfio-pci (override)
    CHECK(out.index_of("entry " + std::to_string(pf) + " driver") < out.index_of("uevent bind 0000:3b:00.0"));
    CHECK(out.index_of("entry " + std::to_string(vfio_dir) + " 0000:3b:00.0") <
          out.index_of("uevent bind 0000:3b:00.0"));
    CHECK(out.index_of("node " + std::to_string(vfio_dir) + " listing") <
          out.index_of("uevent bind 0000:3b:00.0"));
}

TEST_CASE("cache: nothing is invalidated below a directory the kernel never looked up") {
    auto k = host("intel-x710.toml");
    Outputs out(*k);
    REQUIRE(k->write("/bus/pci/devices/0000:3b:00.0/sriov_numvfs", "2") == 0);
    REQUIRE(k->write("/bus/pci/devices/0000:3b:00.0/sriov_numvfs", "0") == 0);
    CHECK(out.invalidations.empty());
    CHECK_FALSE(out.log.empty()); // the uevents still go out
}

TEST_CASE("cache: VFs going away invalidate their entries in the directories the kernel holds") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write("/bus/pci/devices/0000:3b:00.0/sriov_numvfs", "2") == 0);
    const uint64_t bridge = walk(*k, "/devices/pci0000:3a/0000:3a:00.0");
    const uint64_t bus_devices = walk(*k, "/bus/pci/devices");
    const uint64_t vf = walk(*k, "/devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0");
    NodeAttr attr;
    REQUIRE(k->lookup(bus_devices, "0000:3b:02.0", attr) == 0);
    Outputs out(*k);
    REQUIRE(k->write("/bus/pci/devices/0000:3b:00.0/sriov_numvfs", "0") == 0);
    CHECK(out.index_of("entry " + std::to_string(bridge) + " 0000:3b:02.0") < out.log.size());
    CHECK(out.index_of("entry " + std::to_string(bus_devices) + " 0000:3b:02.0") < out.log.size());
    CHECK(out.index_of("node " + std::to_string(bridge) + " listing") <
          out.index_of("uevent remove 0000:3b:02.0"));
    CHECK(k->getattr(vf, attr) == -ENOENT);
}

TEST_CASE("cache: a full rebuild keeps the inodes of unchanged nodes and reports what changed") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    const uint64_t netdev = walk(*k, kPfDir + "/net/ens1f0");
    NodeAttr vendor_before, vendor_after, attr;
    REQUIRE(k->lookup(pf, "vendor", vendor_before) == 0);
    Outputs out(*k);
    std::string error;
    REQUIRE(k->set_master("ens1f0", "bond0", error) == 0); // netdev links: a rebuild
    REQUIRE(k->lookup(pf, "vendor", vendor_after) == 0);
    CHECK(vendor_after.ino == vendor_before.ino);
    CHECK(out.index_of("entry " + std::to_string(netdev) + " master") < out.log.size());
    CHECK(out.index_of("node " + std::to_string(netdev) + " listing") < out.log.size());
    CHECK(k->lookup(netdev, "master", attr) == 0);
}

TEST_CASE("cache: a directory's version changes with its listing only") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    NodeAttr before, after;
    REQUIRE(k->getattr(pf, before) == 0);
    REQUIRE(k->write(kPfDir + "/driver_override", "vfio-pci") == 0);
    REQUIRE(k->getattr(pf, after) == 0);
    CHECK(after.version == before.version);
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    REQUIRE(k->getattr(pf, after) == 0);
    CHECK(after.version != before.version);
}

TEST_CASE("cache: reset forgets every inode and invalidates the root's entries") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    Outputs out(*k);
    k->reset();
    NodeAttr attr;
    CHECK(k->getattr(pf, attr) == -ENOENT);
    CHECK(out.index_of("entry " + std::to_string(Kernel::kRootIno) + " devices") < out.log.size());
    CHECK(out.index_of("node " + std::to_string(Kernel::kRootIno) + " listing") < out.log.size());
    CHECK(walk(*k, kPfDir) != pf);
}

TEST_CASE("cache: a write by inode is logged with the canonical path") {
    auto k = host("intel-x710.toml");
    const uint64_t pf = walk(*k, kPfDir);
    NodeAttr numvfs;
    REQUIRE(k->lookup(pf, "sriov_numvfs", numvfs) == 0);
    std::string path;
    CHECK(k->write(numvfs.ino, "1", &path) == 0);
    CHECK(path == kPfDir + "/sriov_numvfs");
    const auto log = k->write_log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].path == "/sys" + kPfDir + "/sriov_numvfs");
    std::string text;
    CHECK(k->read(numvfs.ino, text) == 0);
    CHECK(text == "1\n");
}

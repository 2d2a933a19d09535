// The sysfs tree: materialised from the model state (patched in place for binds, mdevs, VFs and hot-plug;
// rebuilt lazily after other structural changes) with the
// real kernel's layout (sysfs-abi.md §1-4): device directories under /devices/pci<dom>:<bus>/..., relative
// links from /bus, /class, /kernel/iommu_groups and /module, attribute formats from pci-sysfs.c, iov.c,
// mdev_sysfs.c and net-sysfs.c. File contents are computed at read time from the state.
#include "kernel_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace simhost {

namespace {

constexpr unsigned kRO = 0444, kRW = 0644, kWO = 0200;

// Adds nodes to a tree. A fresh build (rebuild()) fills an empty map and leaves inode numbers to the
// diff; a patch (the incremental updates) works on the live tree and reports every node it adds or
// removes to the cache bookkeeping (kernel_cache.cpp), which assigns inodes and queues invalidations.
class Builder {
public:
    using Tree = std::map<std::string, Node, std::less<>>;
    explicit Builder(Tree& fresh) : t_(fresh) { t_["/"] = Node{}; }
    struct Patch {};
    Builder(const Impl& k, Patch) : t_(k.tree), k_(&k) {}
    void dir(const std::string& path) {
        if (auto it = t_.find(path); it != t_.end()) {
            if (it->second.kind == NodeKind::Directory)
                return;
            remove(path);
        }
        auto parent = parent_dir(path);
        dir(parent);
        Node& n = create(path, parent);
        n.kind = NodeKind::Directory;
        n.mode = 0755;
        added(path, n);
    }
    Node& file(const std::string& path, unsigned mode, Reader r, Writer w = nullptr) {
        bool fresh = false;
        Node& n = add(path, NodeKind::File, mode, fresh);
        n.read = std::move(r);
        n.write = std::move(w);
        if (fresh)
            added(path, n);
        return n;
    }
    // A file whose text depends on the path alone (identity attributes): cached by the kernel for the
    // inode's life, never invalidated.
    Node& fixed(const std::string& path, Reader r, unsigned mode = kRO) {
        Node& n = file(path, mode, std::move(r));
        n.fixed = true;
        return n;
    }
    void text(const std::string& path, std::string value) {
        fixed(path, [v = std::move(value)](const Impl&) { return v; });
    }
    void link(const std::string& path, const std::string& target_abs) {
        std::string target = rel_link(parent_dir(path), target_abs);
        if (auto it = t_.find(path);
            it != t_.end() && it->second.kind == NodeKind::Symlink && it->second.target != target)
            remove(path); // a link never changes its target in place: it is a new node
        bool fresh = false;
        Node& n = add(path, NodeKind::Symlink, 0777, fresh);
        n.target = std::move(target);
        if (fresh)
            added(path, n);
    }

    // Removes a node, everything below it, and its name from its parent's listing.
    void remove(const std::string& path) {
        auto it = t_.find(path);
        if (it == t_.end())
            return;
        if (k_)
            k_->node_removed(path, it->second);
        // Descendants sort right after "path/" and before "path0" ('0' follows '/').
        auto first = t_.lower_bound(path + "/"), last = t_.lower_bound(path + "0");
        if (k_)
            for (auto d = first; d != last; ++d)
                k_->inodes.erase(d->second.ino);
        t_.erase(first, last);
        t_.erase(path);
        auto parent = t_.find(parent_dir(path));
        if (parent == t_.end())
            return;
        auto& names = parent->second.children;
        auto name = std::find(names.begin(), names.end(), path.substr(path.rfind('/') + 1));
        if (name != names.end())
            names.erase(name);
    }

private:
    // The node at `path` of `kind`, created if missing (or if a node of another kind is in the way).
    Node& add(const std::string& path, NodeKind kind, unsigned mode, bool& fresh) {
        auto it = t_.find(path);
        if (it != t_.end() && (it->second.kind != kind || it->second.mode != mode)) {
            remove(path);
            it = t_.end();
        }
        fresh = it == t_.end();
        if (!fresh)
            return it->second;
        auto parent = parent_dir(path);
        dir(parent);
        Node& n = create(path, parent);
        n.kind = kind;
        n.mode = mode;
        return n;
    }
    Node& create(const std::string& path, const std::string& parent) {
        t_[parent].children.push_back(path.substr(path.rfind('/') + 1));
        return t_[path] = Node{};
    }
    void added(const std::string& path, Node& n) {
        if (k_)
            k_->node_added(path, n);
    }
    Tree& t_;
    const Impl* k_ = nullptr;
};

std::string fmt(const char* f, unsigned long long v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// A type-0 (or type-1 for bridges) configuration header, enough for lspci: IDs, command/status, class,
// revision, header type, a 64-bit memory BAR, subsystem IDs, interrupt pin. No capability list.
std::string config_space(const DeviceState& d) {
    std::string c(256, '\0');
    auto put16 = [&](size_t off, unsigned v) {
        c[off] = char(v & 0xff);
        c[off + 1] = char((v >> 8) & 0xff);
    };
    auto put32 = [&](size_t off, unsigned v) {
        put16(off, v & 0xffff);
        put16(off + 2, v >> 16);
    };
    // Hardware VFs read 0xffff here (lspci takes VF IDs from sysfs); we keep the IDs iov.c stores in
    // pdev->vendor/device so tools that read only config space still see them.
    put16(0x00, d.vendor);
    put16(0x02, d.device);
    put16(0x04, d.driver.empty() ? 0x0000 : 0x0006); // memory + bus master once a driver enabled it
    put16(0x06, 0x0010);                             // capabilities list bit off: status only
    c[0x08] = char(d.revision);
    c[0x09] = char(d.class_code & 0xff);
    c[0x0a] = char((d.class_code >> 8) & 0xff);
    c[0x0b] = char((d.class_code >> 16) & 0xff);
    bool bridge = (d.class_code >> 8) == 0x0604;
    c[0x0e] = char(bridge ? 0x01 : 0x00);
    if (!bridge) {
        put32(0x10, 0x0000000c); // 64-bit prefetchable memory BAR
        put16(0x2c, d.subsystem_vendor);
        put16(0x2e, d.subsystem_device);
        c[0x3d] = 1; // INTA
    } else {
        c[0x18] = char(d.addr.bus);
        c[0x19] = char(d.addr.bus + 1);
        c[0x1a] = char(d.addr.bus + 1);
    }
    c[0x3c] = char(d.spec ? d.spec->irq : 0);
    return c;
}

std::string resource_lines(const DeviceState& d) {
    // pci-sysfs.c resource_show: PCI_BRIDGE_RESOURCES (13) lines for endpoints, DEVICE_COUNT_RESOURCE
    // (17) for bridges, each "0x%016llx 0x%016llx 0x%016llx".
    bool bridge = (d.class_code >> 8) == 0x0604;
    unsigned lines = bridge ? 17 : 13;
    std::string out;
    unsigned long long base = 0x380000000000ull + (static_cast<unsigned long long>(d.addr.bus) << 24) +
                              (static_cast<unsigned long long>(d.addr.devfn()) << 16);
    for (unsigned i = 0; i < lines; ++i) {
        char buf[80];
        if (i == 0 && !bridge)
            std::snprintf(buf, sizeof buf, "0x%016llx 0x%016llx 0x%016llx\n", base, base + 0xffff,
                          0x000000000014220cull);
        else
            std::snprintf(buf, sizeof buf, "0x%016llx 0x%016llx 0x%016llx\n", 0ull, 0ull, 0ull);
        out += buf;
    }
    return out;
}

// The nodes of one mdev (mdev_sysfs.c, mdev_core.c): its directory under the parent, the bus and driver
// links, and the type's devices/ link. Its IOMMU group is added by the caller.
void build_mdev(Builder& b, const Impl& k, const MdevState& m) {
    const DeviceState* parent = k.mdev_parent(m.parent);
    const std::string& uuid = m.uuid;
    std::string d = parent->dir + "/" + uuid;
    b.dir(d);
    b.link(d + "/mdev_type", parent->dir + "/mdev_supported_types/" + m.type);
    b.file(d + "/remove", kWO, nullptr,
           [u = uuid](Impl& k, std::unique_lock<std::mutex>& l, std::string_view v) {
               return k.w_mdev_remove(l, u, v);
           });
    b.link(d + "/iommu_group", "/kernel/iommu_groups/" + std::to_string(m.group));
    b.link(d + "/driver", "/bus/mdev/drivers/vfio_mdev");
    b.link(d + "/subsystem", "/bus/mdev");
    b.file(
        d + "/uevent", kRW, [t = m.type](const Impl&) { return "DRIVER=vfio_mdev\nMDEV_TYPE=" + t + "\n"; },
        [u = uuid](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
            return k.w_synth_uevent("mdev", u, v);
        });
    b.link("/bus/mdev/drivers/vfio_mdev/" + uuid, d);
    if (m.removing)
        return; // a blocked remove took it off the bus and out of its type's list already
    b.link("/bus/mdev/devices/" + uuid, d);
    b.link(parent->dir + "/mdev_supported_types/" + m.type + "/devices/" + uuid, d);
}

// The group's char device in class "vfio" (vfio_main.c vfio_group_alloc: device_create(vfio.class, ...,
// "%d")): /sys/class/vfio/<N> -> /devices/virtual/vfio/<N> with `dev` ("MAJ:MIN", core.c dev_show).
void build_vfio_group(Builder& b, int group) {
    const std::string d = "/devices/virtual/vfio/" + std::to_string(group);
    b.file(d + "/dev", kRO, [group](const Impl& k) {
        auto it = k.group_minor.find(group);
        return it == k.group_minor.end() ? std::string()
                                         : fmt("%llu:", kVfioGroupMajor) + fmt("%llu\n", it->second);
    });
    b.link(d + "/subsystem", "/class/vfio");
    b.link("/class/vfio/" + std::to_string(group), d);
}

// A registered VFIO device's class device (vfio_main.c vfio_device_add, class "vfio-dev", parent the
// device): <dir>/vfio-dev/vfioN with its `device` link, and `dev` only with cdevs (6.1 registers it with
// no char device: tests/vm/facts).
void build_vfio_device(Builder& b, const Impl& k, const std::string& dir, int n) {
    const std::string name = "vfio" + std::to_string(n);
    const std::string d = dir + "/vfio-dev/" + name;
    b.dir(d);
    b.link(d + "/device", dir);
    b.link(d + "/subsystem", "/class/vfio-dev");
    if (k.spec.vfio_cdev)
        b.text(d + "/dev", fmt("%llu:", kVfioCdevMajor) + fmt("%llu\n", unsigned(n)));
    b.link("/class/vfio-dev/" + name, d);
}

void build_iommu_group(Builder& b, int group,
                       const std::vector<std::pair<std::string, std::string>>& members) {
    std::string gd = "/kernel/iommu_groups/" + std::to_string(group);
    b.dir(gd + "/devices");
    for (auto& [name, dir] : members)
        b.link(gd + "/devices/" + name, dir);
    b.text(gd + "/type", "DMA\n");
    b.text(gd + "/reserved_regions", "");
}

// mdev_sysfs.c: mdev_supported_types/<type>/ once the parent driver registered, and the parent's
// mdev_bus class link. `name` is a PCI address or a non-PCI parent's name (Impl::mdev_parent).
void build_mdev_types(Builder& b, const std::string& name, const DeviceState& parent) {
    if (!parent.mdev_registered || !parent.spec->mdev)
        return;
    const std::string& d = parent.dir;
    auto pv = [name](const Impl& k) -> const DeviceState& { return *k.mdev_parent(name); };
    for (auto& ty : parent.spec->mdev->types) {
        std::string td = d + "/mdev_supported_types/" + ty.id;
        b.text(td + "/name", ty.name + "\n");
        if (ty.description)
            b.text(td + "/description", *ty.description + "\n");
        b.text(td + "/device_api", ty.device_api + "\n");
        const MdevTypeSpec* tp = &ty;
        b.file(td + "/available_instances", kRO,
               [pv, tp](const Impl& k) { return fmt("%llu\n", k.mdev_available(pv(k), *tp)); });
        b.file(td + "/create", kWO, nullptr,
               [name, id = ty.id](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
                   return k.w_mdev_create(name, id, v);
               });
        b.dir(td + "/devices"); // its entries are added with the mdevs (build_mdev)
    }
    b.link("/class/mdev_bus/" + name, d);
}

// A non-PCI mdev parent's class device (mtty.c: device_register with its own class).
void build_virtual_parent(Builder& b, const std::string& name, const DeviceState& parent) {
    if (!parent.mdev_registered)
        return; // registered at module load, together with the device (register_virtual_parent)
    const std::string& d = parent.dir;
    const std::string cls = d.substr(0, d.rfind('/')).substr(std::string("/devices/virtual/").size());
    b.dir(d);
    b.text(d + "/uevent", "");
    b.link(d + "/subsystem", "/class/" + cls);
    b.link("/class/" + cls + "/" + name, d);
    build_mdev_types(b, name, parent);
}

// One present PCI device: its directory (pci-sysfs.c attributes, iov.c SR-IOV files and links, mdev
// types, NVIDIA per-VF files), its /bus/pci/devices and driver links and its IOMMU group membership. Adding
// to an existing tree is idempotent, so the incremental updates call it too.
void build_device(Builder& b, const Impl& k, const std::string& addr, const DeviceState& dev) {
    const std::string& d = dev.dir;
    const std::string a = addr;
    b.dir(d);
    b.link("/bus/pci/devices/" + addr, d);
    auto dv = [a](const Impl& k) -> const DeviceState& { return *k.dev(a); };
    b.fixed(d + "/vendor", [dv](const Impl& k) { return fmt("0x%04llx\n", dv(k).vendor); });
    b.fixed(d + "/device", [dv](const Impl& k) { return fmt("0x%04llx\n", dv(k).device); });
    b.fixed(d + "/subsystem_vendor",
            [dv](const Impl& k) { return fmt("0x%04llx\n", dv(k).subsystem_vendor); });
    b.fixed(d + "/subsystem_device",
            [dv](const Impl& k) { return fmt("0x%04llx\n", dv(k).subsystem_device); });
    b.fixed(d + "/class", [dv](const Impl& k) { return fmt("0x%06llx\n", dv(k).class_code); });
    b.fixed(d + "/revision", [dv](const Impl& k) { return fmt("0x%02llx\n", dv(k).revision); });
    b.fixed(d + "/modalias", [dv](const Impl& k) {
        auto env = k.pci_uevent_env(dv(k));
        auto pos = env.find("MODALIAS=");
        return env.substr(pos + 9);
    });
    b.file(
         d + "/uevent", kRW, [dv](const Impl& k) { return k.pci_uevent_env(dv(k)); },
         [a](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
             return k.w_synth_uevent("pci", a, v);
         })
        .lock = a; // core.c uevent_show: device_lock
    b.file(
         d + "/config", kRW, [dv](const Impl& k) { return config_space(dv(k)); },
         [](Impl&, std::unique_lock<std::mutex>&, std::string_view) { return 0; })
        .size = 256;
    b.fixed(d + "/resource", [dv](const Impl& k) { return resource_lines(dv(k)); });
    b.fixed(d + "/irq", [dv](const Impl& k) { return fmt("%llu\n", dv(k).spec ? dv(k).spec->irq : 0); });
    // pci-sysfs.c enable_show: the enable count. Drivers enable their device when they probe; vfio-pci
    // and its variants (override_only here) only while it is open (vfio_pci_core_enable/disable), as
    // Debian's 6.1 kernel shows (tests/vm/facts: 0 idle or with the group fd alone, 1 with a device fd).
    b.file(
        d + "/enable", kRW,
        [dv](const Impl& k) {
            const DeviceState& x = dv(k);
            bool on =
                !x.driver.empty() && (!k.drivers.at(x.driver).spec.override_only || k.device_fd_open(x));
            return std::string(on ? "1\n" : "0\n");
        },
        [](Impl&, std::unique_lock<std::mutex>&, std::string_view) { return 0; });
    b.fixed(
        d + "/numa_node",
        [dv](const Impl& k) { return std::to_string(dv(k).spec ? dv(k).spec->numa_node : -1) + "\n"; }, kRW);
    b.fixed(d + "/local_cpulist", [](const Impl& k) { return k.spec.local_cpulist + "\n"; });
    b.file(
         d + "/driver_override", kRW,
         [dv](const Impl& k) {
             // pci-sysfs.c driver_override_show: sysfs_emit("%s\n") of a NULL pointer -> "(null)".
             auto& o = dv(k).driver_override;
             return (o ? *o : std::string("(null)")) + "\n";
         },
         [a](Impl& k, std::unique_lock<std::mutex>& l, std::string_view v) {
             return k.w_driver_override(l, a, v);
         })
        .lock = a; // under device_lock
    if (!dev.spec->is_bridge() || dev.is_vf)
        b.file(d + "/reset", kWO, nullptr, [](Impl&, std::unique_lock<std::mutex>&, std::string_view v) {
            // pci-sysfs.c reset_store: kstrtoul, only 1 is accepted.
            unsigned long long x;
            if (kstrtoull(v, 0, ~0ull, x) || x != 1)
                return -EINVAL;
            return 0;
        });
    b.link(d + "/subsystem", "/bus/pci");
    if (!dev.driver.empty())
        b.link(d + "/driver", "/bus/pci/drivers/" + dev.driver);
    if (dev.iommu_group >= 0) {
        b.link(d + "/iommu_group", "/kernel/iommu_groups/" + std::to_string(dev.iommu_group));
        build_iommu_group(b, dev.iommu_group, {{addr, d}});
    }
    // iov.c: PF attribute group (sriov_*) only when dev_is_pf; virtfnN / physfn links.
    if (!dev.is_vf && dev.spec->sriov) {
        auto& s = *dev.spec->sriov;
        b.fixed(d + "/sriov_totalvfs", [t = s.totalvfs](const Impl&) { return fmt("%llu\n", t); });
        b.file(
             d + "/sriov_numvfs", kRW, [dv](const Impl& k) { return fmt("%llu\n", dv(k).numvfs); },
             [a](Impl& k, std::unique_lock<std::mutex>& l, std::string_view v) {
                 return k.w_sriov_numvfs(l, a, v);
             })
            .lock = a; // iov.c sriov_numvfs_show: "Serialize vs sriov_numvfs_store()"
        b.fixed(d + "/sriov_offset", [o = s.offset](const Impl&) { return fmt("%llu\n", o); });
        b.fixed(d + "/sriov_stride", [o = s.stride](const Impl&) { return fmt("%llu\n", o); });
        // iov.c sriov_vf_device_show: "%x\n", no 0x prefix (unlike the device file).
        b.fixed(d + "/sriov_vf_device", [o = s.vf_device](const Impl&) { return fmt("%llx\n", o); });
        b.file(
            d + "/sriov_drivers_autoprobe", kRW,
            [dv](const Impl& k) { return std::string(dv(k).autoprobe ? "1\n" : "0\n"); },
            [a](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
                return k.w_sriov_autoprobe(a, v);
            });
        b.text(d + "/sriov_vf_total_msix", "0\n");
        for (unsigned i = 0; i < dev.numvfs; ++i) {
            auto vf = vf_address(dev.addr, s.offset, s.stride, i).str();
            if (auto* v = k.dev(vf); v && !v->unlinked)
                b.link(d + "/virtfn" + std::to_string(i), v->dir);
        }
    }
    if (dev.is_vf && !dev.unlinked)
        b.link(d + "/physfn", k.devices.at(dev.pf).dir);
    build_mdev_types(b, addr, dev);
    // NVIDIA vendor-specific VFIO: per-VF nvidia/ directory while the VF is bound to that driver.
    if (dev.is_vf && dev.spec->vgpu && !dev.driver.empty() && k.drivers.at(dev.driver).spec.vendor_vgpu) {
        b.file(d + "/nvidia/creatable_vgpu_types", kRO, [dv](const Impl& k) {
            std::string out;
            for (auto* p : k.creatable_vgpu(dv(k)))
                out += std::to_string(p->id) + " : " + p->name + "\n";
            return out;
        });
        b.file(
            d + "/nvidia/current_vgpu_type", kRW,
            [dv](const Impl& k) { return fmt("%llu\n", dv(k).vgpu_type); },
            [a](Impl& k, std::unique_lock<std::mutex>& l, std::string_view v) {
                return k.w_current_vgpu(l, a, v);
            });
    }
    if (!dev.driver.empty())
        b.link("/bus/pci/drivers/" + dev.driver + "/" + addr, dev.dir);
}

} // namespace

void Impl::tree_driver_bound(const DeviceState& d) {
    if (dirty)
        return;
    // A vendor-vGPU VF grows an nvidia/ directory when bound: leave that to a full rebuild.
    if (d.is_vf && d.spec->vgpu && drivers.at(d.driver).spec.vendor_vgpu) {
        dirty = true;
        return;
    }
    Builder b(*this, Builder::Patch{});
    b.link(d.dir + "/driver", "/bus/pci/drivers/" + d.driver);
    b.link("/bus/pci/drivers/" + d.driver + "/" + d.address, d.dir);
}

void Impl::tree_driver_unbound(const DeviceState& d, const std::string& old_driver) {
    if (dirty)
        return;
    if (d.is_vf && d.spec->vgpu && drivers.at(old_driver).spec.vendor_vgpu) {
        dirty = true;
        return;
    }
    Builder b(*this, Builder::Patch{});
    b.remove(d.dir + "/driver");
    b.remove("/bus/pci/drivers/" + old_driver + "/" + d.address);
}

void Impl::tree_mdev_added(const MdevState& m) {
    if (dirty)
        return;
    const DeviceState* parent = mdev_parent(m.parent);
    if (!parent)
        return;
    Builder b(*this, Builder::Patch{});
    build_mdev(b, *this, m);
    build_iommu_group(b, m.group, {{m.uuid, parent->dir + "/" + m.uuid}}); // each mdev has its own group
}

void Impl::tree_vfio_group(int group, bool present) {
    if (dirty)
        return;
    Builder b(*this, Builder::Patch{});
    if (present) {
        build_vfio_group(b, group);
    } else {
        b.remove("/devices/virtual/vfio/" + std::to_string(group));
        b.remove("/class/vfio/" + std::to_string(group));
    }
}

void Impl::tree_vfio_device(const std::string& dir, int n, bool present) {
    if (dirty)
        return;
    Builder b(*this, Builder::Patch{});
    if (present) {
        build_vfio_device(b, *this, dir, n);
    } else {
        if (!dir.empty())
            b.remove(dir + "/vfio-dev");
        b.remove("/class/vfio-dev/vfio" + std::to_string(n));
    }
}

void Impl::tree_mdev_unlisted(const MdevState& m) {
    if (dirty)
        return;
    const DeviceState* parent = mdev_parent(m.parent);
    if (!parent)
        return;
    Builder b(*this, Builder::Patch{});
    b.remove("/bus/mdev/devices/" + m.uuid);
    b.remove(parent->dir + "/mdev_supported_types/" + m.type + "/devices/" + m.uuid);
}

void Impl::tree_vf_unlinked(const DeviceState& vf) {
    if (dirty)
        return;
    Builder b(*this, Builder::Patch{});
    b.remove(vf.dir + "/physfn");
    if (const DeviceState* pf = dev(vf.pf))
        b.remove(pf->dir + "/virtfn" + std::to_string(vf.vf_index));
}

void Impl::tree_mdev_removed(const MdevState& m) {
    if (dirty)
        return;
    const DeviceState* parent = mdev_parent(m.parent);
    if (!parent) {
        dirty = true;
        return;
    }
    Builder b(*this, Builder::Patch{});
    b.remove(parent->dir + "/" + m.uuid);
    b.remove("/bus/mdev/devices/" + m.uuid);
    b.remove("/bus/mdev/drivers/vfio_mdev/" + m.uuid);
    b.remove(parent->dir + "/mdev_supported_types/" + m.type + "/devices/" + m.uuid);
    b.remove("/kernel/iommu_groups/" + std::to_string(m.group));
}

void Impl::rebuild() const {
    Builder::Tree fresh;
    Builder b(fresh);
    for (auto top : {"/bus", "/class", "/devices", "/kernel", "/module"})
        b.dir(top);
    b.dir("/bus/pci/devices");
    b.dir("/bus/pci/drivers");
    b.dir("/bus/mdev/devices");
    b.dir("/bus/mdev/drivers/vfio_mdev");
    b.dir("/class/net");
    b.dir("/class/mdev_bus");
    b.dir("/class/vfio");
    b.dir("/class/vfio-dev");
    b.dir("/kernel/iommu_groups");
    b.dir("/devices/virtual/net");

    // ---- /bus/pci bus-level files (drivers/base/bus.c)
    b.file(
        "/bus/pci/drivers_autoprobe", kRW,
        [](const Impl& k) { return std::string(k.bus_autoprobe ? "1\n" : "0\n"); },
        [](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
            // bus.c drivers_autoprobe_store: '0' disables, anything else enables.
            k.bus_autoprobe = v.empty() || v[0] != '0';
            return 0;
        });
    b.file("/bus/pci/drivers_probe", kWO, nullptr,
           [](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) { return k.w_drivers_probe(v); });
    b.file("/bus/pci/rescan", kWO, nullptr, [](Impl&, std::unique_lock<std::mutex>&, std::string_view v) {
        unsigned long long x;
        return kstrtoull(v, 0, ~0ull, x); // nothing new to find on a simulated bus
    });
    b.file("/bus/pci/uevent", kWO, nullptr,
           [](Impl&, std::unique_lock<std::mutex>&, std::string_view) { return 0; });

    // ---- drivers
    for (auto& name : driver_order) {
        if (!driver_registered(name))
            continue;
        auto& drv = drivers.at(name);
        std::string d = "/bus/pci/drivers/" + name;
        b.dir(d);
        b.file(d + "/bind", kWO, nullptr,
               [name](Impl& k, std::unique_lock<std::mutex>& l, std::string_view v) {
                   return k.w_bind(l, name, v);
               });
        b.file(d + "/unbind", kWO, nullptr,
               [name](Impl& k, std::unique_lock<std::mutex>& l, std::string_view v) {
                   return k.w_unbind(l, name, v);
               });
        b.file(d + "/new_id", kWO, nullptr,
               [name](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
                   return k.w_new_id(name, v);
               });
        b.file(d + "/remove_id", kWO, nullptr,
               [name](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
                   return k.w_remove_id(name, v);
               });
        b.file(d + "/uevent", kWO, nullptr,
               [](Impl&, std::unique_lock<std::mutex>&, std::string_view) { return 0; });
        if (!drv.spec.module.empty())
            b.link(d + "/module", "/module/" + drv.spec.module);
        for (auto& [addr, dev] : devices)
            if (dev.present && dev.driver == name)
                b.link(d + "/" + addr, dev.dir);
    }
    for (auto& m : loaded_modules) {
        std::string d = "/module/" + m;
        b.dir(d + "/drivers");
        for (auto& name : driver_order)
            if (drivers.at(name).spec.module == m)
                b.link(d + "/drivers/pci:" + name, "/bus/pci/drivers/" + name);
        b.text(d + "/initstate", "live\n");
        b.text(d + "/refcnt", "0\n");
    }

    // ---- PCI devices
    for (auto& [addr, dev] : devices)
        if (dev.present)
            build_device(b, *this, addr, dev);

    for (auto& [name, parent] : virtual_parents)
        build_virtual_parent(b, name, parent);

    // ---- mdev devices
    std::map<int, std::vector<std::pair<std::string, std::string>>> groups; // group -> (name, dir)
    for (auto& [uuid, m] : mdevs) {
        if (!mdev_parent(m.parent))
            continue;
        build_mdev(b, *this, m);
        groups[m.group].emplace_back(uuid, mdev_parent(m.parent)->dir + "/" + uuid);
    }

    // ---- netdevs
    for (auto& [name, n] : netdevs) {
        const std::string d = n.dir;
        b.dir(d);
        auto nv = [name](const Impl& k) -> const NetdevState& { return k.netdevs.at(name); };
        b.fixed(d + "/address", [nv](const Impl& k) { return nv(k).mac + "\n"; });
        b.text(d + "/addr_len", "6\n");
        b.text(d + "/broadcast", "ff:ff:ff:ff:ff:ff\n");
        // net-sysfs.c flags: IFF_BROADCAST|IFF_MULTICAST (0x1002) plus IFF_UP (0x1) when up; lo is 0x8/0x9.
        b.file(d + "/flags", kRW, [nv](const Impl& k) {
            auto& x = nv(k);
            unsigned f = x.name == "lo" ? 0x8 : 0x1002;
            return fmt("0x%llx\n", f | (x.up ? 1u : 0u));
        });
        b.file(d + "/operstate", kRO, [nv](const Impl& k) {
            auto& x = nv(k);
            return std::string(x.name == "lo" ? "unknown\n" : x.up ? "up\n" : "down\n");
        });
        b.file(d + "/ifindex", kRO, [nv](const Impl& k) { return fmt("%llu\n", nv(k).ifindex); });
        b.file(d + "/iflink", kRO, [nv](const Impl& k) { return fmt("%llu\n", nv(k).ifindex); });
        b.text(d + "/mtu", name == "lo" ? "65536\n" : "1500\n");
        b.text(d + "/type", name == "lo" ? "772\n" : "1\n");
        b.file(
            d + "/uevent", kRW,
            [nv](const Impl& k) {
                auto& x = nv(k);
                return "INTERFACE=" + x.name + "\nIFINDEX=" + std::to_string(x.ifindex) + "\n";
            },
            [name](Impl& k, std::unique_lock<std::mutex>&, std::string_view v) {
                return k.w_synth_uevent("net", name, v);
            });
        b.link(d + "/subsystem", "/class/net");
        if (!n.device.empty())
            if (auto* pd = dev(n.device))
                b.link(d + "/device", pd->dir);
        if (!n.master.empty() && netdevs.count(n.master)) {
            auto& m = netdevs.at(n.master);
            b.link(d + "/master", m.dir);
            b.link(d + "/upper_" + m.name, m.dir);
            b.link(m.dir + "/lower_" + name, d);
        }
        b.link("/class/net/" + name, d);
    }

    // ---- IOMMU groups (iommu.c): /kernel/iommu_groups/N/devices/<dev> -> the device.
    for (auto& [g, members] : groups)
        build_iommu_group(b, g, members);
    // ---- VFIO groups and devices (vfio_main.c)
    for (int g : vfio_groups)
        build_vfio_group(b, g);
    for (auto& [key, n] : vfio_index)
        if (std::string dir = vfio_device_dir(key); !dir.empty())
            build_vfio_device(b, *this, dir, n);
    adopt_tree(std::move(fresh));
    dirty = false;
}

void Impl::tree_device_added(const DeviceState& d) {
    if (dirty)
        return;
    Builder b(*this, Builder::Patch{});
    build_device(b, *this, d.address, d);
    if (d.is_vf) // iov.c pci_iov_sysfs_link(): the PF's virtfnN link
        if (const DeviceState* pf = dev(d.pf))
            b.link(pf->dir + "/virtfn" + std::to_string(d.vf_index), d.dir);
}

void Impl::tree_device_removed(const DeviceState& d) {
    if (dirty)
        return;
    Builder b(*this, Builder::Patch{});
    b.remove(d.dir);
    b.remove("/bus/pci/devices/" + d.address);
    if (!d.driver.empty())
        b.remove("/bus/pci/drivers/" + d.driver + "/" + d.address);
    b.remove("/class/mdev_bus/" + d.address);
    if (d.is_vf)
        if (const DeviceState* pf = dev(d.pf))
            b.remove(pf->dir + "/virtfn" + std::to_string(d.vf_index));
    if (d.iommu_group >= 0) {
        // iommu.c: a group disappears with its last device.
        const std::string group = "/kernel/iommu_groups/" + std::to_string(d.iommu_group);
        b.remove(group + "/devices/" + d.address);
        auto members = tree.find(group + "/devices");
        if (members != tree.end() && members->second.children.empty())
            b.remove(group);
    }
}

int Impl::resolve(std::string_view path, bool follow_last, std::string& canonical) const {
    if (dirty)
        rebuild();
    if (path.empty() || path[0] != '/')
        return -ENOENT;
    std::vector<std::string> todo; // remaining components, reversed
    {
        std::vector<std::string> parts;
        size_t i = 0;
        while (i < path.size()) {
            while (i < path.size() && path[i] == '/')
                ++i;
            size_t j = path.find('/', i);
            if (j == std::string_view::npos)
                j = path.size();
            if (j > i)
                parts.emplace_back(path.substr(i, j - i));
            i = j;
        }
        todo.assign(parts.rbegin(), parts.rend());
    }
    std::string cur = "/";
    int hops = 0;
    while (!todo.empty()) {
        std::string comp = std::move(todo.back());
        todo.pop_back();
        if (comp == ".")
            continue;
        if (comp == "..") {
            cur = parent_dir(cur);
            continue;
        }
        auto it = tree.find(cur);
        if (it == tree.end())
            return -ENOENT;
        if (it->second.kind != NodeKind::Directory)
            return -ENOTDIR;
        std::string next = cur == "/" ? "/" + comp : cur + "/" + comp;
        auto nit = tree.find(next);
        if (nit == tree.end())
            return -ENOENT;
        if (nit->second.kind == NodeKind::Symlink && (follow_last || !todo.empty())) {
            if (++hops > 40)
                return -ELOOP;
            // Push the target's components (relative to cur) in front of what remains.
            const std::string& t = nit->second.target;
            std::vector<std::string> tp;
            size_t i = 0;
            while (i < t.size()) {
                size_t j = t.find('/', i);
                if (j == std::string::npos)
                    j = t.size();
                if (j > i)
                    tp.push_back(t.substr(i, j - i));
                i = j + 1;
            }
            for (auto r = tp.rbegin(); r != tp.rend(); ++r)
                todo.push_back(*r);
            continue;
        }
        cur = std::move(next);
    }
    canonical = cur;
    return 0;
}

// ---------------------------------------------------------------------------------------------------
// Kernel filesystem API

int Kernel::stat(std::string_view path, NodeInfo& out) const {
    std::lock_guard lock(impl_->mu);
    std::string c;
    if (int r = impl_->resolve(path, false, c))
        return r;
    const Node& n = impl_->tree.at(c);
    out.kind = n.kind;
    out.mode = n.mode;
    out.size = n.kind == NodeKind::File ? n.size : 0;
    return 0;
}

int Kernel::list(std::string_view path, std::vector<std::string>& names) const {
    std::lock_guard lock(impl_->mu);
    std::string c;
    if (int r = impl_->resolve(path, true, c))
        return r;
    const Node& n = impl_->tree.at(c);
    if (n.kind != NodeKind::Directory)
        return -ENOTDIR;
    names = n.children;
    return 0;
}

int Kernel::readlink(std::string_view path, std::string& target) const {
    std::lock_guard lock(impl_->mu);
    std::string c;
    if (int r = impl_->resolve(path, false, c))
        return r;
    const Node& n = impl_->tree.at(c);
    if (n.kind != NodeKind::Symlink)
        return -EINVAL;
    target = n.target;
    return 0;
}

int Kernel::read(std::string_view path, std::string& content) const {
    std::unique_lock lock(impl_->mu);
    for (;;) {
        std::string c;
        if (int r = impl_->resolve(path, true, c))
            return r;
        const Node& n = impl_->tree.at(c);
        if (n.kind == NodeKind::Directory)
            return -EISDIR;
        if (!(n.mode & 0444) || !n.read)
            return -EACCES; // write-only attributes (bind, create, remove ...)
        if (n.lock.empty() || !impl_->device_locks.count(n.lock) || impl_->stopping) {
            content = n.read(*impl_);
            return 0;
        }
        impl_->cv.wait(lock); // its show() takes device_lock, held by a blocked store
    }
}

} // namespace simhost

// Internal state of the simulated kernel, shared by kernel*.cpp. Not part of the runtime's API.
//
// Locking: one mutex guards everything. Write handlers run with it held and may wait on `cv` (which
// releases it) while a VFIO device is held open, as the kernel's remove paths wait for the device fd
// (vfio_main.c vfio_unregister_group_dev). Uevents and devnode changes are queued under the lock and
// delivered by flush() after it is released, in queue order.
#pragma once

#include "kernel.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

namespace simhost {

struct DeviceState {
    const DeviceSpec* spec = nullptr; // own spec; for a VF, its PF's spec
    std::string address;
    PciAddr addr;
    uint32_t vendor = 0, device = 0, subsystem_vendor = 0, subsystem_device = 0, class_code = 0, revision = 0;
    bool is_vf = false;
    std::string pf; // VF: PF address
    unsigned vf_index = 0;
    std::string dir; // "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0"
    int iommu_group = -1;
    bool present = true;
    std::string driver; // "" = unbound
    std::optional<std::string> driver_override;
    // PF SR-IOV state
    unsigned numvfs = 0;
    unsigned vf_epoch = 0; // bumped on every enable/disable; stale delayed probes check it
    bool autoprobe = true;
    // mdev parent registered by its driver (mdev_register_parent)
    bool mdev_registered = false;
    // VF: NVIDIA vendor-specific vGPU profile id, 0 = none
    unsigned vgpu_type = 0;
    std::vector<std::string> netdevs; // registered by the bound driver
    // VF being removed by a VF disable that waits for it (iov.c pci_iov_remove_virtfn removed its virtfnN
    // and physfn links first, then blocks in the removal).
    bool unlinked = false;
};

struct NetdevState {
    std::string name;
    std::string device; // PCI address, "" for virtual (lo, bridges/bonds made by set_master)
    int ifindex = 0;
    bool up = false;
    std::string master;
    std::string mac;
    std::string dir; // sysfs directory
};

struct MdevState {
    std::string uuid; // lower case (%pUl)
    std::string parent;
    std::string type;
    int group = 0;
    // A `remove` waits for it to be released: device_del() already took it off the bus and the type's
    // devices/ (mdev_sysfs.c mdev_remove_sysfs_files, bus_remove_device), the directory stays.
    bool removing = false;
};

struct DriverState {
    DriverSpec spec;
    std::vector<PciIdMatch> dynamic_ids; // new_id
};

// The materialised sysfs tree, rebuilt from the state after structural changes.
struct Impl;
using Reader = std::function<std::string(const Impl&)>;
using Writer = std::function<int(Impl&, std::unique_lock<std::mutex>&, std::string_view)>;
struct Node {
    NodeKind kind = NodeKind::Directory;
    unsigned mode = 0755;
    std::vector<std::string> children;
    std::string target; // symlinks, relative
    Reader read;
    Writer write;
    // Reading it takes this device's device_lock (pci-sysfs.c driver_override_show, iov.c
    // sriov_numvfs_show, core.c uevent_show): it waits while a store holding that lock blocks.
    std::string lock;
    uint64_t size = 4096;
    // What the kernel's caches may hold of this node (kernel_cache.cpp, docs/simhost.md "Caching"). A node
    // keeps its inode number for life and never changes kind, mode or link target under it (a changed node
    // is a new node); what changes in place is a directory's listing, and `version` (the mtime the kernel
    // sees) changes with it. The kernel caches the text of `fixed` files only; other files are read and
    // written directly (direct I/O), every time.
    uint64_t ino = 0;
    uint64_t version = 0;
    // Files: the text is a function of the path alone (identity attributes, constants).
    bool fixed = false;
    // The kernel was told about this inode (lookup, getattr): it may hold a dentry and attributes.
    bool exposed = false;
};

struct Output {
    bool is_uevent = true;
    Uevent event;
    DevNode devnode;
    bool present = false;
};

struct Impl {
    explicit Impl(HostSpec s) : spec(std::move(s)) {}

    HostSpec spec;
    mutable std::mutex mu;
    std::condition_variable cv; // group holds released, faults cleared, shutdown

    std::map<std::string, DeviceState> devices; // includes absent (not yet plugged) devices
    std::map<std::string, NetdevState> netdevs;
    std::map<std::string, MdevState> mdevs;
    // Non-PCI mdev parents (HostSpec::mdev_parents) by name; `address` is the name, `dir` the class device.
    std::map<std::string, DeviceState> virtual_parents;
    std::map<std::string, DriverState> drivers; // every declared driver; registered iff its module is loaded
    std::vector<std::string> driver_order;      // registration order, for probing
    std::set<std::string> loaded_modules;
    std::map<int, GroupHold> holds;
    std::set<int> vfio_groups;             // groups with /dev/vfio/<N>
    std::map<int, unsigned> group_minor;   // /dev/vfio/<N> -> its minor (lowest free, vfio_main.c ida)
    std::map<std::string, int> vfio_index; // VFIO device (PCI address, mdev UUID) -> N of vfio-dev/vfioN
    // Devices whose device_lock a blocked store holds (count of such stores): reads that take the lock
    // wait (Node::lock).
    std::map<std::string, int> device_locks;
    // IOMMU group → addresses that are or were its members (a VF address keeps its group across VF
    // enables). It keeps refresh_vfio_group, run on every probe, from walking every device.
    std::map<int, std::vector<std::string>> group_members;
    bool bus_autoprobe = true;
    int next_ifindex = 1;
    int next_mdev_group = 0;
    uint64_t seqnum = 0;
    uint64_t generation = 0; // bumped by reset(); delayed probes of an older generation do nothing

    struct ActiveFault {
        Fault fault;
        unsigned remaining = 0;
    };
    std::vector<ActiveFault> faults;
    uint64_t faults_cleared = 0; // `fault clear` count: a write blocked by a fault is let go when it grows
    std::vector<WriteRecord> log;

    // ---- kernel_oracle_repeat.cpp: the destructive writes that succeeded in this input epoch, by
    // "canonical path=value": the object's state before and right after, and whether it has been in
    // any other state since.
    struct Destruction {
        std::string object; // "dev:<address>" or "mdev:<uuid>"
        std::string before;
        std::string after;
        bool other_state_seen = false;
    };
    std::map<std::string, Destruction> destructions;
    bool module_param_true(const std::string& module, const std::string& param) const;
    bool group_viable(int group, std::string& why) const; // VFIO's rule, drivers/iommu/iommu.c

    std::function<void(const Uevent&)> uevent_sink;
    std::function<void(const DevNode&, bool)> devnode_sink;
    std::function<void(const std::vector<Invalidation>&)> invalidation_sink;
    std::deque<Output> pending;
    std::mutex emit_mu;

    mutable bool dirty = true;
    mutable std::map<std::string, Node, std::less<>> tree;

    // ---- kernel_cache.cpp: what the kernel's caches (FUSE dentries, attributes, link targets, listings,
    // fixed texts) may hold and what must be invalidated after a change. Guarded by `mu`; flush() delivers.
    // ino -> the node in `tree` (std::map iterators stay valid until their node is erased).
    mutable std::unordered_map<uint64_t, std::map<std::string, Node, std::less<>>::iterator> inodes;
    mutable uint64_t next_ino = Kernel::kRootIno + 1;
    mutable uint64_t next_version = 1;
    mutable std::vector<Invalidation> invalidations; // queued for the next flush()
    mutable bool forget_all = false; // reset(): every old inode is gone, the new tree gets fresh ones
    bool verify_cache = false;       // set_verify_cache(): flush() re-checks every fixed text handed out
    mutable std::map<uint64_t, std::string> told_text; // verify mode: ino -> fixed text as handed out
    void node_added(const std::string& path, Node& n) const;
    void node_removed(const std::string& path, const Node& n) const; // a removed subtree's top node
    void dir_changed(Node& dir, std::string_view name) const;        // `name` came or went
    void verify_fixed() const;                 // verify mode: abort if a fixed text changed
    void expose(Node& n, NodeAttr& out) const; // a lookup or getattr answer: the kernel now holds `n`
    Node* node_by_ino(uint64_t ino) const;
    // node_by_ino on the tree as it is now: a pending full rebuild is done first.
    Node* current_node(uint64_t ino) const {
        if (dirty)
            rebuild();
        return node_by_ino(ino);
    }
    const std::string& path_of(uint64_t ino) const; // of a live inode
    // The write entry point shared by Kernel::write(path) and Kernel::write(ino): `find` names the
    // canonical path (0 or -errno, called again after a blocking fault); `shown` is the path for the write
    // log ("" = "/sys" + canonical).
    int write_at(const std::function<int(std::string&)>& find, const std::string& shown,
                 std::string_view data, std::string* path_out);

    bool stopping = false;
    std::vector<std::thread> workers;

    // ---- kernel.cpp: state from the spec, outputs
    void init_from_spec();
    void emit(Uevent ev);
    void emit_devnode(const DevNode& node, bool present);
    // Waits on `cv` (releasing `lock`) with `devices` locked: what a store that blocks in the kernel holds.
    // Pending outputs go out first, so changes made before blocking are visible meanwhile.
    void wait_locked(std::unique_lock<std::mutex>& lock, const std::vector<std::string>& devices);
    // The device whose device_lock a store to `canon` (a sysfs path) with `data` takes, "" for none.
    std::string store_lock(const std::string& canon, std::string_view data) const;
    void flush(); // call without `mu`: tree rebuild if pending, then invalidations, then uevents/devnodes
    bool quiet = false;                 // building the start state: no uevents
    void refresh_vfio_group(int group); // /dev/vfio/<group> exists iff a member is a VFIO device
    void refresh_vfio_device(const std::string& key, bool registered); // vfio-dev/vfioN (+ cdev node)
    std::string vfio_device_dir(const std::string& key) const;         // sysfs dir of a PCI device or an mdev
    bool device_fd_open(const DeviceState& d) const; // a VFIO device fd of its group is open
    void index_group_member(const DeviceState& d);   // group_members, for devices added to `devices`
    std::string compute_dir(const DeviceSpec& d) const;
    int alloc_ifindex() { return next_ifindex++; }

    // ---- kernel_format.cpp
    std::string pci_uevent_env(const DeviceState& d) const; // contents of the device's uevent file
    Uevent pci_event(std::string_view action, const DeviceState& d,
                     std::vector<std::pair<std::string, std::string>> extra = {}) const;
    Uevent net_event(std::string_view action, const NetdevState& n) const;
    Uevent mdev_event(std::string_view action, const MdevState& m, bool with_driver) const;
    bool tagged(const DeviceState& d) const;

    // ---- kernel_tree.cpp
    void rebuild() const;
    // Replaces the tree with a freshly built one (kernel_cache.cpp): nodes that are the same keep their
    // inode; added and removed ones are reported as the incremental updates report them.
    void adopt_tree(std::map<std::string, Node, std::less<>> fresh) const;
    // Incremental updates for the frequent structural changes (a driver binds or unbinds, an mdev comes
    // or goes): patching the few nodes involved keeps one change O(log n) instead of rebuilding the whole
    // tree, which made converging 4096 VFs quadratic. They do nothing while a full rebuild is pending
    // (`dirty`), since that rebuild reflects the state anyway.
    void tree_driver_bound(const DeviceState& d);
    void tree_driver_unbound(const DeviceState& d, const std::string& old_driver);
    void tree_mdev_added(const MdevState& m);
    void tree_mdev_removed(const MdevState& m);
    void tree_mdev_unlisted(const MdevState& m);   // a blocked remove: bus and type links gone
    void tree_vfio_group(int group, bool present); // /sys/class/vfio/<group>
    void tree_vfio_device(const std::string& dir, int n, bool present); // <dir>/vfio-dev/vfioN
    void tree_vf_unlinked(const DeviceState& vf);   // a blocked VF disable: virtfnN and physfn gone
    void tree_device_added(const DeviceState& d);   // device_add (a VF, a hot-plugged device)
    void tree_device_removed(const DeviceState& d); // device_del
    // Resolves `path` following symlinks (all components, or all but the last). Returns 0 or -errno.
    int resolve(std::string_view path, bool follow_last, std::string& canonical) const;

    // ---- kernel_bind.cpp
    bool driver_registered(const std::string& name) const;
    bool match(const DriverState& drv, const DeviceState& d) const; // pci_match_device
    int probe_with(DeviceState& d, const DriverState& drv);         // really_probe: 0 or -errno
    bool device_attach(DeviceState& d);                             // first matching driver binds
    void driver_attach(const DriverState& drv);                     // every unbound matching device
    void release_driver(DeviceState& d);                            // device_release_driver
    bool would_block(const DeviceState& d) const; // a held VFIO device would make release wait
    bool group_held(int group) const;
    int w_driver_override(std::unique_lock<std::mutex>&, const std::string& addr, std::string_view data);
    int w_bind(std::unique_lock<std::mutex>&, const std::string& drv, std::string_view data);
    int w_unbind(std::unique_lock<std::mutex>&, const std::string& drv, std::string_view data);
    int w_new_id(const std::string& drv, std::string_view data);
    int w_remove_id(const std::string& drv, std::string_view data);
    int w_drivers_probe(std::string_view data);
    int w_synth_uevent(const std::string& kind, const std::string& key, std::string_view data);

    // ---- kernel_sriov.cpp
    int w_sriov_numvfs(std::unique_lock<std::mutex>&, const std::string& pf, std::string_view data);
    int w_sriov_autoprobe(const std::string& pf, std::string_view data);
    void enable_vfs(DeviceState& pf, unsigned count, bool probe_now);
    void disable_vfs(DeviceState& pf);
    void remove_device(DeviceState& d); // unbind + remove event; d stays in `devices` as absent
    void add_device(DeviceState& d);    // add event (+ change for VFs) + autoprobe
    std::string vf_netdev_name(const DeviceState& vf) const;
    const Fault* find_pf_fault(Fault::Kind kind, const std::string& pf) const;

    // ---- kernel_mdev.cpp
    unsigned mdev_available(const DeviceState& parent, const MdevTypeSpec& type) const;
    int w_mdev_create(const std::string& parent, const std::string& type, std::string_view data);
    int w_mdev_remove(std::unique_lock<std::mutex>&, const std::string& uuid, std::string_view data);
    void remove_mdev(const std::string& uuid);
    void register_mdev_parent(DeviceState& d);
    void unregister_mdev_parent(DeviceState& d);
    void register_virtual_parent(DeviceState& d); // module load: device_register + mdev_register_parent
    std::vector<const VgpuProfileSpec*> creatable_vgpu(const DeviceState& vf) const;
    int w_current_vgpu(std::unique_lock<std::mutex>&, const std::string& vf, std::string_view data);
    void clear_vgpu(DeviceState& vf);

    // ---- netdevs (kernel_bind.cpp)
    void register_netdev(const std::string& name, const DeviceState* d);
    void unregister_netdev(const std::string& name);

    DeviceState* dev(std::string_view addr) {
        auto it = devices.find(std::string(addr));
        return it == devices.end() || !it->second.present ? nullptr : &it->second;
    }
    const DeviceState* dev(std::string_view addr) const {
        auto it = devices.find(std::string(addr));
        return it == devices.end() || !it->second.present ? nullptr : &it->second;
    }
    // The parent an mdev names: a present PCI device or a registered non-PCI parent.
    DeviceState* mdev_parent(std::string_view name) {
        if (auto* d = dev(name))
            return d;
        auto it = virtual_parents.find(std::string(name));
        return it == virtual_parents.end() || !it->second.mdev_registered ? nullptr : &it->second;
    }
    const DeviceState* mdev_parent(std::string_view name) const {
        return const_cast<Impl*>(this)->mdev_parent(name);
    }
};

// The pimpl the public header declares.
struct Kernel::Impl : simhost::Impl {
    using simhost::Impl::Impl;
};

// Helpers shared by the handlers.
std::string strip_newline(std::string_view s); // sysfs_streq-style: one trailing '\n' ignored
// lib/kstrtox.c kstrto*: 0, -EINVAL (not a number) or -ERANGE (above max).
int kstrtoull(std::string_view s, unsigned base, unsigned long long max, unsigned long long& out);
int kstrtobool(std::string_view s, bool& out);
std::string rel_link(std::string_view from_dir, std::string_view to); // relative symlink text
std::string parent_dir(std::string_view path);
// One invalidation per node and entry, first occurrence kept (kernel_cache.cpp).
std::vector<Invalidation> dedupe(std::vector<Invalidation> in);

} // namespace simhost

// The incremental planner (plan/incremental.hpp) against the whole-host planner: for random hosts,
// configurations and change sets, plan_all() and every replan() must equal make_plan() exactly (actions in
// order, every status, conflicts), and every status that differs must be named in changed_objects().
#include "plan/incremental.hpp"
#include "plan/mdev_uuid.hpp"
#include "plan_fixtures.hpp"
#include "report/json.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <set>

using namespace plan_test;

namespace {

using Rng = std::mt19937;

int pick(Rng& rng, int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng);
}
bool chance(Rng& rng, int percent) {
    return pick(rng, 100) < percent;
}
template <typename T>
const T& one_of(Rng& rng, const std::vector<T>& items) {
    return items[static_cast<size_t>(pick(rng, static_cast<int>(items.size())))];
}

std::string address(int bus, int device, int function) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0000:%02x:%02x.%d", bus, device, function);
    return buf;
}
std::string pf_address(int p) {
    return address(0x10 + 2 * p, 0, 0);
}
std::string vf_address(int p, int i) {
    return address(0x10 + 2 * p, 2 + i / 8, i % 8);
}
std::string plain_address(int k) {
    return address(0x80 + k, 0, 0);
}

// A small pool of explicit UUIDs, so that entries and foreign mdevs share some of them.
const std::vector<std::string> kUuids = {
    "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002",
    "11111111-0000-4000-8000-000000000003", "11111111-0000-4000-8000-000000000004"};
const std::vector<std::string> kVfDrivers = {"",      "", "iavf", "vfio-pci", "vfio-pci", "mlx5_vfio_pci",
                                             "nvidia"};
const std::vector<std::string> kTypes = {"nvidia-222", "nvidia-223", "mtty-1"};
const std::vector<std::string> kHolders = {"pid 42 uid 0 (qemu-system-x86)", "netdev ens1f0v1 is up"};

constexpr int kPfs = 4;   // possible PF slots
constexpr int kVfs = 6;   // total VFs per PF
constexpr int kPlain = 4; // possible plain devices (mdev parents, GPUs, NVMe)

PciDevice make_vf(int p, int i, Rng& rng) {
    PciDevice v = plain_device(vf_address(p, i), one_of(rng, kVfDrivers));
    v.vendor = p % 2 ? 0x15b3 : 0x8086;
    v.device = p % 2 ? 0x101e : 0x154c;
    v.modalias = p % 2 ? "pci:v000015B3d0000101Esv000015B3sd00000000bc02sc00i00"
                       : "pci:v00008086d0000154Csv00008086sd00000000bc02sc00i00";
    v.physfn = pf_address(p);
    v.vf_index = i;
    v.driver_override = chance(rng, 30) ? "vfio-pci" : "";
    if (chance(rng, 15))
        v.holders = {one_of(rng, kHolders)};
    if (p == 3 && chance(rng, 70)) // an NVIDIA GPU's VFs
        v.vgpu = VgpuState{{{1, "NVIDIA L4-3Q"}, {2, "NVIDIA L4-6Q"}}, static_cast<uint32_t>(pick(rng, 3))};
    if (chance(rng, 10))
        v.mdev_types = {
            MdevType{one_of(rng, kTypes), "t", "vfio-pci", static_cast<uint32_t>(pick(rng, 3)), {}}};
    return v;
}

// PF p with n VFs; its VFs enter `host` too.
void add_pf(ObservedState& host, int p, int n, Rng& rng) {
    PciDevice pf = plain_device(pf_address(p), chance(rng, 85) ? "i40e" : "");
    pf.vendor = p % 2 ? 0x15b3 : 0x8086;
    pf.device = p % 2 ? 0x101d : 0x1572;
    pf.is_pf = true;
    pf.total_vfs = kVfs;
    pf.num_vfs = static_cast<uint32_t>(n);
    pf.drivers_autoprobe = chance(rng, 70);
    for (int i = 0; i < n; ++i) {
        PciDevice v = make_vf(p, i, rng);
        pf.vfs.push_back(v.address);
        host.devices[v.address] = v;
    }
    pf.netdevs.push_back(Netdev{"enp" + std::to_string(p + pick(rng, 2)), false, "down", "", {}});
    if (chance(rng, 10))
        pf.holders = {"netdev ens1f0 is up"};
    host.devices[pf.address] = pf;
}

void add_plain(ObservedState& host, int k, Rng& rng) {
    PciDevice d = plain_device(plain_address(k), one_of(rng, std::vector<std::string>{"", "nvidia", "nvme"}));
    d.vendor = k % 2 ? 0x10de : 0x144d;
    d.device = 0x1eb8;
    if (k < 3 && chance(rng, 80))
        d.mdev_types = {
            MdevType{"nvidia-222", "GRID T4-1Q", "vfio-pci", static_cast<uint32_t>(pick(rng, 4)), {}},
            MdevType{"nvidia-223", "GRID T4-2Q", "vfio-pci", static_cast<uint32_t>(pick(rng, 2)), {}}};
    if (chance(rng, 10))
        d.holders = {"pid 7 uid 0 (qemu)"};
    host.devices[d.address] = d;
}

// Every device that could carry an mdev in this host, and one parent that is not a PCI device at all.
std::vector<std::string> parents_of(const ObservedState& host) {
    std::vector<std::string> parents = {"css-0.0.0001"};
    for (const auto& [a, d] : host.devices)
        if (!d.is_pf)
            parents.push_back(a);
    return parents;
}

std::string some_mdev_uuid(const ObservedState& host, Rng& rng) {
    if (chance(rng, 50))
        return one_of(rng, kUuids);
    return mdev_instance_uuid(one_of(rng, parents_of(host)), static_cast<uint32_t>(pick(rng, 4)));
}

std::string add_mdev(ObservedState& host, Rng& rng) {
    MdevDevice m;
    m.uuid = some_mdev_uuid(host, rng);
    m.parent = one_of(rng, parents_of(host));
    m.type = one_of(rng, kTypes);
    if (chance(rng, 20))
        m.holders = {"pid 9 uid 0 (qemu)"};
    host.mdevs[m.uuid] = m;
    return m.uuid;
}

ObservedState random_host(Rng& rng) {
    ObservedState host;
    for (int p = 0; p < kPfs; ++p)
        if (chance(rng, 75))
            add_pf(host, p, pick(rng, kVfs + 1), rng);
    for (int k = 0; k < kPlain; ++k)
        if (chance(rng, 70))
            add_plain(host, k, rng);
    for (int i = pick(rng, 6); i > 0; --i)
        add_mdev(host, rng);
    host.drivers = {"i40e", "iavf", "nvme"};
    if (chance(rng, 60))
        host.drivers.push_back("vfio-pci");
    host.module_drivers = {{"i40e", {"i40e"}}, {"iavf", {"iavf"}}};
    if (chance(rng, 50))
        host.module_drivers["mlx5_vfio_pci"] = {"mlx5_vfio_pci"};
    host.vfio_aliases = {"alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci",
                         "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci"};
    if (chance(rng, 30))
        host.vgpu_type_names = {{2, "NVIDIA L4-6Q"}, {3, "NVIDIA L4-12Q"}};
    return host;
}

DriverChoice random_driver(Rng& rng) {
    switch (pick(rng, 6)) {
    case 0:
        return {};
    case 1:
        return vfio();
    case 2:
        return no_driver();
    case 3:
        return named("iavf");
    default:
        return named("vfio-pci");
    }
}

Match random_match(Rng& rng, const std::string& address_if_any) {
    Match m;
    switch (pick(rng, 6)) {
    case 4:
        m.netdev = "enp" + std::to_string(pick(rng, kPfs)); // a PF, by its (renamable) interface
        break;
    case 0:
        m.vendor = chance(rng, 50) ? 0x8086 : 0x10de; // selects several devices, in several units
        break;
    case 1:
        m.path = "pci-" + address_if_any;
        break;
    default:
        m.address = address_if_any;
    }
    return m;
}

DesiredState random_config(Rng& rng) {
    DesiredState d;
    uint32_t line = 1;
    auto at_line = [&line] { return at(line++ * 10, "10-random.toml"); };
    for (int i = pick(rng, 5); i > 0; --i) {
        PfEntry e;
        e.match = random_match(rng, pf_address(pick(rng, kPfs + 1))); // slot kPfs never exists: absent
        if (chance(rng, 70))
            e.vfs = chance(rng, 75) ? exact(static_cast<uint32_t>(pick(rng, kVfs + 2)))
                                    : at_least(static_cast<uint32_t>(pick(rng, kVfs)));
        if (chance(rng, 30))
            e.autoprobe = chance(rng, 50);
        e.source = at_line();
        for (int t = pick(rng, 3); t > 0; --t) {
            std::vector<uint32_t> indices;
            for (uint32_t index = 0; index < kVfs + 1; ++index)
                if (chance(rng, 40))
                    indices.push_back(index);
            if (indices.empty())
                continue;
            VfSettings s = vf_table(indices, random_driver(rng));
            s.managed = chance(rng, 10) && s.driver.kind == DriverChoice::Kind::Leave;
            if (chance(rng, 15)) {
                s.driver = {};
                s.vgpu = one_of(rng, std::vector<std::string>{"L4-6Q", "NVIDIA L4-3Q", "L4-24Q"});
            }
            s.source = at_line();
            e.vfs_settings.push_back(s);
        }
        d.pfs.push_back(e);
    }
    for (int i = pick(rng, 4); i > 0; --i) {
        const std::string target =
            chance(rng, 50) ? vf_address(pick(rng, kPfs), pick(rng, kVfs)) : plain_address(pick(rng, kPlain));
        DeviceEntry e = device_entry(target, random_driver(rng));
        e.match = random_match(rng, target);
        e.source = at_line();
        d.devices.push_back(e);
    }
    for (int i = pick(rng, 4); i > 0; --i) {
        MdevEntry e;
        const std::string parent =
            chance(rng, 70) ? plain_address(pick(rng, kPlain)) : vf_address(pick(rng, kPfs), pick(rng, kVfs));
        e.parent = random_match(rng, parent);
        e.type = one_of(rng, kTypes);
        if (chance(rng, 60))
            e.count = static_cast<uint32_t>(pick(rng, 4));
        else
            e.uuids = {one_of(rng, kUuids)};
        e.source = at_line();
        d.mdevs.push_back(e);
    }
    return d;
}

// A random change of the host; every device and mdev it touches goes into the two sets.
void mutate(ObservedState& host, Rng& rng, std::set<std::string>& devices, std::set<std::string>& mdevs) {
    std::vector<std::string> addresses;
    for (const auto& [a, d] : host.devices)
        addresses.push_back(a);
    std::vector<std::string> uuids;
    for (const auto& [u, m] : host.mdevs)
        uuids.push_back(u);
    switch (pick(rng, 11)) {
    case 0: // a driver bound or unbound
        if (!addresses.empty()) {
            const std::string a = one_of(rng, addresses);
            host.devices[a].driver = one_of(rng, kVfDrivers);
            devices.insert(a);
        }
        break;
    case 1: // holders come or go
        if (!addresses.empty()) {
            const std::string a = one_of(rng, addresses);
            auto& holders = host.devices[a].holders;
            holders = holders.empty() ? std::vector<std::string>{one_of(rng, kHolders)}
                                      : std::vector<std::string>{};
            devices.insert(a);
        }
        break;
    case 2: { // a PF's VF count changes: its VFs come and go
        const int p = pick(rng, kPfs);
        auto it = host.devices.find(pf_address(p));
        if (it == host.devices.end())
            break;
        for (const std::string& vf : it->second.vfs) {
            host.devices.erase(vf);
            devices.insert(vf);
        }
        host.devices.erase(it);
        add_pf(host, p, pick(rng, kVfs + 1), rng);
        devices.insert(pf_address(p));
        for (int i = 0; i < kVfs; ++i)
            if (host.devices.count(vf_address(p, i)))
                devices.insert(vf_address(p, i));
        break;
    }
    case 3: { // a PF is hot-plugged or removed with its VFs
        const int p = pick(rng, kPfs);
        auto it = host.devices.find(pf_address(p));
        if (it == host.devices.end()) {
            add_pf(host, p, pick(rng, kVfs + 1), rng);
        } else {
            for (const std::string& vf : it->second.vfs)
                host.devices.erase(vf);
            host.devices.erase(it);
        }
        devices.insert(pf_address(p));
        for (int i = 0; i < kVfs; ++i)
            devices.insert(vf_address(p, i));
        break;
    }
    case 4: { // a plain device comes or goes
        const int k = pick(rng, kPlain);
        if (host.devices.erase(plain_address(k)) == 0)
            add_plain(host, k, rng);
        devices.insert(plain_address(k));
        break;
    }
    case 5: // an mdev is created (maybe with a UUID someone else wants, maybe replacing one)
        mdevs.insert(add_mdev(host, rng));
        break;
    case 6: // an mdev goes away
        if (!uuids.empty()) {
            const std::string u = one_of(rng, uuids);
            host.mdevs.erase(u);
            mdevs.insert(u);
        }
        break;
    case 7: // an mdev gains or loses holders
        if (!uuids.empty()) {
            const std::string u = one_of(rng, uuids);
            auto& holders = host.mdevs[u].holders;
            holders =
                holders.empty() ? std::vector<std::string>{"pid 9 uid 0 (qemu)"} : std::vector<std::string>{};
            mdevs.insert(u);
        }
        break;
    case 8: // a parent's capacity or a VF's vGPU changes
        if (!addresses.empty()) {
            const std::string a = one_of(rng, addresses);
            PciDevice& d = host.devices[a];
            for (MdevType& t : d.mdev_types)
                t.available = static_cast<uint32_t>(pick(rng, 4));
            if (d.vgpu)
                d.vgpu->current = static_cast<uint32_t>(pick(rng, 3));
            devices.insert(a);
        }
        break;
    case 10: // a device now matches other entries (its vendor as seen changed)
        if (!addresses.empty()) {
            const std::string a = one_of(rng, addresses);
            host.devices[a].vendor = one_of(rng, std::vector<uint16_t>{0x8086, 0x10de, 0x144d});
            for (Netdev& n : host.devices[a].netdevs)
                n.name = "enp" + std::to_string(pick(rng, kPfs));
            devices.insert(a);
        }
        break;
    case 9: // an inconsistent read: a PF lists a VF whose physfn names another PF
        if (!addresses.empty() && chance(rng, 30)) {
            PciDevice& d = host.devices[one_of(rng, addresses)];
            if (!d.physfn.empty()) {
                d.physfn = pf_address(pick(rng, kPfs));
                devices.insert(d.address);
            }
        }
        break;
    }
}

// The whole plan as text: object keys too, since to_json(Plan) lists statuses without their keys.
std::string dump(const Plan& plan) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& [key, status] : plan.objects)
        keys.push_back(key);
    return nlohmann::json{{"plan", to_json(plan)}, {"keys", keys}}.dump(1);
}

// Object keys whose status differs between two plans (present in one only, or different).
std::set<std::string> differing_objects(const Plan& a, const Plan& b) {
    std::set<std::string> out;
    for (const auto& [key, status] : a.objects) {
        auto it = b.objects.find(key);
        if (it == b.objects.end() || to_json(it->second) != to_json(status))
            out.insert(key);
    }
    for (const auto& [key, status] : b.objects)
        if (!a.objects.count(key))
            out.insert(key);
    return out;
}

} // namespace

TEST_CASE("plan_all equals make_plan on random hosts and configurations") {
    for (unsigned seed = 1; seed <= 400; ++seed) {
        Rng rng(seed);
        const DesiredState desired = random_config(rng);
        const ObservedState host = random_host(rng);
        INFO("seed " << seed);
        REQUIRE(dump(plan_all(desired, host).plan()) == dump(make_plan(desired, host)));
    }
}

TEST_CASE("replan after random changes equals make_plan and names every status that changed") {
    int incremental = 0, whole = 0;
    for (unsigned seed = 1; seed <= 400; ++seed) {
        Rng rng(seed * 7919);
        const DesiredState desired = random_config(rng);
        ObservedState host = random_host(rng);
        IncrementalPlan planned = plan_all(desired, host);
        Plan before = make_plan(desired, host);
        for (int step = 0; step < 8; ++step) {
            std::set<std::string> devices, mdevs;
            for (int n = 1 + pick(rng, 2); n > 0; --n)
                mutate(host, rng, devices, mdevs);
            const bool was_whole = planned.whole();
            planned = replan(desired, host, std::move(planned), devices, mdevs);
            const Plan expected = make_plan(desired, host);
            INFO("seed " << seed << " step " << step);
            REQUIRE(dump(planned.plan()) == dump(expected));
            if (!planned.all_changed())
                for (const std::string& key : differing_objects(before, expected))
                    CHECK(planned.changed_objects().count(key) == 1);
            (was_whole || planned.whole() ? whole : incremental) += 1;
            before = expected;
        }
    }
    // Both paths ran: most changes re-plan a few units, coupled mdev UUIDs make some plans whole.
    WARN("incremental " << incremental << " whole " << whole);
    CHECK(incremental > 1000);
    CHECK(whole > 50);
}

TEST_CASE("a hot-plugged PF re-plans only its own unit") {
    DesiredState d;
    for (int p = 0; p < 3; ++p) {
        PfEntry e = pf_entry(exact(4), static_cast<uint32_t>(10 * p + 1));
        e.match = by_address(pf_address(p));
        e.vfs_settings.push_back(
            vf_table({0, 1, 2, 3}, named("vfio-pci"), static_cast<uint32_t>(10 * p + 2)));
        d.pfs.push_back(e);
    }
    Rng rng(1);
    ObservedState host;
    for (int p = 0; p < 2; ++p)
        add_pf(host, p, 4, rng);
    for (auto& [a, dev] : host.devices)
        if (!dev.physfn.empty()) {
            dev.driver = "vfio-pci";
            dev.holders.clear();
        }
    host.drivers = {"i40e", "vfio-pci"};
    IncrementalPlan planned = plan_all(d, host);
    CHECK(planned.plan().objects.count("10-nics.toml:21") == 1); // the third [[pf]] is absent

    add_pf(host, 2, 0, rng);
    host.devices[pf_address(2)].driver = "i40e";
    planned = replan(d, host, std::move(planned), {pf_address(2)}, {});
    REQUIRE(dump(planned.plan()) == dump(make_plan(d, host)));
    CHECK_FALSE(planned.all_changed());
    // The new PF, its VFs-to-be, and the entry that selected nothing before; none of the other PFs' objects.
    const std::string pf = pf_address(2);
    CHECK(planned.changed_objects() ==
          std::set<std::string>{pf, pf + "/vf0", pf + "/vf1", pf + "/vf2", pf + "/vf3", "10-nics.toml:21"});
    CHECK(only(planned.plan(), ActionKind::SetNumVfs).object == pf_address(2));
}

TEST_CASE("the device that loads a module moves when the first one asking for it is done") {
    // vfio-pci is not loaded: the first device (in address order) that needs it gets the LoadModule, in
    // whichever unit it is; once that device no longer needs it, the next one does.
    DesiredState d;
    for (int p = 0; p < 2; ++p) {
        PfEntry e = pf_entry(std::nullopt, static_cast<uint32_t>(10 * p + 1));
        e.match = by_address(pf_address(p));
        e.vfs_settings.push_back(vf_table({0}, named("vfio-pci"), static_cast<uint32_t>(10 * p + 2)));
        d.pfs.push_back(e);
    }
    Rng rng(3);
    ObservedState host;
    for (int p = 0; p < 2; ++p) {
        add_pf(host, p, 1, rng);
        host.devices[vf_address(p, 0)].driver = "";
        host.devices[vf_address(p, 0)].holders.clear();
    }
    host.drivers = {"i40e"};
    IncrementalPlan planned = plan_all(d, host);
    CHECK(only(planned.plan(), ActionKind::LoadModule).object == vf_address(0, 0));

    host.devices[vf_address(0, 0)].driver = "iavf";
    host.devices[vf_address(0, 0)].holders = {"pid 1 uid 0 (qemu)"}; // blocked now: asks for no module
    planned = replan(d, host, std::move(planned), {vf_address(0, 0)}, {});
    REQUIRE(dump(planned.plan()) == dump(make_plan(d, host)));
    CHECK(only(planned.plan(), ActionKind::LoadModule).object == vf_address(1, 0));
    CHECK(planned.changed_objects().count(vf_address(1, 0)) == 1);
}

TEST_CASE("a device that no longer matches any entry gives up its LoadModule to the next one") {
    DesiredState d;
    DeviceEntry e = device_entry(plain_address(0), named("vfio-pci"));
    e.match = Match{};
    e.match.vendor = 0x10de;
    d.devices.push_back(e);
    ObservedState host;
    for (int k = 0; k < 2; ++k) {
        PciDevice g = plain_device(plain_address(k));
        g.vendor = 0x10de;
        host.devices[g.address] = g;
    }
    host.drivers = {"nvme"};
    IncrementalPlan planned = plan_all(d, host);
    CHECK(only(planned.plan(), ActionKind::LoadModule).object == plain_address(0));

    // The first device's unit now has nothing to plan at all; the choice moves to the second device.
    host.devices[plain_address(0)].vendor = 0x144d;
    planned = replan(d, host, std::move(planned), {plain_address(0)}, {});
    REQUIRE(dump(planned.plan()) == dump(make_plan(d, host)));
    CHECK(only(planned.plan(), ActionKind::LoadModule).object == plain_address(1));
}

TEST_CASE("an mdev UUID wanted on one parent and present on another makes the plan whole, and exact") {
    DesiredState d;
    MdevEntry e;
    e.parent = by_address(plain_address(0));
    e.type = "nvidia-222";
    e.uuids = {kUuids[0]};
    e.source = at(4, "20-gpus.toml");
    d.mdevs.push_back(e);
    Rng rng(5);
    ObservedState host;
    add_plain(host, 0, rng);
    add_plain(host, 1, rng);
    IncrementalPlan planned = plan_all(d, host);
    CHECK_FALSE(planned.whole());

    host.mdevs[kUuids[0]] = MdevDevice{kUuids[0], plain_address(1), "nvidia-222", std::nullopt, {}};
    planned = replan(d, host, std::move(planned), {}, {kUuids[0]});
    CHECK(planned.whole());
    REQUIRE(dump(planned.plan()) == dump(make_plan(d, host)));
    CHECK(status(planned.plan(), kUuids[0]).reason ==
          "UUID " + kUuids[0] + " already exists on parent " + plain_address(1));

    host.mdevs.erase(kUuids[0]);
    planned = replan(d, host, std::move(planned), {}, {kUuids[0]});
    CHECK_FALSE(planned.whole());
    REQUIRE(dump(planned.plan()) == dump(make_plan(d, host)));
}

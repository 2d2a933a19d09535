#include "status_report.hpp"

#include "exit_codes.hpp"
#include "report/table.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace hostdevd::cli {

namespace {

using nlohmann::json;

// States from the most to the least urgent: the order of counts and of the reasons.
// (consent: an action that destroys devices waits for the operator, who is the one to act.)
const std::vector<std::string> kStateOrder = {"failed", "consent", "blocked",  "pending",
                                              "absent", "foreign", "converged"};

size_t state_rank(const std::string& state) {
    auto it = std::find(kStateOrder.begin(), kStateOrder.end(), state);
    return static_cast<size_t>(it - kStateOrder.begin());
}

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string or_dash(const std::string& s) {
    return s.empty() ? "-" : s;
}

std::string joined(const json& list, const char* sep = "; ") {
    std::string out;
    for (const auto& item : list)
        out += (out.empty() ? "" : sep) + item.get<std::string>();
    return or_dash(out);
}

// "62 converged, 2 blocked" ordered by urgency; "converged" alone for one object.
std::string count_states(const std::map<std::string, size_t>& counts, bool bare_when_single = true) {
    size_t total = 0;
    for (const auto& [s, n] : counts)
        total += n;
    if (bare_when_single && counts.size() == 1 && total == 1)
        return counts.begin()->first;
    std::string out;
    for (const auto& s : kStateOrder)
        if (auto it = counts.find(s); it != counts.end())
            out += (out.empty() ? "" : ", ") + std::to_string(it->second) + " " + s;
    for (const auto& [s, n] : counts) // states this version does not know yet, last
        if (state_rank(s) == kStateOrder.size())
            out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + s;
    return out;
}

std::string ellipsize(const std::string& text, size_t width) {
    if (width == 0 || text.size() <= width)
        return text;
    return text.substr(0, width > 1 ? width - 1 : 0) + "…";
}

// What the filter selects from a Describe().
struct Selection {
    std::vector<const json*> devices, mdevs, absent;
    std::map<std::string, std::string> physfn; // VF address -> PF address, of every device
};

Selection select(const json& d, const StatusFilter& f) {
    Selection sel;
    for (const auto& v : d.at("devices"))
        if (!str(v, "physfn").empty())
            sel.physfn[str(v, "address")] = str(v, "physfn");
    auto in_pfs = [&](const std::string& address) {
        if (f.pfs.count(address))
            return true;
        auto it = sel.physfn.find(address);
        return it != sel.physfn.end() && f.pfs.count(it->second);
    };
    for (const auto& v : d.at("devices")) {
        if (!f.pfs.empty() && !in_pfs(str(v, "address")))
            continue;
        if (!f.states.empty() && !f.states.count(str(v, "state")))
            continue;
        if (!f.pools.empty() && !f.pools.count(str(v, "pool")))
            continue;
        sel.devices.push_back(&v);
    }
    for (const auto& v : d.at("mdevs")) {
        if (!f.pools.empty()) // mdevs have no pool
            continue;
        if (!f.pfs.empty() && !in_pfs(str(v, "parent")))
            continue;
        if (!f.states.empty() && !f.states.count(str(v, "state")))
            continue;
        sel.mdevs.push_back(&v);
    }
    auto absent = d.find("absent"); // pointers into `d` itself: never into a copy
    if (absent != d.end() && (f.pfs.empty() && f.pools.empty()) &&
        (f.states.empty() || f.states.count("absent")))
        for (const auto& a : *absent)
            sel.absent.push_back(&a);
    return sel;
}

std::string header_line(const json& d) {
    const auto& m = d.at("manager");
    return "hostdevd " + str(m, "version") + ": " + str(m, "state") + ", configuration generation " +
           std::to_string(m.value("config_generation", uint64_t{0})) + " (" +
           std::to_string(m.value("config_files", json::array()).size()) + " files)";
}

// "26 devices (3 PFs with 20 VFs, 3 other): 24 converged, 2 blocked; 4 mdevs: 4 converged; 1 absent"
std::string summary_line(const Selection& sel) {
    size_t pfs = 0, vfs = 0;
    std::map<std::string, size_t> device_states, mdev_states;
    for (const json* v : sel.devices) {
        pfs += str(*v, "role") == "pf";
        vfs += str(*v, "role") == "vf";
        ++device_states[str(*v, "state")];
    }
    for (const json* v : sel.mdevs)
        ++mdev_states[str(*v, "state")];
    size_t other = sel.devices.size() - pfs - vfs;
    std::string out = std::to_string(sel.devices.size()) + (sel.devices.size() == 1 ? " device" : " devices");
    if (!sel.devices.empty()) {
        out += " (" + std::to_string(pfs) + (pfs == 1 ? " PF" : " PFs") + " with " + std::to_string(vfs) +
               (vfs == 1 ? " VF" : " VFs") + ", " + std::to_string(other) +
               " other): " + count_states(device_states, false);
    }
    if (!sel.mdevs.empty())
        out += "; " + std::to_string(sel.mdevs.size()) + (sel.mdevs.size() == 1 ? " mdev: " : " mdevs: ") +
               count_states(mdev_states, false);
    if (!sel.absent.empty())
        out += "; " + std::to_string(sel.absent.size()) + " absent";
    return out;
}

// "vfio-pci 6, iavf 2" from counts, most common first.
std::string tally(const std::map<std::string, size_t>& counts) {
    std::vector<std::pair<std::string, size_t>> items(counts.begin(), counts.end());
    std::stable_sort(items.begin(), items.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    for (const auto& [name, n] : items)
        out += (out.empty() ? "" : ", ") + name + " " + std::to_string(n);
    return or_dash(out);
}

// VFS is current/total (sriov_numvfs/sriov_totalvfs), the one notation of counts in every view
// (`hostdevctl devices` too); what the configuration asks for is under WANTS.
std::string vf_column(const json& v) {
    if (str(v, "role") != "pf")
        return "-";
    return std::to_string(v.value("num_vfs", 0u)) + "/" + std::to_string(v.value("total_vfs", 0u));
}

// What the configuration asks of a device: "vfs 4", its driver ("(managed)" when libvirt binds it),
// "vgpu NVIDIA L4-6Q"; "-" when nothing.
std::string wants_column(const json& v) {
    std::vector<std::string> wants;
    if (const std::string n = str(v, "desired_vfs"); !n.empty())
        wants.push_back("vfs " + n);
    if (v.value("managed", false))
        wants.push_back("(managed)");
    else if (const std::string driver = str(v, "desired_driver"); !driver.empty())
        wants.push_back(driver);
    if (const std::string vgpu = str(v, "desired_vgpu"); !vgpu.empty())
        wants.push_back("vgpu " + vgpu);
    std::string out;
    for (const auto& w : wants)
        out += (out.empty() ? "" : ", ") + w;
    return or_dash(out);
}

// One roll-up row: a PF with its (selected) VFs, or any other device on its own.
struct RollupRow {
    std::vector<std::string> cells;
    bool converged = true;
};

std::vector<RollupRow> rollup(const Selection& sel) {
    std::map<std::string, std::vector<const json*>> vfs_of; // PF -> its selected VFs
    std::map<std::string, const json*> units;               // address -> PF or other device
    for (const json* v : sel.devices) {
        std::string pf = str(*v, "physfn");
        if (str(*v, "role") == "vf" && !pf.empty())
            vfs_of[pf].push_back(v);
        else
            units[str(*v, "address")] = v;
    }
    std::vector<RollupRow> rows;
    auto add = [&](const std::string& address, const json* unit) {
        std::map<std::string, size_t> states, drivers, pools;
        if (unit)
            ++states[str(*unit, "state")];
        for (const json* vf : vfs_of[address]) {
            ++states[str(*vf, "state")];
            ++drivers[or_dash(str(*vf, "driver"))];
            if (!str(*vf, "pool").empty())
                ++pools[str(*vf, "pool")];
        }
        if (unit && !str(*unit, "pool").empty())
            ++pools[str(*unit, "pool")];
        RollupRow row;
        row.converged = states.size() == 1 && states.begin()->first == "converged";
        row.cells = {address,
                     unit ? str(*unit, "role") : "pf",
                     unit ? or_dash(str(*unit, "driver")) : "?",
                     unit ? vf_column(*unit) : "-",
                     unit ? wants_column(*unit) : "-",
                     vfs_of[address].empty() ? "-" : tally(drivers),
                     count_states(states),
                     tally(pools)};
        rows.push_back(std::move(row));
    };
    for (const auto& [address, unit] : units)
        add(address, unit);
    for (const auto& [pf, vfs] : vfs_of) // VFs whose PF is not selected (--state, --pool)
        if (!units.count(pf))
            add(pf, nullptr);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const RollupRow& a, const RollupRow& b) { return a.cells[0] < b.cells[0]; });
    return rows;
}

// The objects a reason applies to, compressed per PF: "0000:3b:02.6, 0000:3b:02.7 (VFs of 0000:3b:00.0)",
// "64 VFs of 0000:5e:00.0 (0000:5e:01.0 … 0000:5e:08.7)", "0000:20:00.0 and 64 of its VFs (...)";
// other objects listed ("0000:af:00.0, 0000:b0:00.0 and 3 more"); at most three such parts.
std::string describe_objects(const std::vector<std::string>& objects,
                             const std::map<std::string, std::string>& physfn) {
    std::map<std::string, std::vector<std::string>> vfs_of; // PF -> its VFs among `objects`
    std::vector<std::string> others;
    for (const auto& o : objects) {
        auto it = physfn.find(o);
        if (it != physfn.end() && !it->second.empty())
            vfs_of[it->second].push_back(o);
        else
            others.push_back(o);
    }
    auto list = [](const std::vector<std::string>& items) {
        std::string out;
        for (const auto& i : items)
            out += (out.empty() ? "" : ", ") + i;
        return out;
    };
    auto range = [&list](const std::vector<std::string>& vfs) {
        return vfs.size() <= 3 ? list(vfs) : vfs.front() + " … " + vfs.back();
    };
    std::vector<std::string> parts;
    for (auto& [pf, vfs] : vfs_of) {
        auto self = std::find(others.begin(), others.end(), pf);
        std::string n = std::to_string(vfs.size());
        if (self != others.end()) {
            others.erase(self);
            parts.push_back(
                pf + " and " +
                (vfs.size() == 1 ? "its VF " + vfs.front() : n + " of its VFs (" + range(vfs) + ")"));
        } else if (vfs.size() <= 3) {
            parts.push_back(list(vfs) + (vfs.size() == 1 ? " (VF of " : " (VFs of ") + pf + ")");
        } else {
            parts.push_back(n + " VFs of " + pf + " (" + range(vfs) + ")");
        }
    }
    if (!others.empty())
        parts.push_back(others.size() <= 3 ? list(others)
                                           : others[0] + ", " + others[1] + " and " +
                                                 std::to_string(others.size() - 2) + " more");
    if (parts.size() > 3)
        return parts[0] + "; " + parts[1] + "; " + parts[2] + " and " + std::to_string(objects.size()) +
               " objects in all";
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : "; ") + p;
    return out;
}

struct ReasonGroup {
    std::string state, reason;
    std::vector<std::string> objects;
};

std::vector<ReasonGroup> reason_groups(const Selection& sel) {
    std::vector<ReasonGroup> groups;
    std::map<std::pair<std::string, std::string>, size_t> index;
    auto add = [&](const std::string& object, const std::string& state, const std::string& reason) {
        if (state == "converged" || state == "foreign") // foreign: not hostdevd's, nothing to act on
            return;
        auto key = std::make_pair(state, reason);
        auto [it, inserted] = index.emplace(key, groups.size());
        if (inserted)
            groups.push_back({state, reason, {}});
        groups[it->second].objects.push_back(object);
    };
    for (const json* v : sel.devices)
        add(str(*v, "address"), str(*v, "state"), str(*v, "reason"));
    for (const json* v : sel.mdevs)
        add(str(*v, "uuid"), str(*v, "state"), str(*v, "reason"));
    std::stable_sort(groups.begin(), groups.end(), [](const ReasonGroup& a, const ReasonGroup& b) {
        return state_rank(a.state) < state_rank(b.state);
    });
    return groups;
}

// Returns the number of lines written (at most max_lines).
size_t render_groups(std::ostream& out, const std::vector<ReasonGroup>& groups,
                     const std::map<std::string, std::string>& physfn, size_t max_lines, size_t width) {
    size_t shown = 0, lines = 0;
    const size_t limit = max_lines;
    for (const auto& g : groups) {
        size_t left = groups.size() - shown;
        // Keep one line for "... and N more" unless this is the last group.
        if (2 + (left > 1 ? 1 : 0) > max_lines)
            break;
        out << ellipsize(g.state + ": " + describe_objects(g.objects, physfn), width) << '\n';
        out << ellipsize("  " + (g.reason.empty() ? std::string("(no reason given)") : g.reason), width)
            << '\n';
        max_lines -= 2;
        lines += 2;
        ++shown;
    }
    if (shown < groups.size() && lines < limit) {
        std::set<std::string> states;
        for (size_t i = shown; i < groups.size(); ++i)
            states.insert(groups[i].state);
        std::string list;
        for (const auto& s : states)
            list += (list.empty() ? "" : ",") + s;
        out << "… and " << groups.size() - shown << " more (hostdevctl status --all --state " << list
            << ")\n";
        ++lines;
    }
    return lines;
}

// The full table: every selected device and mdev. A reason that several rows share is printed once
// beneath the table as a numbered note, the rows say "[n]".
void render_full(std::ostream& out, const Selection& sel) {
    std::map<std::string, size_t> uses;
    for (const json* v : sel.devices)
        ++uses[str(*v, "reason")];
    for (const json* v : sel.mdevs)
        ++uses[str(*v, "reason")];
    std::vector<std::string> notes;
    std::map<std::string, size_t> note_of;
    auto reason_cell = [&](const std::string& reason) {
        if (reason.empty())
            return std::string("-");
        if (uses[reason] < 2)
            return reason;
        auto [it, inserted] = note_of.emplace(reason, notes.size() + 1);
        if (inserted)
            notes.push_back(reason);
        return "[" + std::to_string(it->second) + "]";
    };
    Table t({"DEVICE", "ROLE", "DRIVER", "VFS", "VGPU", "WANTS", "STATE", "HOLDERS", "REASON"});
    for (const json* v : sel.devices)
        t.add({str(*v, "address"), str(*v, "role"), or_dash(str(*v, "driver")), vf_column(*v),
               or_dash(str(*v, "vgpu")), wants_column(*v), str(*v, "state"),
               joined(v->value("holders", json::array())), reason_cell(str(*v, "reason"))});
    if (!t.empty()) {
        out << '\n';
        t.render(out);
    }
    if (!sel.mdevs.empty()) {
        Table md({"MDEV", "PARENT", "TYPE", "ACTIVE", "STATE", "HOLDERS", "REASON"});
        for (const json* v : sel.mdevs)
            md.add({str(*v, "uuid"), str(*v, "parent"), str(*v, "type"),
                    v->value("active", false) ? "yes" : "no", str(*v, "state"),
                    joined(v->value("holders", json::array())), reason_cell(str(*v, "reason"))});
        out << '\n';
        md.render(out);
    }
    if (!notes.empty()) {
        out << '\n';
        for (size_t i = 0; i < notes.size(); ++i)
            out << "[" << i + 1 << "] " << notes[i] << '\n';
    }
    if (!sel.absent.empty())
        out << '\n';
    for (const json* a : sel.absent)
        out << "absent: " << str(*a, "object") << " (" << str(*a, "source") << ")\n";
}

int exit_for_state(const std::string& state) {
    if (state == "converged")
        return kExitOk;
    if (state == "starting" || state == "progressing")
        return kExitPending;
    if (state == "blocked")
        return kExitBlocked;
    return kExitFailed; // degraded, invalid-config, anything unknown
}

} // namespace

int status_exit_status(const json& d, const StatusFilter& filter) {
    const auto& m = d.at("manager");
    if (!m.value("config_valid", true))
        return kExitFailed;
    if (!filter.any())
        return exit_for_state(str(m, "state"));
    Selection sel = select(d, filter);
    bool pending = false, blocked = false;
    auto consider = [&](const json* v) {
        std::string s = str(*v, "state");
        pending = pending || s == "pending";
        blocked = blocked || s == "blocked" || s == "consent";
        return s == "failed";
    };
    for (const json* v : sel.devices)
        if (consider(v))
            return kExitFailed;
    for (const json* v : sel.mdevs)
        if (consider(v))
            return kExitFailed;
    return pending ? kExitPending : blocked ? kExitBlocked : kExitOk;
}

void render_reasons(std::ostream& out, const json& d, const StatusFilter& filter, size_t max_lines,
                    size_t width) {
    Selection sel = select(d, filter);
    render_groups(out, reason_groups(sel), sel.physfn, max_lines, width);
}

int render_status(std::ostream& out, const json& d, const StatusOptions& options) {
    Selection sel = select(d, options.filter);
    const auto& m = d.at("manager");
    size_t lines = 0;
    out << header_line(d) << '\n';
    ++lines;
    if (!m.value("config_valid", true)) {
        out << "configuration error (previous one still in force): " << str(m, "config_error") << '\n';
        ++lines;
    }
    out << summary_line(sel) << '\n';
    ++lines;

    StatusDetail detail = options.detail;
    if (detail == StatusDetail::Auto)
        detail = sel.devices.size() + sel.mdevs.size() <= kFullTableRows ? StatusDetail::Full
                                                                         : StatusDetail::Summary;
    if (detail == StatusDetail::Full) {
        render_full(out, sel);
        return status_exit_status(d, options.filter);
    }

    // Summary: the roll-up (PFs and devices that need attention first when they do not all fit), then
    // each distinct reason once.
    std::vector<RollupRow> rows = rollup(sel);
    constexpr size_t kMaxRollupRows = 12;
    size_t hidden = 0;
    if (rows.size() > kMaxRollupRows) {
        std::stable_partition(rows.begin(), rows.end(), [](const RollupRow& r) { return !r.converged; });
        hidden = rows.size() - kMaxRollupRows;
        rows.resize(kMaxRollupRows);
        std::stable_sort(rows.begin(), rows.end(),
                         [](const RollupRow& a, const RollupRow& b) { return a.cells[0] < b.cells[0]; });
    }
    if (!rows.empty()) {
        Table t({"DEVICE", "ROLE", "DRIVER", "VFS", "WANTS", "VF DRIVERS", "STATE", "POOLS"});
        for (auto& r : rows)
            t.add(r.cells);
        out << '\n';
        t.render(out);
        lines += 2 + rows.size();
        if (hidden) {
            out << "… and " << hidden << " more, converged (hostdevctl status --all lists every device)\n";
            ++lines;
        }
    }
    std::vector<ReasonGroup> groups = reason_groups(sel);
    if (!groups.empty() && lines + 4 <= kSummaryLines) {
        out << '\n';
        ++lines;
        size_t budget = kSummaryLines - lines - 1; // one line for the closing hint
        lines += render_groups(out, groups, sel.physfn, budget, options.width);
    }
    if (!sel.absent.empty() && lines + 2 <= kSummaryLines) {
        out << "absent: " << str(*sel.absent.front(), "object") << " (" << str(*sel.absent.front(), "source")
            << ")" << (sel.absent.size() > 1 ? " and " + std::to_string(sel.absent.size() - 1) + " more" : "")
            << '\n';
        ++lines;
    }
    if (lines < kSummaryLines)
        out << "(every device and the whole reasons: hostdevctl status --all)\n";
    return status_exit_status(d, options.filter);
}

} // namespace hostdevd::cli

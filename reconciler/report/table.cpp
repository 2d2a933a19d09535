#include "report/table.hpp"

#include <algorithm>
#include <cstdio>

namespace hostdevd {

void Table::render(std::ostream& out) const {
    std::vector<size_t> width(header_.size(), 0);
    auto measure = [&width](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    };
    measure(header_);
    for (const auto& r : rows_)
        measure(r);
    auto print = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t i = 0; i < width.size(); ++i) {
            std::string cell = i < row.size() ? row[i] : "";
            line += cell;
            if (i + 1 < width.size())
                line += std::string(width[i] - cell.size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out << line << '\n';
    };
    print(header_);
    for (const auto& r : rows_)
        print(r);
}

namespace {

std::string ids(const PciDevice& d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04x:%04x", d.vendor, d.device);
    return buf;
}

std::string group(const std::optional<int>& g) {
    return g ? std::to_string(*g) : "-";
}

std::string or_dash(const std::string& s) {
    return s.empty() ? "-" : s;
}

std::string joined(const std::vector<std::string>& items, const char* sep = "; ") {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty())
            out += sep;
        out += i;
    }
    return out;
}

std::string netdev_names(const PciDevice& d) {
    std::vector<std::string> names;
    for (const auto& n : d.netdevs)
        names.push_back(n.name);
    return or_dash(joined(names, ","));
}

} // namespace

void render_devices(std::ostream& out, const ObservedState& observed) {
    Table t({"ADDRESS", "ROLE", "IDS", "DRIVER", "GROUP", "NETDEV", "SR-IOV", "HOLDERS"});
    auto row = [&](const PciDevice& d, const std::string& address, const std::string& role) {
        std::string sriov = "-";
        if (d.is_pf)
            sriov = std::to_string(d.num_vfs) + "/" + std::to_string(d.total_vfs) +
                    (d.drivers_autoprobe ? "" : " noprobe");
        else if (!d.physfn.empty())
            sriov = "vf " + std::to_string(d.vf_index);
        t.add({address, role, ids(d), or_dash(d.driver), group(d.iommu_group), netdev_names(d), sriov,
               or_dash(joined(d.holders))});
    };
    for (const auto& [address, d] : observed.devices) {
        if (!d.physfn.empty())
            continue; // listed under their PF
        row(d, address, d.is_pf ? "pf" : (d.mdev_types.empty() ? "device" : "mdev-parent"));
        for (const auto& vf : d.vfs)
            if (const auto* v = observed.find(vf))
                row(*v, "  " + vf, "vf");
    }
    for (const auto& [name, parent] : observed.mdev_parents) {
        std::vector<std::string> types;
        for (const auto& type : parent.mdev_types)
            types.push_back(type.id);
        // Not a PCI device: IDS lists its mdev types instead.
        t.add({name, "mdev-parent", or_dash(joined(types, ",")), "-", "-", "-", "-", "-"});
    }
    for (const auto& [object, why] : observed.busy)
        t.add({object, "busy", "-", "-", "-", "-", "-", why});
    t.render(out);
    if (!observed.mdevs.empty()) {
        out << '\n';
        Table m({"MDEV", "PARENT", "TYPE", "GROUP", "HOLDERS"});
        for (const auto& [uuid, md] : observed.mdevs)
            m.add({uuid, md.parent, md.type, group(md.iommu_group), or_dash(joined(md.holders))});
        m.render(out);
    }
}

void render_plan(std::ostream& out, const Plan& plan, const std::vector<Action>& future) {
    if (plan.actions.empty() && future.empty()) {
        out << "nothing to do: the host matches the configuration\n";
    } else {
        Table t({"OBJECT", "ACTION", "VERDICT", "REASON"});
        for (const auto& a : plan.actions)
            t.add({a.object, a.summary.empty() ? to_string(a.kind) : a.summary, to_string(a.verdict),
                   a.reason});
        for (const auto& a : future)
            t.add({a.object, a.summary, to_string(a.verdict), a.reason});
        t.render(out);
    }
    Table s({"OBJECT", "ROLE", "STATE", "REASON", "SOURCE"});
    for (const auto& [key, st] : plan.objects)
        if (st.state != ObjectState::Converged)
            s.add({st.object, st.role, to_string(st.state), st.reason, or_dash(st.source)});
    if (!s.empty()) {
        out << '\n';
        s.render(out);
    }
    for (const auto& c : plan.conflicts)
        out << "conflict: " << c << '\n';
}

} // namespace hostdevd

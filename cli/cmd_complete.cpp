// `hostdevctl complete WHAT`: the hidden helper behind the bash completion (completion/hostdevctl.bash).
// It prints one candidate per line from the command table (so completion never drifts from the parser)
// and from the live host, cheaply: PFs and devices from one listing of /sys/bus/pci/devices (no daemon
// round trip, no full observation); pools from the running daemon (the pools `status --pool` filters
// on), else from the configuration files. It never fails loudly: a completion that cannot find
// candidates offers none.
//
//   complete commands            the commands
//   complete options COMMAND     "--name" for flags, "--name KIND" for options with a value
//                                (KIND: directory, file, number, pf, device, pool, state)
//   complete options-with-values "--name" of every option of any command that takes a value
//   complete pfs | devices       SR-IOV PF addresses | every PCI address
//   complete pools [DIR]         the pools of the devices hostdevd reports; without a daemon, those the
//                                configuration in DIR (default /etc/hostdevd) names
//   complete states              the object states
//   complete formats             the formats of `hostdevctl export`
#include "arguments.hpp"
#include "commands.hpp"
#include "config/loader.hpp"
#include "daemon_client.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "sysfs/layout.hpp"

#include <filesystem>
#include <iostream>
#include <set>
#include <unistd.h>

namespace hostdevd::cli {

namespace {

const char* kind_name(ValueKind kind) {
    switch (kind) {
    case ValueKind::None:
        return "";
    case ValueKind::Directory:
        return "directory";
    case ValueKind::File:
        return "file";
    case ValueKind::Number:
        return "number";
    case ValueKind::Pf:
        return "pf";
    case ValueKind::Device:
    case ValueKind::Object:
        return "device";
    case ValueKind::Pool:
        return "pool";
    case ValueKind::State:
        return "state";
    }
    return "";
}

void list_pci(bool pfs_only) {
    SysfsLayout layout;
    std::error_code ec;
    std::set<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(layout.pci_devices_dir(), ec)) {
        std::string address = entry.path().filename();
        if (pfs_only && access(layout.pci_device_attr(address, "sriov_totalvfs").c_str(), F_OK) != 0)
            continue;
        out.insert(address);
    }
    for (const auto& a : out)
        std::cout << a << '\n';
}

void list_pools(const std::string& dir) {
    std::set<std::string> pools;
    try {
        if (auto daemon = DaemonClient::connect_if_running()) {
            const nlohmann::json described =
                daemon->describe(); // the loop must not range over a dead temporary
            for (const auto& d : described.at("devices"))
                if (!d.value("pool", "").empty())
                    pools.insert(d.value("pool", ""));
            for (const auto& p : pools)
                std::cout << p << '\n';
            return;
        }
    } catch (const std::exception&) {
        // the daemon went away or answered oddly: fall back to the files
    }
    LoadOptions options;
    options.check_permissions = false; // completion only reads names; validate judges the files
    LoadResult loaded = load_config_dir(dir, options);
    if (!loaded.ok())
        return;
    for (const auto& pf : loaded.state->pfs)
        for (const auto& vf : pf.vfs_settings)
            if (!vf.pool.empty())
                pools.insert(vf.pool);
    for (const auto& d : loaded.state->devices)
        if (!d.pool.empty())
            pools.insert(d.pool);
    for (const auto& p : pools)
        std::cout << p << '\n';
}

int run_complete(const Invocation& in) {
    const std::string what = in.positional.empty() ? "" : in.positional[0];
    const std::string arg = in.positional.size() > 1 ? in.positional[1] : "";
    if (what == "commands") {
        for (const auto& c : commands())
            if (!c.hidden)
                std::cout << c.name << '\n';
    } else if (what == "options") {
        if (const Command* c = find_command(arg)) {
            for (const auto& o : c->options)
                std::cout << "--" << o.name
                          << (o.value == ValueKind::None ? "" : std::string(" ") + kind_name(o.value))
                          << '\n';
            std::cout << "--help\n";
        }
    } else if (what == "options-with-values") {
        std::set<std::string> names;
        for (const auto& c : commands())
            for (const auto& o : c.options)
                if (o.value != ValueKind::None)
                    names.insert("--" + o.name);
        for (const auto& n : names)
            std::cout << n << '\n';
    } else if (what == "pfs" || what == "devices") {
        list_pci(what == "pfs");
    } else if (what == "pools") {
        list_pools(arg.empty() ? kDefaultConfigDir : arg);
    } else if (what == "states") {
        for (const auto& s : object_states())
            std::cout << s << '\n';
    } else if (what == "formats") {
        for (ExportFormat f : all_export_formats())
            std::cout << to_string(f) << '\n';
    } else {
        return usage_error(
            "complete: unknown list '" + what +
            "' (commands, options, options-with-values, pfs, devices, pools, states, formats)");
    }
    return kExitOk;
}

} // namespace

Command complete_command() {
    Command c;
    c.name = "complete";
    c.arguments = "WHAT [ARG]";
    c.max_positional = 2;
    c.summary = "candidates for shell completion (used by the bash completion)";
    c.description =
        "Print completion candidates, one per line: commands, options COMMAND, pfs, devices,\n"
        "pools [DIR], states, formats. Used by /usr/share/bash-completion/completions/hostdevctl.";
    c.exit_status = "  0  printed (possibly nothing)\n  2  usage error\n";
    c.run = run_complete;
    c.hidden = true;
    return c;
}

} // namespace hostdevd::cli

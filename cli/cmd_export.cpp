// `hostdevctl export FORMAT`: what hostdevd's consumers need to know about this host's pools, in their own
// formats (docs/consumers.md): nova's [pci] device_spec and alias, libvirt hostdev networks, the SR-IOV
// device plugin's config.json, Prometheus textfile metrics. Through the daemon when it runs (its state is
// the one consumers see, and it has the counters for the metrics), else made here from --config-dir and
// the host. The rendering is reconciler/export's, shared with the daemon's [export] files.
#include "arguments.hpp"
#include "bounded_render.hpp"
#include "commands.hpp"
#include "common/closest_match.hpp"
#include "configuration.hpp"
#include "daemon_client.hpp"
#include "exit_codes.hpp"
#include "export/file_writer.hpp"
#include "export/formats.hpp"
#include "options.hpp"
#include "plan/planner.hpp"
#include "report/views.hpp"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

namespace hostdevd::cli {

namespace {

std::string format_list() {
    std::string out;
    for (ExportFormat f : all_export_formats())
        out += (out.empty() ? "" : ", ") + std::string(to_string(f));
    return out;
}

// Made here: the configuration and the host as they are now, with the plan's view of every device. The
// host is read in a child process (bounded_render.hpp): a device a stuck write keeps locked is left out
// (so not converged, not exported) instead of hanging the command. The child hands its documents, or why
// there are none, back as JSON.
std::vector<ExportDocument> export_locally(ExportFormat format, bool all, const std::string& config_dir) {
    auto desired = load_or_report(config_dir);
    if (!desired)
        throw std::runtime_error(""); // the loader's diagnostics are printed already
    auto output = render_bounded([&](const ObservedState& observed) {
        nlohmann::json result;
        try {
            Plan plan = make_plan(*desired, observed);
            Views views = derive_views(observed, plan, {});
            ExportManagerState manager;
            manager.version = HOSTDEVD_VERSION;
            manager.state = local_manager_state(views, plan);
            result["documents"] = nlohmann::json::array();
            for (const auto& d :
                 render_export(format, ExportInput{*desired, observed, plan, views, manager, nullptr}, all))
                result["documents"].push_back({d.name, d.content});
        } catch (const std::exception& e) {
            result["error"] = e.what();
        }
        return result.dump();
    });
    if (!output)
        throw std::runtime_error(""); // render_bounded printed why
    const nlohmann::json result = nlohmann::json::parse(*output);
    if (result.contains("error"))
        throw std::runtime_error(result.at("error").get<std::string>());
    std::vector<ExportDocument> documents;
    for (const auto& d : result.at("documents"))
        documents.push_back({d.at(0).get<std::string>(), d.at(1).get<std::string>()});
    return documents;
}

int write_output(ExportFormat format, const std::vector<ExportDocument>& documents,
                 const std::string& output) {
    const std::string path = std::filesystem::absolute(output).lexically_normal().string();
    WriteResult written = format == ExportFormat::LibvirtNetwork
                              ? sync_directory(path, documents, kLibvirtMarker)
                              : write_file_atomically(path, joined(documents));
    if (!written.error.empty()) {
        std::cerr << "hostdevctl: " << written.error << '\n';
        return kExitFailed;
    }
    return kExitOk;
}

int run_export(const Invocation& in) {
    if (in.positional.empty())
        return usage_error("export needs a FORMAT: " + format_list(), in.command);
    auto format = parse_export_format(in.positional[0]);
    if (!format) {
        std::vector<std::string_view> names;
        for (ExportFormat f : all_export_formats())
            names.push_back(to_string(f));
        std::string message = "unknown export format '" + in.positional[0] + "'";
        if (auto suggestion = closest_match(in.positional[0], names); !suggestion.empty())
            message += "; did you mean '" + suggestion + "'?";
        return usage_error(message + " (" + format_list() + ")", in.command);
    }
    const bool all = in.has("all");
    std::vector<ExportDocument> documents;
    try {
        if (auto daemon = in.has("local") ? nullptr : DaemonClient::connect_if_running()) {
            for (auto& [name, content] : daemon->export_documents(to_string(*format), all))
                documents.push_back({std::move(name), std::move(content)});
        } else {
            documents = export_locally(*format, all, in.value("config-dir", kDefaultConfigDir));
        }
    } catch (const std::exception& e) {
        if (*e.what())
            std::cerr << "hostdevctl: export " << to_string(*format) << ": " << e.what() << '\n';
        return kExitFailed;
    }
    if (in.has("output"))
        return write_output(*format, documents, in.value("output"));
    std::cout << joined(documents);
    return kExitOk;
}

} // namespace

Command export_command() {
    Command c;
    c.name = "export";
    c.arguments = "FORMAT";
    c.max_positional = 1;
    c.summary = "the pools in a consumer's format: nova, libvirt-network, sriov-dp, prometheus";
    c.description =
        "Print what a consumer needs to know about this host's pools, in its own format:\n"
        "  nova             [pci] device_spec (one line per pool, each device by address, managed =\n"
        "                   \"no\" where hostdevd binds VFIO itself, \"yes\" for managed = true) and alias "
        "lines,\n"
        "                   for /etc/nova/nova.conf.d/\n"
        "  libvirt-network  one hostdev <network> per pool of VFs (virsh net-define)\n"
        "  sriov-dp         the SR-IOV network device plugin's config.json resourceList\n"
        "  prometheus       metrics for node_exporter's textfile collector\n"
        "Only converged devices are exported unless --all (prometheus always covers every object).\n"
        "Through the running hostdevd (its state is what consumers see); without it, or with --local,\n"
        "made here from --config-dir and the host. The output is deterministic (pools by name, devices by\n"
        "address). --output writes a file atomically, untouched when the content is the same; for\n"
        "libvirt-network it names a directory that gets one NAME.xml per network. Made here, a device whose\n"
        "attributes a write stuck in the kernel keeps locked is busy, so not exported, instead of hanging\n"
        "the command.";
    c.options = {
        {"all", ValueKind::None, "", "also devices that are not converged yet"},
        {"output", ValueKind::File, "FILE",
         "write to FILE (libvirt-network: a directory) atomically instead of standard output"},
        config_dir_option(),
        local_option(),
    };
    c.exit_status = "  0  exported\n"
                    "  1  error (invalid configuration, the export cannot be made, FILE cannot be written)\n"
                    "  2  usage error (no or unknown FORMAT)\n";
    c.run = run_export;
    return c;
}

} // namespace hostdevd::cli

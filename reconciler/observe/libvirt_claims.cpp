// Reading consumers' claims from libvirt (libvirt_claims.hpp). libvirt.so.0 is dlopen()ed, not linked:
// hostdevd must run unchanged on a host without libvirt (the package only suggests it), and a host that
// has it must not pay for it at start-up.
#include "observe/libvirt_claims.hpp"

#include "observe/observe.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <dirent.h>
#include <dlfcn.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <memory>
#include <mutex>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>

namespace hostdevd {

namespace {

// The few entry points used, resolved from the library (declared by libvirt-dev's headers).
struct LibvirtApi {
    decltype(&virConnectOpenReadOnly) open = nullptr;
    decltype(&virConnectClose) close = nullptr;
    decltype(&virConnectListAllDomains) list_all = nullptr;
    decltype(&virDomainGetName) name = nullptr;
    decltype(&virDomainGetState) state = nullptr;
    decltype(&virDomainGetXMLDesc) xml = nullptr;
    decltype(&virDomainIsActive) is_active = nullptr;
    decltype(&virDomainIsPersistent) is_persistent = nullptr;
    decltype(&virDomainFree) free_domain = nullptr;
    decltype(&virGetLastErrorMessage) last_error = nullptr;
    decltype(&virSetErrorFunc) set_error_func = nullptr;
};

void ignore_libvirt_error(void*, virErrorPtr) {} // errors are reported through the claims, not stderr

template <typename T>
bool resolve(void* handle, const char* name, T& out) {
    out = reinterpret_cast<T>(dlsym(handle, name));
    return out != nullptr;
}

// Loaded once per process; the handle is never closed (helper threads may still be inside it).
const LibvirtApi* load_api(const std::string& library, std::string& error) {
    static std::mutex mutex;
    static std::map<std::string, std::pair<std::unique_ptr<LibvirtApi>, std::string>> loaded;
    std::lock_guard lock(mutex);
    auto [it, fresh] = loaded.try_emplace(library);
    if (fresh) {
        void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* why = dlerror();
            it->second.second = "cannot load " + library + ": " + (why ? why : "?");
        } else {
            auto api = std::make_unique<LibvirtApi>();
            bool ok = resolve(handle, "virConnectOpenReadOnly", api->open) &&
                      resolve(handle, "virConnectClose", api->close) &&
                      resolve(handle, "virConnectListAllDomains", api->list_all) &&
                      resolve(handle, "virDomainGetName", api->name) &&
                      resolve(handle, "virDomainGetState", api->state) &&
                      resolve(handle, "virDomainGetXMLDesc", api->xml) &&
                      resolve(handle, "virDomainIsActive", api->is_active) &&
                      resolve(handle, "virDomainIsPersistent", api->is_persistent) &&
                      resolve(handle, "virDomainFree", api->free_domain) &&
                      resolve(handle, "virGetLastErrorMessage", api->last_error) &&
                      resolve(handle, "virSetErrorFunc", api->set_error_func);
            if (ok) {
                api->set_error_func(nullptr, ignore_libvirt_error);
                it->second.first = std::move(api);
            } else {
                it->second.second = library + " lacks a libvirt entry point hostdevd uses";
            }
        }
    }
    error = it->second.second;
    return it->second.first.get();
}

std::string state_word(int state) {
    switch (state) {
    case VIR_DOMAIN_RUNNING:
        return "running";
    case VIR_DOMAIN_BLOCKED:
        return "idle";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "in shutdown";
    case VIR_DOMAIN_SHUTOFF:
        return "shut off";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
    default:
        return "no state";
    }
}

std::string xml_of(const LibvirtApi& api, virDomainPtr domain, unsigned flags) {
    char* text = api.xml(domain, flags);
    if (!text)
        throw std::runtime_error(std::string("reading a domain's XML failed: ") + api.last_error());
    std::string xml(text);
    free(text);
    return xml;
}

// One read on its own connection. Throws with libvirt's message on any failure.
LibvirtClaims read_claims(const LibvirtApi& api, const std::string& uri) {
    virConnectPtr conn = api.open(uri.c_str());
    if (!conn)
        throw std::runtime_error(api.last_error());
    std::unique_ptr<virConnect, decltype(api.close)> closer(conn, api.close);
    virDomainPtr* domains = nullptr;
    int count = api.list_all(conn, &domains, 0);
    if (count < 0)
        throw std::runtime_error(std::string("listing domains failed: ") + api.last_error());
    std::vector<std::unique_ptr<virDomain, decltype(api.free_domain)>> owned;
    for (int i = 0; i < count; ++i)
        owned.emplace_back(domains[i], api.free_domain);
    free(domains);
    LibvirtClaims claims;
    for (const auto& domain : owned) {
        const char* name = api.name(domain.get());
        int state = 0, reason = 0;
        if (!name || api.state(domain.get(), &state, &reason, 0) < 0)
            throw std::runtime_error(std::string("reading a domain failed: ") + api.last_error());
        // A running domain's live XML, and its persistent definition too: a device added to the
        // definition only (virsh attach-device --config) is claimed for the domain's next start.
        std::vector<std::string> xmls = {xml_of(api, domain.get(), 0)};
        if (api.is_active(domain.get()) == 1 && api.is_persistent(domain.get()) == 1)
            xmls.push_back(xml_of(api, domain.get(), VIR_DOMAIN_XML_INACTIVE));
        const std::string holder = describe_domain_claim(name, state_word(state));
        for (const std::string& xml : xmls) {
            for (const std::string& object : claimed_by_domain_xml(xml)) {
                std::vector<std::string>& holders = claims.objects[object];
                if (std::find(holders.begin(), holders.end(), holder) == holders.end())
                    holders.push_back(holder);
            }
        }
    }
    return claims;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string seconds_text(std::chrono::milliseconds timeout) {
    auto ms = timeout.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// Reads libvirt has not returned from (left behind by a timeout). While one hangs, the next read does
// not start another thread that would hang the same way: it answers "unknown" at once.
std::atomic<int> abandoned_reads{0};

struct PendingRead {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    bool abandoned = false;
    LibvirtClaims claims;
    std::string error;
};

LibvirtClaims unknown(const LibvirtSource& source, const std::string& why) {
    LibvirtClaims claims;
    claims.unknown = "libvirt at " + source.uri + " " + why + " (unknown counts as in use)";
    return claims;
}

} // namespace

std::vector<std::string> LibvirtClaims::holders_of(const std::string& object) const {
    std::vector<std::string> holders;
    if (auto it = objects.find(object); it != objects.end())
        holders = it->second;
    if (!unknown.empty())
        holders.push_back(unknown);
    return holders;
}

std::string describe_domain_claim(const std::string& name, const std::string& state) {
    return "libvirt domain '" + name + "' (" + state + ")";
}

bool libvirt_configured(const LibvirtSource& source) {
    // The read-only sockets of the monolithic daemon and of the modular QEMU daemon (also present
    // while systemd socket-activates them), and the sockets their read-write twins use.
    for (const char* socket : {"libvirt-sock-ro", "virtqemud-sock-ro", "libvirt-sock", "virtqemud-sock"}) {
        if (exists(source.run_dir + "/" + socket))
            return true;
    }
    // Defined domains with no daemon to answer for them: their claims are unknown, not absent.
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(source.domain_dir.c_str()), ::closedir);
    if (!dir)
        return false;
    while (const dirent* entry = ::readdir(dir.get())) {
        std::string_view name = entry->d_name;
        if (name.size() > 4 && name.substr(name.size() - 4) == ".xml")
            return true;
    }
    return false;
}

LibvirtClaims read_libvirt_claims(const LibvirtSource& source) {
    if (!libvirt_configured(source))
        return {};
    std::string error;
    const LibvirtApi* api = load_api(source.library, error);
    if (!api)
        return unknown(source, "cannot be asked: " + error);
    if (abandoned_reads.load() > 0)
        return unknown(source, "has not answered an earlier read yet");
    auto pending = std::make_shared<PendingRead>();
    std::thread([api, uri = source.uri, pending] {
        LibvirtClaims claims;
        std::string error;
        try {
            claims = read_claims(*api, uri);
        } catch (const std::exception& e) {
            error = e.what();
        }
        std::lock_guard lock(pending->mutex);
        pending->done = true;
        pending->claims = std::move(claims);
        pending->error = std::move(error);
        if (pending->abandoned)
            abandoned_reads.fetch_sub(1);
        pending->done_cv.notify_all();
    }).detach();
    std::unique_lock lock(pending->mutex);
    if (!pending->done_cv.wait_for(lock, source.timeout, [&] { return pending->done; })) {
        pending->abandoned = true;
        abandoned_reads.fetch_add(1);
        return unknown(source, "did not answer within " + seconds_text(source.timeout));
    }
    if (!pending->error.empty())
        return unknown(source, "cannot be read: " + pending->error);
    return pending->claims;
}

LibvirtClaims claims_for(const SysfsLayout& layout, const LibvirtSource& source) {
    return layout.root() == "/" ? read_libvirt_claims(source) : LibvirtClaims{};
}

std::vector<std::string> FreshClaims::holders_of(const std::string& object) {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (!read_at_ || now - *read_at_ > reuse_) {
        claims_ = claims_for(layout_, source_);
        read_at_ = std::chrono::steady_clock::now();
    }
    return claims_.holders_of(object);
}

void add_claims(ObservedState& state, const LibvirtClaims& claims, ObservedChanges* changes) {
    auto add = [&claims](const std::string& object, std::vector<std::string>& holders) {
        bool added = false;
        for (std::string& holder : claims.holders_of(object)) {
            if (std::find(holders.begin(), holders.end(), holder) == holders.end()) {
                holders.push_back(std::move(holder));
                added = true;
            }
        }
        return added;
    };
    for (auto& [address, device] : state.devices) {
        if (add(address, device.holders) && changes)
            changes->devices.insert(address);
    }
    for (auto& [uuid, mdev] : state.mdevs) {
        if (add(uuid, mdev.holders) && changes)
            changes->mdevs.insert(uuid);
    }
}

} // namespace hostdevd

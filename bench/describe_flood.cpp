// A D-Bus client that keeps hostdevd busy the way any local user may: `--clients` connections to the
// system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured), each keeping `--in-flight` calls of one method
// (Describe() by default, allowed to everyone by the bus policy) in flight, every reply answered at once
// with the next call. Runs until SIGTERM or SIGINT, then prints one JSON object:
//   {"replies": R, "errors": E, "first_error": "..."}
// With `--status FILE` it also keeps "REPLIES ERRORS\n" up to date in FILE after every reply, so that a
// test or a benchmark can read how far the flood got at a given moment without stopping it.
//
// Used by the flood test (tests/integration/test_daemon_flood.cpp) and benchmark B9 (bench/scenario.py).
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/signalfd.h>
#include <systemd/sd-bus.h>
#include <unistd.h>
#include <vector>

namespace {

struct Flood {
    std::string method = "Describe";
    uint64_t replies = 0;
    uint64_t errors = 0;
    std::string first_error;
    int status_fd = -1;
};

struct Client {
    Flood* flood = nullptr;
    sd_bus* bus = nullptr;
};

void write_status(const Flood& flood) {
    if (flood.status_fd < 0)
        return;
    char line[64];
    int n = std::snprintf(line, sizeof line, "%" PRIu64 " %" PRIu64 "\n", flood.replies, flood.errors);
    // Fixed width, so a shorter line never leaves the end of a longer one behind.
    std::string padded(line, static_cast<size_t>(n));
    padded.insert(padded.size() - 1, std::string(40 - padded.size(), ' '));
    if (pwrite(flood.status_fd, padded.data(), padded.size(), 0) < 0)
        std::perror("describe_flood: status file");
}

int issue(Client& client);

int on_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
    auto& client = *static_cast<Client*>(userdata);
    Flood& flood = *client.flood;
    if (sd_bus_message_is_method_error(reply, nullptr)) {
        if (flood.errors++ == 0) {
            const sd_bus_error* error = sd_bus_message_get_error(reply);
            flood.first_error =
                std::string(error->name ? error->name : "?") + ": " + (error->message ? error->message : "");
        }
    } else {
        ++flood.replies;
    }
    write_status(flood);
    return issue(client);
}

int issue(Client& client) {
    // The slot is floating (owned by the bus): the call lives until its reply or the connection goes.
    return sd_bus_call_method_async(client.bus, nullptr, "io.hostdevd1", "/io/hostdevd1",
                                    "io.hostdevd1.Manager", client.flood->method.c_str(), on_reply, &client,
                                    "");
}

int usage() {
    std::fprintf(stderr, "usage: bench_describe_flood [--clients C] [--in-flight N] [--method NAME] "
                         "[--status FILE]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    Flood flood;
    long clients = 1, in_flight = 128;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (i + 1 >= argc)
            return usage();
        const char* value = argv[++i];
        if (arg == "--clients")
            clients = std::strtol(value, nullptr, 10);
        else if (arg == "--in-flight")
            in_flight = std::strtol(value, nullptr, 10);
        else if (arg == "--method")
            flood.method = value;
        else if (arg == "--status")
            flood.status_fd = open(value, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        else
            return usage();
    }
    if (clients < 1 || clients > 64 || in_flight < 1 || in_flight > 4096)
        return usage();

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);

    std::vector<Client> all(static_cast<size_t>(clients));
    for (auto& client : all) {
        client.flood = &flood;
        int r = sd_bus_open_system(&client.bus);
        if (r < 0) {
            std::fprintf(stderr, "describe_flood: cannot connect to the system bus: %s\n", std::strerror(-r));
            return 1;
        }
        // No call times out here: `--in-flight` stay in flight however slowly they are answered. With
        // sd-bus's 25 s default, a late call would be followed by a new one while dbus-daemon still counts
        // the old one, and past its 128 pending replies every new call is refused at once: the client
        // and dbus-daemon would spin on refusals instead of keeping hostdevd busy.
        sd_bus_set_method_call_timeout(client.bus, uint64_t(3600) * 1'000'000);
        for (long k = 0; k < in_flight; ++k)
            if ((r = issue(client)) < 0) {
                std::fprintf(stderr, "describe_flood: cannot call %s: %s\n", flood.method.c_str(),
                             std::strerror(-r));
                return 1;
            }
    }
    write_status(flood);

    std::vector<pollfd> fds;
    for (bool running = true; running;) {
        fds.assign(1, pollfd{signal_fd, POLLIN, 0});
        for (auto& client : all) {
            int r;
            while ((r = sd_bus_process(client.bus, nullptr)) > 0) {
            }
            if (r < 0) { // the bus (or hostdevd's test bus) went away: nothing left to flood
                std::fprintf(stderr, "describe_flood: connection lost: %s\n", std::strerror(-r));
                return 1;
            }
            fds.push_back({sd_bus_get_fd(client.bus), static_cast<short>(sd_bus_get_events(client.bus)), 0});
        }
        if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            std::perror("describe_flood: poll");
            return 1;
        }
        running = !(fds[0].revents & POLLIN);
    }
    for (auto& client : all)
        sd_bus_flush_close_unref(client.bus);
    std::string error;
    for (char c : flood.first_error)
        if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            error += ' ';
        else
            error += c;
    std::printf("{\"replies\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"first_error\": \"%s\"}\n",
                flood.replies, flood.errors, error.c_str());
    return 0;
}

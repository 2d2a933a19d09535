// The control socket (AF_UNIX stream, one request per connection) served on its own thread. The same
// thread owns the holder processes, so it also notices when one dies (pidfd) and drops its hold.
#pragma once

#include "control_commands.hpp"
#include "holders.hpp"

#include <functional>
#include <string>
#include <thread>

namespace simhost {

class ControlServer {
public:
    // `settle` returns once the effects of every change so far reached the outside (cache invalidations,
    // uevents, /dev): commands run after the previous ones settled and answer only once theirs have.
    ControlServer(Kernel& kernel, DevNodes& devnodes, const std::string& simhost_executable,
                  std::function<void()> settle);
    ~ControlServer(); // stops the thread, kills holders
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    void start(const std::string& socket_path); // throws on failure
    void stop();

private:
    void serve();
    void answer(int client);

    Holders holders_;
    ControlCommands commands_;
    std::function<void()> settle_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;
    std::thread thread_;
};

} // namespace simhost

// When a changed configuration directory is ready to be loaded (docs/daemon.md, "Configuration").
//
// inotify says *that* the directory changed, not that the change is complete. An editor's save can take
// the file away and put a new one in its place (rename to a backup, write, or delete and re-create), and
// a slow write in place is readable half way. Loading at such a moment would apply a reduced
// configuration: hostdevd would stop managing what the missing part declared. So a change is loaded only
// once the directory has been quiet for kQuiet, looks the same on two looks kQuiet apart (every *.toml
// file's inode, size and modification time), and has none of the files in force missing - a missing one
// is waited for up to kRemovalGrace after it was first seen missing, and only then is its removal real.
// Explicit reloads (SIGHUP, Reload(), `systemctl reload`) are not delayed: the operator asked now.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd {

struct ConfigFileStamp {
    uint64_t inode = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const ConfigFileStamp&) const = default;
};

// Path (`dir + "/" + name`, as the loader names files) → stamp, for every *.toml file the loader would read.
using ConfigDirStamp = std::map<std::string, ConfigFileStamp>;

// Looks at `dir` now (stat of every *.toml file, dot files skipped, as the loader lists them).
ConfigDirStamp stamp_config_dir(const std::string& dir);

class ConfigSettle {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kQuiet{100};
    static constexpr std::chrono::milliseconds kRemovalGrace{2000};

    enum class Verdict { Load, LookAgain };

    // One look, kQuiet after the directory's last change or the previous look: Load, or LookAgain in
    // kQuiet. `in_force` are the files of the configuration in force (DesiredState::files).
    Verdict look(const ConfigDirStamp& stamp, const std::vector<std::string>& in_force,
                 Clock::time_point now);

private:
    std::optional<ConfigDirStamp> previous_;
    std::optional<Clock::time_point> missing_since_;
};

} // namespace hostdevd

// Writing exports so that a consumer never reads half a file: the new content goes to a temporary file in
// the same directory, is flushed to disk, and replaces the old file with rename(2), which is atomic within
// a file system. A file that already holds exactly the content is not touched (its mtime stays), so a
// consumer watching it (a systemd path unit, inotify) sees a change only when there is one.
#pragma once

#include "export/formats.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hostdevd {

struct WriteResult {
    bool changed = false; // the file was (re)written or removed
    std::string error;    // empty on success; otherwise "PATH: what failed: strerror"
};

// Writes `content` to `path` unless it already holds it. A new file gets mode 0644 (consumers read it as
// other users: nova, prometheus; the daemon's umask is 077), a replaced one keeps its mode and owner. The
// temporary file is ".NAME.XXXXXX" next to it: hidden, and without the name's suffix, so that a reader of
// *.conf, *.prom or *.xml never picks it up. `path` must not be a symbolic link or a directory.
WriteResult write_file_atomically(const std::string& path, std::string_view content);

// A directory of documents (libvirt-network: `<name>.xml` each): writes each one as above and removes the
// `*.xml` files that are no longer exported, but only those whose first line starts with `marker` (files
// hostdevd wrote). Creates the directory (not its parents) when it is missing.
WriteResult sync_directory(const std::string& dir, const std::vector<ExportDocument>& documents,
                           std::string_view marker);

} // namespace hostdevd

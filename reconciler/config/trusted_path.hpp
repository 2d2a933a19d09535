// Whether only root can change what a path names. The loader refuses configuration that someone else could
// swap (docs/configuration.md, "Where files live"): the file itself must be root's (checked on the open
// file), and so must every directory on the way to it. A symbolic link is followed the way the kernel
// follows it, and the directories its target goes through are on the way too: a root-owned file behind a
// link into a user's directory is that user's to replace.
#pragma once

#include <string>

namespace hostdevd::config_detail {

// "" when every directory `path` goes through (symbolic links followed, "/" included, the last component
// too when it is a directory) is owned by root and not writable by group or other, or sticky (as /tmp:
// others cannot rename or remove root's entries there). Otherwise why not, naming the directory. Names
// that do not exist are left to the caller's open(2) to report.
std::string untrusted_directory_on_the_way(const std::string& path);

} // namespace hostdevd::config_detail

#include "export/file_writer.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace hostdevd {

namespace {

// Exports are a few hundred kilobytes at most; anything far larger is not ours to compare.
constexpr off_t kMaxCompare = 64 << 20;

std::string failure(const std::string& path, const char* what, int err) {
    return path + ": " + what + ": " + std::strerror(err);
}

// The file's content when it is a regular file of a sane size; nullopt when it does not exist.
// `error` is set when it exists but is something else or cannot be read.
std::optional<std::string> current_content(const std::string& path, struct stat& st, std::string& error) {
    if (lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            error = failure(path, "cannot stat", errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        error = path + ": is not a regular file (a symbolic link or a directory?); hostdevd replaces files "
                       "by rename and will not write through it";
        return std::nullopt;
    }
    if (st.st_size > kMaxCompare)
        return std::string(); // differs from anything we write
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        error = failure(path, "cannot open", errno);
        return std::nullopt;
    }
    std::string text;
    char buffer[65536];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<size_t>(n));
    int err = errno;
    close(fd);
    if (n < 0) {
        error = failure(path, "cannot read", err);
        return std::nullopt;
    }
    return text;
}

bool write_all(int fd, std::string_view content) {
    while (!content.empty()) {
        ssize_t n = write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        content.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

std::string basename_of(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

std::string dirname_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

WriteResult write_file_atomically(const std::string& path, std::string_view content) {
    WriteResult result;
    struct stat st {};
    auto existing = current_content(path, st, result.error);
    if (!result.error.empty())
        return result;
    if (existing && *existing == content)
        return result;

    std::string temp = dirname_of(path) + "/." + basename_of(path) + ".XXXXXX";
    int fd = mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) {
        result.error = failure(path, "cannot create a temporary file next to it", errno);
        return result;
    }
    // mkostemp creates 0600; consumers run as other users. A replaced file keeps what its owner set.
    mode_t mode = existing ? (st.st_mode & 07777) : 0644;
    const char* step = nullptr;
    if (fchmod(fd, mode) != 0)
        step = "cannot set the mode of the temporary file";
    else if (existing && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
             fchown(fd, st.st_uid, st.st_gid) != 0)
        step = "cannot give the temporary file the owner of the file it replaces";
    else if (!write_all(fd, content))
        step = "cannot write the temporary file";
    else if (fsync(fd) != 0)
        step = "cannot flush the temporary file";
    int err = errno;
    if (close(fd) != 0 && !step) {
        step = "cannot close the temporary file";
        err = errno;
    }
    if (!step && rename(temp.c_str(), path.c_str()) != 0) {
        step = "cannot rename the temporary file over it";
        err = errno;
    }
    if (step) {
        unlink(temp.c_str());
        result.error = failure(path, step, err);
        return result;
    }
    result.changed = true;
    return result;
}

WriteResult sync_directory(const std::string& dir, const std::vector<ExportDocument>& documents,
                           std::string_view marker) {
    WriteResult result;
    if (mkdir(dir.c_str(), 0755) == 0) {
        chmod(dir.c_str(), 0755); // the daemon's umask (077) must not hide the networks from their readers
    } else if (errno != EEXIST) {
        result.error = failure(dir, "cannot create the directory", errno);
        return result;
    }
    std::set<std::string> wanted;
    for (const auto& d : documents) {
        const std::string name = d.name + ".xml";
        wanted.insert(name);
        WriteResult one = write_file_atomically(dir + "/" + name, d.content);
        result.changed = result.changed || one.changed;
        if (!one.error.empty() && result.error.empty())
            result.error = one.error;
    }
    DIR* handle = opendir(dir.c_str());
    if (!handle) {
        if (result.error.empty())
            result.error = failure(dir, "cannot list the directory", errno);
        return result;
    }
    std::vector<std::string> stale;
    while (auto* entry = readdir(handle)) {
        std::string name = entry->d_name;
        if (name.size() > 4 && name.front() != '.' && name.ends_with(".xml") && !wanted.count(name))
            stale.push_back(name);
    }
    closedir(handle);
    for (const auto& name : stale) {
        struct stat st {};
        std::string ignored;
        auto content = current_content(dir + "/" + name, st, ignored);
        if (!content || content->compare(0, marker.size(), marker) != 0)
            continue; // not a file hostdevd wrote: the administrator's
        if (unlink((dir + "/" + name).c_str()) == 0)
            result.changed = true;
        else if (result.error.empty())
            result.error = failure(dir + "/" + name, "cannot remove", errno);
    }
    return result;
}

} // namespace hostdevd

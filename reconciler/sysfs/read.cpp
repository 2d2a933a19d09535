#include "sysfs/read.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

namespace hostdevd {

namespace {

IoObserver& observer() {
    static IoObserver instance;
    return instance;
}

void notify(IoKind kind, const std::string& path) {
    if (observer())
        observer()(kind, path);
}

std::optional<uint64_t> parse_digits(std::string_view text, int base) {
    if (text.empty())
        return std::nullopt;
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc() || ptr != text.data() + text.size())
        return std::nullopt;
    return value;
}

TextResult read_fd_to_end(int fd, std::size_t max_bytes) {
    TextResult result;
    char buffer[4096];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return {errno, {}};
        }
        result.text.append(buffer, static_cast<std::size_t>(n));
        if (result.text.size() > max_bytes)
            return {EFBIG, {}};
        // A short read is the end for sysfs attributes and regular files; avoid a second read(2).
        if (static_cast<std::size_t>(n) < sizeof buffer)
            break;
    }
    return result;
}

TextResult read_path(const std::string& path, std::size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {errno, {}};
    TextResult result = read_fd_to_end(fd, max_bytes);
    ::close(fd);
    return result;
}

} // namespace

bool ListResult::contains(std::string_view name) const {
    return std::binary_search(names.begin(), names.end(), name);
}

TextResult read_attribute(const std::string& path) {
    notify(IoKind::Read, path);
    TextResult result = read_path(path, 1 << 20);
    if (result.ok() && !result.text.empty() && result.text.back() == '\n')
        result.text.pop_back();
    return result;
}

TextResult read_file(const std::string& path, std::size_t max_bytes) {
    notify(IoKind::Read, path);
    return read_path(path, max_bytes);
}

TextResult read_link(const std::string& path) {
    notify(IoKind::ReadLink, path);
    char buffer[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
    if (n < 0)
        return {errno, {}};
    if (static_cast<std::size_t>(n) == sizeof buffer)
        return {ENAMETOOLONG, {}};
    return {0, std::string(buffer, static_cast<std::size_t>(n))};
}

TextResult read_link_name(const std::string& path) {
    TextResult result = read_link(path);
    if (result.ok())
        result.text = std::string(last_component(result.text));
    return result;
}

namespace {

// Reads every name of an open directory stream and closes it.
ListResult list_stream(DIR* dir) {
    ListResult result;
    errno = 0;
    while (struct dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..")
            result.names.emplace_back(name);
        errno = 0;
    }
    int error = errno;
    ::closedir(dir);
    if (error != 0)
        return {error, {}};
    std::sort(result.names.begin(), result.names.end());
    return result;
}

} // namespace

ListResult list_directory(const std::string& path) {
    notify(IoKind::List, path);
    DIR* dir = ::opendir(path.c_str());
    if (!dir)
        return {errno, {}};
    return list_stream(dir);
}

SysfsDir::SysfsDir(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0)
        error_ = errno;
}

SysfsDir::~SysfsDir() {
    if (fd_ >= 0)
        ::close(fd_);
}

TextResult SysfsDir::read_attribute(const std::string& name) const {
    notify(IoKind::Read, path_ + "/" + name);
    if (fd_ < 0)
        return {error_, {}};
    int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {errno, {}};
    TextResult result = read_fd_to_end(fd, 1 << 20);
    ::close(fd);
    if (result.ok() && !result.text.empty() && result.text.back() == '\n')
        result.text.pop_back();
    return result;
}

TextResult SysfsDir::read_link_name(const std::string& name) const {
    notify(IoKind::ReadLink, path_ + "/" + name);
    if (fd_ < 0)
        return {error_, {}};
    char buffer[PATH_MAX];
    ssize_t n = ::readlinkat(fd_, name.c_str(), buffer, sizeof buffer);
    if (n < 0)
        return {errno, {}};
    if (static_cast<std::size_t>(n) == sizeof buffer)
        return {ENAMETOOLONG, {}};
    return {0, std::string(last_component(std::string_view(buffer, static_cast<std::size_t>(n))))};
}

ListResult SysfsDir::list() const {
    notify(IoKind::List, path_);
    if (fd_ < 0)
        return {error_, {}};
    int fd = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return {errno, {}};
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
        int error = errno;
        ::close(fd);
        return {error, {}};
    }
    return list_stream(dir);
}

std::string_view last_component(std::string_view path) {
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
    return parse_digits(text, 10);
}

std::optional<uint64_t> parse_hex(std::string_view text) {
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        text.remove_prefix(2);
    return parse_digits(text, 16);
}

IoObserver set_io_observer(IoObserver replacement) {
    IoObserver previous = std::move(observer());
    observer() = std::move(replacement);
    return previous;
}

} // namespace hostdevd

#include "apply/writer.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace hostdevd {

namespace {

bool escapes_root(const std::string& path) {
    if (path.empty() || path.front() == '/')
        return true;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        if (path.compare(start, end - start, "..") == 0)
            return true;
        start = end + 1;
    }
    return false;
}

} // namespace

Writer::~Writer() = default;

WriteOutcome SysfsWriter::write(const SysfsWrite& request) {
    auto start = std::chrono::steady_clock::now();
    auto finish = [start](int error) {
        return WriteOutcome{error, std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - start)};
    };
    if (escapes_root(request.path))
        return finish(EINVAL);
    const std::string path = layout_.sys(request.path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return finish(errno);
    int error = 0;
    ssize_t n = ::write(fd, request.value.data(), request.value.size());
    if (n < 0)
        error = errno;
    else if (static_cast<size_t>(n) != request.value.size())
        error = EIO; // a store() that took part of the value: never expected from sysfs
    if (::close(fd) != 0 && error == 0)
        error = errno;
    return finish(error);
}

bool is_transient(int error) {
    switch (error) {
    case EBUSY:
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
        return true;
    default:
        return false;
    }
}

std::string describe_errno(int error) {
    const char* name = strerrorname_np(error);
    const char* text = strerrordesc_np(error);
    if (!name || !text)
        return "errno " + std::to_string(error);
    return std::string(name) + " (" + text + ")";
}

} // namespace hostdevd

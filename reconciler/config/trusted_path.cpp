#include "config/trusted_path.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <sys/stat.h>
#include <unistd.h>

namespace hostdevd::config_detail {

namespace {

// The kernel's own limit on symbolic links followed in one lookup (include/linux/namei.h MAXSYMLINKS).
constexpr int kMaxLinks = 40;

void push_components(std::deque<std::string>& queue, const std::string& path) {
    std::deque<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos)
            slash = path.size();
        if (slash > start)
            parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    queue.insert(queue.begin(), parts.begin(), parts.end());
}

std::string join(const std::string& directory, const std::string& name) {
    return directory == "/" ? "/" + name : directory + "/" + name;
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string directory_problem(const std::string& directory, const struct stat& st) {
    if (st.st_uid != 0)
        return "the directory " + directory + " on the way to it is owned by uid " +
               std::to_string(st.st_uid) + ", not root, who could replace it; refusing it";
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return "the directory " + directory +
               " on the way to it is writable by group/other, who could replace it; refusing it";
    return {};
}

} // namespace

std::string untrusted_directory_on_the_way(const std::string& path) {
    std::deque<std::string> rest;
    push_components(rest, path);
    if (path.empty() || path.front() != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return std::string("cannot tell where a relative path leads: getcwd: ") + std::strerror(errno);
        push_components(rest, cwd);
    }
    std::string resolved = "/"; // no symbolic link in it: every prefix is a directory checked below
    struct stat st {};
    if (lstat("/", &st) != 0)
        return std::string("cannot stat /: ") + std::strerror(errno);
    if (auto problem = directory_problem("/", st); !problem.empty())
        return problem;
    int links = 0;
    while (!rest.empty()) {
        const std::string name = rest.front();
        rest.pop_front();
        if (name == ".")
            continue;
        if (name == "..") {
            resolved = parent_of(resolved); // checked already, as a prefix of where we are
            continue;
        }
        const std::string next = join(resolved, name);
        if (lstat(next.c_str(), &st) != 0)
            return {}; // does not exist (or cannot be looked at): the open reports it
        if (S_ISLNK(st.st_mode)) {
            if (++links > kMaxLinks)
                return "too many levels of symbolic links on the way to it";
            char target[PATH_MAX];
            ssize_t n = readlink(next.c_str(), target, sizeof target - 1);
            if (n < 0)
                return {};
            target[n] = '\0';
            push_components(rest, target); // resolved from the link's directory, or from / when absolute
            if (target[0] == '/')
                resolved = "/";
            continue;
        }
        if (S_ISDIR(st.st_mode))
            if (auto problem = directory_problem(next, st); !problem.empty())
                return problem;
        resolved = next;
    }
    return {};
}

} // namespace hostdevd::config_detail

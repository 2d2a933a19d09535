#define FUSE_USE_VERSION 312
#include "fuse_sysfs.hpp"

#include "access_stats.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fuse.h>
#include <stdexcept>
#include <sys/stat.h>
#include <time.h>

namespace simhost {
namespace {

Kernel& kernel_of_context() {
    return *static_cast<Kernel*>(fuse_get_context()->private_data);
}

timespec g_start_time{};

// Per open file: the value read at offset 0, so a reader that continues at a later offset sees one
// consistent value (kernfs/seq_file regenerate the text only when reading from the start).
struct OpenFile {
    std::string snapshot;
    bool has_snapshot = false;
};

void* on_init(fuse_conn_info* /*conn*/, fuse_config* cfg) {
    // Nothing may be cached: sysfs values change behind the reader's back, and writes must reach the model.
    // (Caching names alone does not pay: with default_permissions every directory of a path walk is
    // permission-checked with fresh attributes, one GETATTR each; see docs/benchmarks.md.)
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->direct_io = 1;
    cfg->kernel_cache = 0;
    cfg->use_ino = 0;
    return fuse_get_context()->private_data;
}

int on_getattr(const char* path, struct stat* st, fuse_file_info* /*fi*/) {
    count_access(AccessKind::Getattr, path);
    NodeInfo info;
    if (const int rc = kernel_of_context().stat(path, info); rc < 0)
        return rc;
    std::memset(st, 0, sizeof(*st));
    switch (info.kind) {
    case NodeKind::Directory:
        st->st_mode = S_IFDIR | info.mode;
        st->st_nlink = 2;
        st->st_size = 0;
        break;
    case NodeKind::File:
        st->st_mode = S_IFREG | info.mode;
        st->st_nlink = 1;
        st->st_size = static_cast<off_t>(info.size);
        break;
    case NodeKind::Symlink: {
        st->st_mode = S_IFLNK | 0777;
        st->st_nlink = 1;
        std::string target;
        if (kernel_of_context().readlink(path, target) == 0)
            st->st_size = static_cast<off_t>(target.size());
        break;
    }
    }
    st->st_atim = st->st_mtim = st->st_ctim = g_start_time;
    st->st_blksize = 4096;
    return 0;
}

int on_readlink(const char* path, char* buffer, size_t size) {
    count_access(AccessKind::Readlink, path);
    std::string target;
    if (const int rc = kernel_of_context().readlink(path, target); rc < 0)
        return rc;
    if (size == 0)
        return -EINVAL;
    const size_t n = std::min(target.size(), size - 1);
    std::memcpy(buffer, target.data(), n);
    buffer[n] = '\0';
    return 0;
}

int on_readdir(const char* path, void* buffer, fuse_fill_dir_t filler, off_t /*offset*/,
               fuse_file_info* /*fi*/, fuse_readdir_flags /*flags*/) {
    count_access(AccessKind::Readdir, path);
    std::vector<std::string> names;
    if (const int rc = kernel_of_context().list(path, names); rc < 0)
        return rc;
    filler(buffer, ".", nullptr, 0, fuse_fill_dir_flags{});
    filler(buffer, "..", nullptr, 0, fuse_fill_dir_flags{});
    for (const auto& name : names)
        if (filler(buffer, name.c_str(), nullptr, 0, fuse_fill_dir_flags{}) != 0)
            break;
    return 0;
}

int on_open(const char* path, fuse_file_info* fi) {
    NodeInfo info;
    if (const int rc = kernel_of_context().stat(path, info); rc < 0)
        return rc;
    if (info.kind == NodeKind::Directory)
        return -EISDIR;
    // fs/kernfs/file.c kernfs_fop_open(): opening for write a file without write permission bits (or
    // for read one without read bits) is -EACCES even for root, unlike ordinary files.
    const int access = fi->flags & O_ACCMODE;
    if ((access == O_WRONLY || access == O_RDWR) && !(info.mode & 0222))
        return -EACCES;
    if ((access == O_RDONLY || access == O_RDWR) && !(info.mode & 0444))
        return -EACCES;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->fh = reinterpret_cast<uint64_t>(new OpenFile);
    return 0;
}

int on_release(const char* /*path*/, fuse_file_info* fi) {
    delete reinterpret_cast<OpenFile*>(fi->fh);
    return 0;
}

int on_read(const char* path, char* buffer, size_t size, off_t offset, fuse_file_info* fi) {
    auto* file = reinterpret_cast<OpenFile*>(fi->fh);
    if (offset == 0 || !file->has_snapshot) {
        count_access(AccessKind::Read, path);
        std::string content;
        if (const int rc = kernel_of_context().read(path, content); rc < 0)
            return rc;
        file->snapshot = std::move(content);
        file->has_snapshot = true;
    }
    if (offset >= static_cast<off_t>(file->snapshot.size()))
        return 0;
    const size_t n = std::min(size, file->snapshot.size() - static_cast<size_t>(offset));
    std::memcpy(buffer, file->snapshot.data() + offset, n);
    return static_cast<int>(n);
}

int on_write(const char* path, const char* data, size_t size, off_t /*offset*/, fuse_file_info* /*fi*/) {
    // fs/kernfs/file.c kernfs_fop_write_iter(): each write(2) is one store() of the whole buffer, whatever
    // the file offset. The model strips the trailing newline itself (kstrtouint accepts one).
    count_access(AccessKind::Write, path);
    if (const int rc = kernel_of_context().write(path, std::string_view(data, size)); rc < 0)
        return rc;
    return static_cast<int>(size);
}

// `echo 1 > attr` opens with O_TRUNC; sysfs ignores the truncation (kernfs_iop_setattr), so must we.
int on_truncate(const char* path, off_t /*size*/, fuse_file_info* /*fi*/) {
    NodeInfo info;
    if (const int rc = kernel_of_context().stat(path, info); rc < 0)
        return rc;
    return info.kind == NodeKind::File ? 0 : -EISDIR;
}

int on_utimens(const char* path, const timespec* /*tv*/, fuse_file_info* /*fi*/) {
    NodeInfo info;
    return kernel_of_context().stat(path, info);
}

// sysfs has no way to create, remove or rename entries from userspace.
int deny_create(const char*, mode_t, fuse_file_info*) {
    return -EACCES;
}
int deny_mkdir(const char*, mode_t) {
    return -EACCES;
}
int deny_mknod(const char*, mode_t, dev_t) {
    return -EACCES;
}
int deny_unlink(const char*) {
    return -EACCES;
}
int deny_rename(const char*, const char*, unsigned int) {
    return -EACCES;
}
int deny_link(const char*, const char*) {
    return -EACCES;
}
int deny_chmod(const char*, mode_t, fuse_file_info*) {
    return -EPERM;
}
int deny_chown(const char*, uid_t, gid_t, fuse_file_info*) {
    return -EPERM;
}

fuse_operations make_operations() {
    fuse_operations ops{};
    ops.init = on_init;
    ops.getattr = on_getattr;
    ops.readlink = on_readlink;
    ops.readdir = on_readdir;
    ops.open = on_open;
    ops.release = on_release;
    ops.read = on_read;
    ops.write = on_write;
    ops.truncate = on_truncate;
    ops.utimens = on_utimens;
    ops.create = deny_create;
    ops.mkdir = deny_mkdir;
    ops.mknod = deny_mknod;
    ops.unlink = deny_unlink;
    ops.rmdir = deny_unlink;
    ops.rename = deny_rename;
    ops.link = deny_link;
    ops.symlink = deny_link;
    ops.chmod = deny_chmod;
    ops.chown = deny_chown;
    return ops;
}

} // namespace

FuseSysfs::FuseSysfs(Kernel& kernel) : kernel_(kernel) {}

FuseSysfs::~FuseSysfs() {
    unmount();
}

void FuseSysfs::mount(const std::string& mountpoint) {
    ::clock_gettime(CLOCK_REALTIME, &g_start_time);
    static const fuse_operations operations = make_operations();
    const char* argv[] = {"simhost", "-o", "allow_other,default_permissions,fsname=sysfs,subtype=simhost"};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
    fuse_ = fuse_new(&args, &operations, sizeof(operations), &kernel_);
    fuse_opt_free_args(&args);
    if (!fuse_)
        throw std::runtime_error("fuse_new failed");
    if (fuse_mount(fuse_, mountpoint.c_str()) != 0) {
        fuse_destroy(fuse_);
        fuse_ = nullptr;
        throw std::runtime_error("cannot mount FUSE on " + mountpoint);
    }
    mounted_ = true;
    loop_ = std::thread([this] {
        fuse_loop_config* config = fuse_loop_cfg_create();
        // A write blocked by a fault or a held device must not stall other requests: keep spare threads.
        fuse_loop_cfg_set_idle_threads(config, 16);
        fuse_loop_mt(fuse_, config);
        fuse_loop_cfg_destroy(config);
    });
}

void FuseSysfs::unmount() {
    if (!fuse_)
        return;
    if (mounted_) {
        fuse_exit(fuse_);
        fuse_unmount(fuse_); // the loop's read on /dev/fuse then fails with ENODEV and the loop returns
        mounted_ = false;
    }
    if (loop_.joinable())
        loop_.join();
    fuse_destroy(fuse_);
    fuse_ = nullptr;
}

} // namespace simhost

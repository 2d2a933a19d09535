#define FUSE_USE_VERSION 312
#include "fuse_sysfs.hpp"

#include "access_stats.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <time.h>
#include <unordered_map>

namespace simhost {
namespace {

// Cached mode: entries and attributes stay until simhost invalidates them (kernel_cache.cpp); a year is
// "forever" for a simulated host. Negative lookups are never cached (an error reply leaves a dentry that
// is looked up again every time): a name that appears needs no invalidation.
constexpr double kForever = 365.0 * 24 * 3600;

timespec g_start_time{};

FuseSysfs& self(fuse_req_t req) {
    return *static_cast<FuseSysfs*>(fuse_req_userdata(req));
}

double timeout(fuse_req_t req) {
    return self(req).cached() ? kForever : 0.0;
}

// The version is the mtime the kernel compares before it uses a cached listing: a new version means the
// listing changed.
timespec version_time(uint64_t version) {
    timespec t = g_start_time;
    t.tv_sec += static_cast<time_t>(version / 1000000000u);
    t.tv_nsec += static_cast<long>(version % 1000000000u);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_nsec -= 1000000000L;
        ++t.tv_sec;
    }
    return t;
}

mode_t type_bits(NodeKind kind) {
    switch (kind) {
    case NodeKind::Directory:
        return S_IFDIR;
    case NodeKind::Symlink:
        return S_IFLNK;
    case NodeKind::File:
        break;
    }
    return S_IFREG;
}

struct stat to_stat(const NodeAttr& a) {
    struct stat st {};
    st.st_ino = a.ino;
    st.st_mode = type_bits(a.kind) | a.mode;
    st.st_nlink = a.kind == NodeKind::Directory ? 2 : 1;
    st.st_size = static_cast<off_t>(a.size);
    st.st_atim = st.st_mtim = st.st_ctim = version_time(a.version);
    st.st_blksize = 4096;
    return st;
}

void reply_attr(fuse_req_t req, const NodeAttr& a) {
    const struct stat st = to_stat(a);
    fuse_reply_attr(req, &st, timeout(req));
}

// ---- inode operations

void on_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    NodeAttr attr;
    std::string path;
    const int rc = self(req).kernel().lookup(parent, name, attr, &path);
    count_access(AccessKind::Getattr, path.c_str());
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    fuse_entry_param e{};
    e.ino = attr.ino;
    e.generation = 0; // inode numbers are never reused
    e.attr = to_stat(attr);
    e.attr_timeout = timeout(req);
    e.entry_timeout = timeout(req);
    fuse_reply_entry(req, &e);
}

void on_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
    NodeAttr attr;
    std::string path;
    const int rc = self(req).kernel().getattr(ino, attr, &path);
    count_access(AccessKind::Getattr, path.c_str());
    if (rc < 0)
        fuse_reply_err(req, -rc);
    else
        reply_attr(req, attr);
}

// chmod/chown: EPERM (kernfs allows them only on nodes it owns the attributes of: none here). Truncation
// (O_TRUNC without atomic_o_trunc) and times: accepted and ignored, as kernfs_iop_setattr does for size.
void on_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* /*attr*/, int to_set, fuse_file_info* /*fi*/) {
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    NodeAttr attr;
    if (const int rc = self(req).kernel().getattr(ino, attr); rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    if ((to_set & FUSE_SET_ATTR_SIZE) && attr.kind != NodeKind::File) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    reply_attr(req, attr);
}

void on_readlink(fuse_req_t req, fuse_ino_t ino) {
    std::string target, path;
    const int rc = self(req).kernel().readlink(ino, target, &path);
    count_access(AccessKind::Readlink, path.c_str());
    if (rc < 0)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_readlink(req, target.c_str());
}

// sysfs has no way to create, remove or rename entries from userspace.
void deny_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(req, EACCES);
}
void deny_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) {
    fuse_reply_err(req, EACCES);
}
void deny_unlink(fuse_req_t req, fuse_ino_t, const char*) {
    fuse_reply_err(req, EACCES);
}
void deny_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(req, EACCES);
}
void deny_rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned int) {
    fuse_reply_err(req, EACCES);
}
void deny_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    fuse_reply_err(req, EACCES);
}
void deny_create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
    fuse_reply_err(req, EACCES);
}

// ---- files

// One snapshot per open file read with direct I/O: the value read at offset 0, so a reader that continues
// at a later offset sees one consistent value (kernfs/seq_file regenerate the text only at offset 0).
struct OpenFile {
    std::mutex mu;
    std::string snapshot;
    bool has_snapshot = false;
};

// Open files by handle. A RELEASE can arrive while a READ of the same file is still being answered (the
// reader was killed and the kernel stopped waiting for it), so a handler holds its own reference.
class OpenFiles {
public:
    uint64_t add() {
        std::lock_guard lock(mu_);
        files_.emplace(++last_, std::make_shared<OpenFile>());
        return last_;
    }
    std::shared_ptr<OpenFile> find(uint64_t fh) {
        std::lock_guard lock(mu_);
        auto it = files_.find(fh);
        return it == files_.end() ? nullptr : it->second;
    }
    void remove(uint64_t fh) {
        std::lock_guard lock(mu_);
        files_.erase(fh);
    }

private:
    std::mutex mu_;
    uint64_t last_ = 0;
    std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
};

OpenFiles g_open_files;

void on_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    NodeAttr attr;
    if (const int rc = self(req).kernel().getattr(ino, attr); rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    if (attr.kind == NodeKind::Directory) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    // fs/kernfs/file.c kernfs_fop_open(): opening for write a file without write permission bits (or
    // for read one without read bits) is -EACCES even for root, unlike ordinary files.
    const int access = fi->flags & O_ACCMODE;
    if (((access == O_WRONLY || access == O_RDWR) && !(attr.mode & 0222)) ||
        ((access == O_RDONLY || access == O_RDWR) && !(attr.mode & 0444))) {
        fuse_reply_err(req, EACCES);
        return;
    }
    fi->noflush = 1; // nothing to flush: every write(2) was carried out when it returned
    if (self(req).cached() && attr.fixed && access == O_RDONLY) {
        // Cached mode, a text that never changes while the inode lives: the page cache keeps it across
        // opens (the size the kernel was told is the text's length). Never for writing: a cached write
        // would merge the bytes written into the cached text.
        fi->keep_cache = 1;
        fi->fh = 0;
    } else {
        // Every read(2) generates the text afresh and every write(2) reaches the model as one store,
        // with nothing kept in the page cache: exactly kernfs's behaviour.
        fi->direct_io = 1;
        fi->fh = g_open_files.add();
    }
    if (fuse_reply_open(req, fi) != 0)
        g_open_files.remove(fi->fh); // interrupted: no release will come
}

// Cached mode: ENOSYS once, and the kernel never sends opendir again (FUSE_CAP_NO_OPENDIR_SUPPORT): it
// keeps each directory's listing, which the model invalidates when it changes.
void no_opendir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    fuse_reply_err(req, ENOSYS);
}

void on_release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
    g_open_files.remove(fi->fh);
    fuse_reply_err(req, 0);
}

void on_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
    // No open file: a fixed file read into the page cache (or one released meanwhile): no snapshot.
    const std::shared_ptr<OpenFile> file = fi->fh ? g_open_files.find(fi->fh) : nullptr;
    std::unique_lock<std::mutex> hold;
    if (file)
        hold = std::unique_lock(file->mu);
    std::string content;
    std::string* text = file ? &file->snapshot : &content;
    if (!file || offset == 0 || !file->has_snapshot) {
        std::string path;
        const int rc = self(req).kernel().read(ino, content, &path);
        if (offset == 0)
            count_access(AccessKind::Read, path.c_str());
        if (rc < 0) {
            fuse_reply_err(req, -rc);
            return;
        }
        if (file) {
            file->snapshot = std::move(content);
            file->has_snapshot = true;
        }
    }
    if (offset >= static_cast<off_t>(text->size())) {
        fuse_reply_buf(req, nullptr, 0);
        return;
    }
    const size_t n = std::min(size, text->size() - static_cast<size_t>(offset));
    fuse_reply_buf(req, text->data() + offset, n);
}

void on_write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t /*offset*/,
              fuse_file_info* /*fi*/) {
    // fs/kernfs/file.c kernfs_fop_write_iter(): each write(2) is one store() of the whole buffer, whatever
    // the file offset. The model strips the trailing newline itself (kstrtouint accepts one).
    FuseSysfs& fs = self(req);
    std::string path;
    const int rc = fs.kernel().write(ino, std::string_view(data, size), &path);
    count_access(AccessKind::Write, path.c_str());
    // After the change's invalidations, uevents and /dev updates, which the write posted before us.
    fs.post([req, rc, size] {
        if (rc < 0)
            fuse_reply_err(req, -rc);
        else
            fuse_reply_write(req, size);
    });
}

// ---- directories

void on_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* /*fi*/) {
    std::vector<DirEntry> entries;
    std::string path;
    const int rc = self(req).kernel().list(ino, entries, &path);
    if (offset == 0)
        count_access(AccessKind::Readdir, path.c_str());
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    // Offsets: 1 after ".", 2 after "..", 2 + i + 1 after entry i.
    std::string buffer(size, '\0');
    size_t used = 0;
    auto add = [&](const char* name, uint64_t entry_ino, NodeKind kind, off_t next) {
        struct stat st {};
        st.st_ino = entry_ino;
        st.st_mode = type_bits(kind);
        const size_t need = fuse_add_direntry(req, buffer.data() + used, size - used, name, &st, next);
        if (need > size - used)
            return false;
        used += need;
        return true;
    };
    for (off_t i = offset; i < static_cast<off_t>(entries.size()) + 2; ++i) {
        const bool fits = i == 0   ? add(".", ino, NodeKind::Directory, 1)
                          : i == 1 ? add("..", ino, NodeKind::Directory, 2) // the kernel answers ".." itself
                                   : add(entries[static_cast<size_t>(i - 2)].name.c_str(),
                                         entries[static_cast<size_t>(i - 2)].ino,
                                         entries[static_cast<size_t>(i - 2)].kind, i + 1);
        if (!fits)
            break;
    }
    fuse_reply_buf(req, buffer.data(), used);
}

void on_init(void* userdata, fuse_conn_info* conn) {
    auto& fs = *static_cast<FuseSysfs*>(userdata);
    conn->want &= ~(FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_NO_OPEN_SUPPORT | FUSE_CAP_NO_OPENDIR_SUPPORT |
                    FUSE_CAP_EXPLICIT_INVAL_DATA);
    if (!fs.cached())
        return;
    // No opendir requests (the kernel keeps listings, which simhost invalidates), link targets in the page
    // cache, and the attribute check before a cached listing is used, which lets a new version (mtime)
    // drop a stale listing.
    const unsigned want = FUSE_CAP_NO_OPENDIR_SUPPORT | FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_AUTO_INVAL_DATA;
    conn->want |= want & conn->capable;
}

fuse_lowlevel_ops make_operations(bool cached) {
    fuse_lowlevel_ops ops{};
    ops.init = on_init;
    ops.lookup = on_lookup;
    ops.getattr = on_getattr;
    ops.setattr = on_setattr;
    ops.readlink = on_readlink;
    ops.mknod = deny_mknod;
    ops.mkdir = deny_mkdir;
    ops.unlink = deny_unlink;
    ops.rmdir = deny_unlink;
    ops.symlink = deny_symlink;
    ops.rename = deny_rename;
    ops.link = deny_link;
    ops.create = deny_create;
    ops.open = on_open;
    ops.release = on_release;
    ops.read = on_read;
    ops.write = on_write;
    ops.readdir = on_readdir;
    if (cached)
        ops.opendir = no_opendir;
    return ops;
}

} // namespace

FuseSysfs::FuseSysfs(Kernel& kernel, bool cached) : kernel_(kernel), cached_(cached) {}

FuseSysfs::~FuseSysfs() {
    unmount();
}

void FuseSysfs::mount(const std::string& mountpoint) {
    ::clock_gettime(CLOCK_REALTIME, &g_start_time);
    static const fuse_lowlevel_ops cached_ops = make_operations(true);
    static const fuse_lowlevel_ops uncached_ops = make_operations(false);
    const fuse_lowlevel_ops& ops = cached_ ? cached_ops : uncached_ops;
    const char* argv[] = {"simhost", "-o", "allow_other,default_permissions,fsname=sysfs,subtype=simhost"};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
    session_ = fuse_session_new(&args, &ops, sizeof(ops), this);
    fuse_opt_free_args(&args);
    if (!session_)
        throw std::runtime_error("fuse_session_new failed");
    if (fuse_session_mount(session_, mountpoint.c_str()) != 0) {
        fuse_session_destroy(session_);
        session_ = nullptr;
        throw std::runtime_error("cannot mount FUSE on " + mountpoint);
    }
    mounted_ = true;
    loop_ = std::thread([this] {
        fuse_loop_config* config = fuse_loop_cfg_create();
        // A write blocked by a fault or a held device occupies a thread; the others keep serving.
        fuse_loop_cfg_set_idle_threads(config, 16);
        fuse_loop_cfg_set_max_threads(config, 256);
        fuse_session_loop_mt(session_, config);
        fuse_loop_cfg_destroy(config);
    });
}

void FuseSysfs::invalidate(const std::vector<Invalidation>& batch) {
    if (!cached_ || !session_ || !mounted_)
        return;
    // Errors are expected and harmless: ENOENT when the kernel no longer holds the inode or dentry.
    for (const auto& i : batch) {
        if (i.name.empty())
            fuse_lowlevel_notify_inval_inode(session_, i.ino, i.listing ? 0 : -1, 0);
        else
            fuse_lowlevel_notify_inval_entry(session_, i.ino, i.name.c_str(), i.name.size());
    }
}

void FuseSysfs::unmount() {
    if (!session_)
        return;
    if (mounted_) {
        fuse_session_exit(session_);
        mounted_ = false;
        fuse_session_unmount(session_); // the loop's read on /dev/fuse then fails and the loop returns
    }
    if (loop_.joinable())
        loop_.join();
    pipe_.barrier(); // replies still queued complete their requests before the session goes
    fuse_session_destroy(session_);
    session_ = nullptr;
}

} // namespace simhost

// What the kernel's caches may hold of the simulated sysfs, and what a change makes stale (docs/simhost.md
// "Caching"). The runtime lets the kernel cache dentries, attributes, link targets, directory listings and
// the text of `fixed` files (identity attributes, constants); every other file is opened for direct I/O,
// so its text is generated afresh by every read(2) and nothing of it is cached. What a change can make
// stale is therefore structural only, and the model queues, under its lock and in the same step as the
// change, an invalidation for each part the kernel may hold:
//  - a node removed: its dentry (the entry in its parent);
//  - a directory whose listing changed: the entry that came or went (the kernel takes the directory's
//    lock for it, which lets listings in flight finish first), then the cached listing and the
//    attributes (a new version: the mtime the kernel compares before using a cached listing).
// Nodes never change kind, mode, size or link target in place (the tree builder makes a new node, with a
// new inode, instead), so nothing else can go stale. flush() hands the queue to the runtime before the
// change's uevents.
#include "kernel_impl.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <tuple>

namespace simhost {

namespace {

bool same_node(const Node& a, const Node& b) {
    return a.kind == b.kind && a.mode == b.mode && a.target == b.target && a.size == b.size &&
           a.fixed == b.fixed;
}

std::string child_path(const std::string& dir, std::string_view name) {
    return dir == "/" ? "/" + std::string(name) : dir + "/" + std::string(name);
}

std::string_view base_name(std::string_view path) {
    return path.substr(path.rfind('/') + 1);
}

// A fixed file's size is its text's length: the kernel reads a cached file up to the size it was told,
// so 4096 (what sysfs says) would pad it with zeros. Other files keep sysfs's 4096: direct I/O reads
// whatever the text is.
void fill(const Node& n, const std::string* text, NodeAttr& out) {
    out.ino = n.ino;
    out.kind = n.kind;
    out.mode = n.mode;
    out.size = n.kind != NodeKind::File ? 0 : text ? text->size() : n.size;
    out.version = n.version;
    out.fixed = n.fixed;
}

} // namespace

std::vector<Invalidation> dedupe(std::vector<Invalidation> in) {
    // Entries before nodes: a directory's entries take its lock, which lets listings in flight finish
    // before the listing cache is dropped (kernel_cache.cpp, dir_changed()).
    std::set<std::tuple<uint64_t, std::string, bool>> seen;
    std::vector<Invalidation> out;
    for (bool entries : {true, false})
        for (auto& i : in)
            if (i.name.empty() != entries && seen.emplace(i.ino, i.name, i.listing).second)
                out.push_back(i);
    return out;
}

Node* Impl::node_by_ino(uint64_t ino) const {
    auto it = inodes.find(ino);
    return it == inodes.end() ? nullptr : &it->second->second;
}

const std::string& Impl::path_of(uint64_t ino) const {
    return inodes.at(ino)->first;
}

void Impl::node_added(const std::string& path, Node& n) const {
    n.ino = path == "/" ? Kernel::kRootIno : next_ino++;
    n.version = next_version++;
    inodes[n.ino] = tree.find(path);
    if (path == "/")
        return;
    if (auto parent = tree.find(parent_dir(path)); parent != tree.end())
        dir_changed(parent->second, base_name(path));
}

void Impl::node_removed(const std::string& path, const Node& n) const {
    // The descendants' dentries go with this one (d_invalidate prunes the subtree).
    if (auto parent = tree.find(parent_dir(path)); parent != tree.end())
        dir_changed(parent->second, base_name(path));
    inodes.erase(n.ino);
}

void Impl::dir_changed(Node& dir, std::string_view name) const {
    dir.version = next_version++;
    if (!dir.exposed)
        return; // the kernel cannot hold anything below a directory it was never told about
    // The entry first: it drops a dentry of `name`, and the kernel takes the directory's lock for it,
    // so listings that were in flight with the old contents are complete when the listing is dropped.
    invalidations.push_back({dir.ino, std::string(name), false});
    invalidations.push_back({dir.ino, {}, true});
}

void Impl::verify_fixed() const {
    for (auto it = told_text.begin(); it != told_text.end();) {
        const Node* n = node_by_ino(it->first);
        if (!n) {
            it = told_text.erase(it); // gone with its inode
            continue;
        }
        const std::string now = n->read(*this);
        if (now != it->second) {
            std::fprintf(stderr,
                         "simhost: cache verification failed: %s is marked fixed (the kernel caches it) but "
                         "changed from \"%s\" to \"%s\"\n",
                         path_of(it->first).c_str(), it->second.c_str(), now.c_str());
            std::abort();
        }
        ++it;
    }
}

void Impl::adopt_tree(std::map<std::string, Node, std::less<>> fresh) const {
    if (forget_all) {
        // reset(): nothing of the old tree survives; the kernel forgets it through the root's entries.
        for (auto& [path, n] : tree)
            if (path != "/" && parent_dir(path) == "/" && n.exposed)
                invalidations.push_back({Kernel::kRootIno, std::string(base_name(path)), false});
        invalidations.push_back({Kernel::kRootIno, {}, true});
        tree.clear();
        inodes.clear();
        told_text.clear();
        forget_all = false;
    }
    const bool first = tree.empty(); // the start state: nothing to tell anyone
    const bool root_exposed = true;  // the kernel always holds the root
    // Same path, same node: the inode lives on. Anything else is a new inode.
    std::vector<std::string> added;
    for (auto& [path, n] : fresh) {
        auto old = tree.find(path);
        if (old != tree.end() && same_node(old->second, n)) {
            n.ino = old->second.ino;
            n.version = old->second.version;
            n.exposed = old->second.exposed;
        } else {
            n.ino = path == "/" ? Kernel::kRootIno : next_ino++;
            n.version = next_version++;
            n.exposed = path == "/" && root_exposed;
            if (path != "/")
                added.push_back(path);
        }
    }
    // Removed: old nodes without a surviving counterpart. Only the top of a removed subtree matters.
    std::vector<std::pair<std::string, const Node*>> removed;
    for (auto& [path, n] : tree) {
        auto now = fresh.find(path);
        if (now != fresh.end() && now->second.ino == n.ino)
            continue;
        const std::string parent = parent_dir(path);
        auto pnow = fresh.find(parent);
        auto pold = tree.find(parent);
        if (pnow != fresh.end() && pold != tree.end() && pnow->second.ino == pold->second.ino)
            removed.emplace_back(path, &n);
    }
    for (auto& [path, n] : removed)
        dir_changed(fresh.at(parent_dir(path)), base_name(path));
    for (auto& path : added)
        if (auto parent = fresh.find(parent_dir(path)); parent != fresh.end() && !first)
            dir_changed(parent->second, base_name(path));
    tree.swap(fresh);
    inodes.clear();
    for (auto it = tree.begin(); it != tree.end(); ++it)
        inodes[it->second.ino] = it;
}

void Impl::expose(Node& n, NodeAttr& out) const {
    n.exposed = true;
    if (n.kind == NodeKind::File && n.fixed) {
        const std::string text = n.read(*this);
        fill(n, &text, out);
        if (verify_cache)
            told_text[n.ino] = text;
    } else {
        fill(n, nullptr, out);
    }
}

// ---------------------------------------------------------------------------------------------------
// Kernel filesystem API by inode

int Kernel::lookup(uint64_t parent, std::string_view name, NodeAttr& out, std::string* path_out) {
    std::lock_guard lock(impl_->mu);
    auto& k = *impl_;
    const Node* dir = k.current_node(parent);
    if (!dir)
        return -ENOENT;
    if (dir->kind != NodeKind::Directory)
        return -ENOTDIR;
    std::string path = child_path(k.path_of(parent), name);
    auto it = k.tree.find(path);
    if (path_out)
        *path_out = path;
    if (it == k.tree.end())
        return -ENOENT;
    k.expose(it->second, out);
    return 0;
}

int Kernel::getattr(uint64_t ino, NodeAttr& out, std::string* path_out) {
    std::lock_guard lock(impl_->mu);
    auto& k = *impl_;
    Node* n = k.current_node(ino);
    if (!n)
        return -ENOENT;
    if (path_out)
        *path_out = k.path_of(ino);
    k.expose(*n, out);
    return 0;
}

int Kernel::readlink(uint64_t ino, std::string& target, std::string* path_out) const {
    std::lock_guard lock(impl_->mu);
    auto& k = *impl_;
    const Node* n = k.current_node(ino);
    if (!n)
        return -ENOENT;
    if (path_out)
        *path_out = k.path_of(ino);
    if (n->kind != NodeKind::Symlink)
        return -EINVAL;
    target = n->target;
    return 0;
}

int Kernel::list(uint64_t ino, std::vector<DirEntry>& entries, std::string* path_out) const {
    std::lock_guard lock(impl_->mu);
    auto& k = *impl_;
    const Node* n = k.current_node(ino);
    if (!n)
        return -ENOENT;
    const std::string& path = k.path_of(ino);
    if (path_out)
        *path_out = path;
    if (n->kind != NodeKind::Directory)
        return -ENOTDIR;
    entries.clear();
    entries.reserve(n->children.size());
    for (const auto& name : n->children) {
        const Node& c = k.tree.at(child_path(path, name));
        entries.push_back({name, c.ino, c.kind});
    }
    return 0;
}

int Kernel::read(uint64_t ino, std::string& content, std::string* path_out) {
    std::unique_lock lock(impl_->mu);
    auto& k = *impl_;
    Node* n = k.current_node(ino);
    if (!n)
        return -ENOENT;
    const std::string path = k.path_of(ino);
    if (path_out)
        *path_out = path;
    if (n->kind == NodeKind::Directory)
        return -EISDIR;
    if (!(n->mode & 0444) || !n->read)
        return -EACCES; // write-only attributes (bind, create, remove ...)
    // A show() that takes device_lock waits while a blocked store holds it (Node::lock).
    while (!n->lock.empty() && k.device_locks.count(n->lock) && !k.stopping) {
        k.cv.wait(lock);
        if (!(n = k.current_node(ino)))
            return -ENODEV; // kernfs: the attribute was removed meanwhile
    }
    content = n->read(k);
    if (n->fixed && k.verify_cache)
        k.told_text[ino] = content;
    return 0;
}

} // namespace simhost

/* vfio_viability: what a VMM meets when it takes an IOMMU group (drivers/vfio/group.c, container.c,
 * drivers/iommu/iommu.c iommu_group_claim_dma_owner).
 *
 *   vfio_viability /dev/vfio/N   opens the group, asks VFIO_GROUP_GET_STATUS whether it is viable, then
 *                                tries VFIO_GROUP_SET_CONTAINER with a fresh /dev/vfio/vfio; prints
 *                                "open=OK viable=yes|no set_container=OK|<errno name>" (open=<errno> alone
 *                                when the group cannot be opened). Exit 0 when the calls were made.
 *
 * Built by tests/vm/run.sh next to vmtool; the guest runs the host's userland.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char* errno_name(int e) {
    switch (e) {
    case EPERM:
        return "EPERM";
    case EBUSY:
        return "EBUSY";
    case EINVAL:
        return "EINVAL";
    case ENOENT:
        return "ENOENT";
    case ENODEV:
        return "ENODEV";
    case EACCES:
        return "EACCES";
    default:
        return strerrorname_np(e) ? strerrorname_np(e) : "E?";
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: vfio_viability /dev/vfio/GROUP\n");
        return 2;
    }
    int group = open(argv[1], O_RDWR | O_CLOEXEC);
    if (group < 0) {
        printf("open=%s\n", errno_name(errno));
        return 0;
    }
    struct vfio_group_status status = {.argsz = sizeof status};
    const char* viable = "?";
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) == 0)
        viable = (status.flags & VFIO_GROUP_FLAGS_VIABLE) ? "yes" : "no";
    int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    const char* set = "no-container";
    if (container >= 0)
        set = ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) == 0 ? "OK" : errno_name(errno);
    printf("open=OK viable=%s set_container=%s\n", viable, set);
    return 0;
}

/* vmtool: the few system calls the guest scenarios need exactly, which shell redirections blur.
 *
 *   vmtool write PATH VALUE   one write(2) of VALUE (C escapes \n \t \\ \0 \xHH allowed) to PATH;
 *                             prints OK or the errno name (ERANGE, EBUSY, ...). Shell `echo > f`
 *                             splits or merges writes and turns errno into locale text.
 *   vmtool open PATH          open(PATH, O_RDWR); prints OK or the errno name, closes again.
 *   vmtool hold PATH READY    open(PATH, O_RDWR) and keep it open until killed; creates the file
 *                             READY once the descriptor is held (so a test waits for the file,
 *                             not for a guessed delay). On failure prints the errno name, exits 1.
 *   vmtool opath PATH READY   the same with open(PATH, O_PATH): a descriptor that needs no
 *                             permission on the file and opens no device (fs/open.c).
 *   vmtool devfd GROUP DEVICE READY
 *                             what a VMM does to get a VFIO device fd (Documentation/driver-api/
 *                             vfio.rst): open /dev/vfio/vfio and GROUP, VFIO_GROUP_SET_CONTAINER,
 *                             VFIO_SET_IOMMU (type1v2, else type1), VFIO_GROUP_GET_DEVICE_FD(DEVICE),
 *                             then close the group and the container fds and keep only the device
 *                             fd (its /proc/PID/fd link reads anon_inode:[vfio-device]) until
 *                             killed. Prints the failing step and errno name on failure, exits 1.
 *
 * Exit status: 0 when the call was made (whatever its result, except for hold), 2 on bad usage.
 * Built by tests/vm/run.sh with the host's compiler; the guest runs the host's userland.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static size_t unescape(const char* in, char* out) {
    size_t n = 0;
    while (*in) {
        if (*in != '\\' || in[1] == '\0') {
            out[n++] = *in++;
            continue;
        }
        in++;
        switch (*in) {
        case 'n':
            out[n++] = '\n';
            in++;
            break;
        case 't':
            out[n++] = '\t';
            in++;
            break;
        case '0':
            out[n++] = '\0';
            in++;
            break;
        case '\\':
            out[n++] = '\\';
            in++;
            break;
        case 'x': {
            char hex[3] = {0, 0, 0};
            in++;
            for (int i = 0; i < 2 && *in; i++)
                hex[i] = *in++;
            out[n++] = (char)strtoul(hex, NULL, 16);
            break;
        }
        default:
            out[n++] = '\\';
            break;
        }
    }
    return n;
}

static const char* errno_name(int err) {
    const char* name = strerrorname_np(err);
    return name ? name : "E?";
}

static void signal_ready(const char* ready_file) {
    int ready = open(ready_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (ready >= 0)
        close(ready);
}

static int step_failed(const char* step) {
    printf("%s:%s\n", step, errno_name(errno));
    return 1;
}

/* The VMM sequence of vfio.rst "Groups, Devices, and IOMMUs", ending with only the device fd. */
static int hold_device_fd(const char* group_path, const char* device, const char* ready_file) {
    int container = open("/dev/vfio/vfio", O_RDWR);
    if (container < 0)
        return step_failed("open-container");
    int group = open(group_path, O_RDWR);
    if (group < 0)
        return step_failed("open-group");
    struct vfio_group_status status = {.argsz = sizeof status};
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
        return step_failed("group-status");
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        printf("group-not-viable\n");
        return 1;
    }
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
        return step_failed("set-container");
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 &&
        ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0)
        return step_failed("set-iommu");
    int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, device);
    if (fd < 0)
        return step_failed("get-device-fd");
    close(group);
    close(container);
    signal_ready(ready_file);
    for (;;)
        pause();
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        char* buf = malloc(strlen(argv[3]) + 1);
        size_t len = unescape(argv[3], buf);
        int fd = open(argv[2], O_WRONLY);
        if (fd < 0) {
            printf("open:%s\n", errno_name(errno));
            return 0;
        }
        ssize_t written = write(fd, buf, len);
        if (written < 0)
            printf("%s\n", errno_name(errno));
        else if ((size_t)written != len)
            printf("SHORT:%zd\n", written);
        else
            printf("OK\n");
        close(fd);
        free(buf);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "open") == 0) {
        int fd = open(argv[2], O_RDWR);
        printf("%s\n", fd < 0 ? errno_name(errno) : "OK");
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (argc == 4 && (strcmp(argv[1], "hold") == 0 || strcmp(argv[1], "opath") == 0)) {
        int fd = open(argv[2], strcmp(argv[1], "hold") == 0 ? O_RDWR : O_PATH);
        if (fd < 0) {
            printf("%s\n", errno_name(errno));
            return 1;
        }
        signal_ready(argv[3]);
        for (;;)
            pause();
    }
    if (argc == 5 && strcmp(argv[1], "devfd") == 0)
        return hold_device_fd(argv[2], argv[3], argv[4]);
    fprintf(stderr,
            "usage: vmtool write PATH VALUE | open PATH | hold PATH READY_FILE | opath PATH READY_FILE"
            " | devfd GROUP DEVICE READY_FILE\n");
    return 2;
}

// The sysfs layout and attribute formats (pci-sysfs.c, iov.c, net-sysfs.c; sysfs-abi.md §1.7).
#include "support.hpp"

using namespace simtest;

TEST_CASE("PCI attribute formats") {
    auto k = host("intel-x710.toml");
    CHECK(rd(*k, kPf0 + "/vendor") == "0x8086\n");
    CHECK(rd(*k, kPf0 + "/device") == "0x1572\n");
    CHECK(rd(*k, kPf0 + "/subsystem_device") == "0x0006\n");
    CHECK(rd(*k, kPf0 + "/class") == "0x020000\n");
    CHECK(rd(*k, kPf0 + "/revision") == "0x02\n");
    CHECK(rd(*k, kPf0 + "/modalias") == "pci:v00008086d00001572sv00008086sd00000006bc02sc00i00\n");
    CHECK(rd(*k, kPf0 + "/driver_override") == "(null)\n");
    CHECK(rd(*k, kPf0 + "/numa_node") == "0\n");
    CHECK(rd(*k, kPf0 + "/local_cpulist") == "0-31\n");
    CHECK(rd(*k, kPf0 + "/uevent") ==
          "DRIVER=i40e\nPCI_CLASS=20000\nPCI_ID=8086:1572\nPCI_SUBSYS_ID=8086:0006\n"
          "PCI_SLOT_NAME=0000:3b:00.0\nMODALIAS=pci:v00008086d00001572sv00008086sd00000006bc02sc00i00\n");
    auto res = rd(*k, kPf0 + "/resource");
    CHECK(std::count(res.begin(), res.end(), '\n') == 13);
    CHECK(res.substr(0, 58).find("0x") == 0);
}

TEST_CASE("SR-IOV attribute formats: sriov_vf_device is bare lower-case hex") {
    auto k = host("mellanox-cx5.toml");
    std::string pf = "/bus/pci/devices/0000:d8:00.0";
    CHECK(rd(*k, pf + "/sriov_totalvfs") == "8\n");
    CHECK(rd(*k, pf + "/sriov_numvfs") == "0\n");
    CHECK(rd(*k, pf + "/sriov_offset") == "2\n");
    CHECK(rd(*k, pf + "/sriov_stride") == "1\n");
    CHECK(rd(*k, pf + "/sriov_vf_device") == "101e\n");
    CHECK(rd(*k, pf + "/sriov_drivers_autoprobe") == "1\n");
}

TEST_CASE("config space is a 256-byte header lspci can parse") {
    auto k = host("intel-x710.toml");
    auto c = rd(*k, kPf0 + "/config");
    REQUIRE(c.size() == 256);
    CHECK((unsigned char)c[0] == 0x86);
    CHECK((unsigned char)c[1] == 0x80);
    CHECK((unsigned char)c[2] == 0x72);
    CHECK((unsigned char)c[3] == 0x15);
    CHECK((unsigned char)c[0x0b] == 0x02); // base class
    CHECK((unsigned char)c[0x0e] == 0x00); // type 0 header
    CHECK((unsigned char)c[0x2c] == 0x86); // subsystem vendor
    simhost::NodeInfo info;
    REQUIRE(k->stat(kPf0 + "/config", info) == 0);
    CHECK(info.size == 256);
    CHECK((unsigned char)rd(*k, "/bus/pci/devices/0000:3a:00.0/config")[0x0e] == 0x01); // bridge
}

TEST_CASE("device directories nest under their bridge - links are relative") {
    auto k = host("intel-x710.toml");
    CHECK(lnk(*k, "/bus/pci/devices/0000:3b:00.0") ==
          "../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0");
    std::string dir = "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0";
    CHECK(lnk(*k, dir + "/driver") == "../../../../bus/pci/drivers/i40e");
    CHECK(lnk(*k, dir + "/subsystem") == "../../../../bus/pci");
    CHECK(lnk(*k, dir + "/iommu_group") == "../../../../kernel/iommu_groups/30");
    CHECK(lnk(*k, "/kernel/iommu_groups/30/devices/0000:3b:00.0") ==
          "../../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0");
    CHECK(lnk(*k, "/bus/pci/drivers/i40e/0000:3b:00.0") ==
          "../../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0");
    CHECK(lnk(*k, "/bus/pci/drivers/i40e/module") == "../../../../module/i40e");
    CHECK(lnk(*k, "/module/i40e/drivers/pci:i40e") == "../../../bus/pci/drivers/i40e");
    // Reads follow links in any component, as the VFS does.
    CHECK(rd(*k, "/kernel/iommu_groups/30/devices/0000:3b:00.0/vendor") == "0x8086\n");
}

TEST_CASE("netdev directory under the PF with kernel formats") {
    auto k = host("intel-x710.toml");
    std::string n = kPf0 + "/net/ens1f0";
    CHECK(rd(*k, n + "/operstate") == "down\n");
    CHECK(rd(*k, n + "/flags") == "0x1002\n");
    CHECK(rd(*k, n + "/mtu") == "1500\n");
    CHECK(rd(*k, n + "/type") == "1\n");
    CHECK(rd(*k, n + "/ifindex") == "2\n"); // lo is 1
    CHECK(rd(*k, n + "/uevent") == "INTERFACE=ens1f0\nIFINDEX=2\n");
    CHECK(rd(*k, n + "/address").size() == 18);
    CHECK(lnk(*k, "/class/net/ens1f0") == "../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/net/ens1f0");
    CHECK(lnk(*k, "/class/net/ens1f0/device") == "../../../0000:3b:00.0");
    CHECK(lnk(*k, "/class/net/lo") == "../../devices/virtual/net/lo");
}

TEST_CASE("unknown names are ENOENT - directories list in a stable order") {
    auto k = host("intel-x710.toml");
    std::string s;
    CHECK(k->read(kPf0 + "/no_such_attr", s) == -ENOENT);
    CHECK(k->read("/bus/pci/devices/0000:99:00.0/vendor", s) == -ENOENT);
    CHECK(k->write(kPf0 + "/new_file", "1") == -ENOENT);
    CHECK(k->read(kPf0 + "/vendor/x", s) == -ENOTDIR);
    CHECK(k->read(kPf0, s) == -EISDIR);
    CHECK(k->read("/bus/pci/drivers/i40e/bind", s) == -EACCES); // write-only
    CHECK(k->write(kPf0 + "/vendor", "1") == -EACCES);          // read-only
    std::vector<std::string> a, b;
    REQUIRE(k->list("/bus/pci/devices", a) == 0);
    REQUIRE(k->list("/bus/pci/devices", b) == 0);
    CHECK(a == b);
    CHECK(a == std::vector<std::string>{"0000:3a:00.0", "0000:3b:00.0", "0000:3b:00.1"});
    std::vector<std::string> top;
    REQUIRE(k->list("/", top) == 0);
    CHECK(top == std::vector<std::string>{"bus", "class", "devices", "kernel", "module"});
}

TEST_CASE("node kinds and modes") {
    auto k = host("intel-x710.toml");
    simhost::NodeInfo i;
    REQUIRE(k->stat(kPf0 + "/sriov_numvfs", i) == 0);
    CHECK(i.kind == simhost::NodeKind::File);
    CHECK(i.mode == 0644);
    CHECK(i.size == 4096);
    REQUIRE(k->stat("/bus/pci/drivers/i40e/bind", i) == 0);
    CHECK(i.mode == 0200);
    REQUIRE(k->stat(kPf0, i) == 0); // lstat: the /bus/pci/devices entry itself is a link
    CHECK(i.kind == simhost::NodeKind::Symlink);
    REQUIRE(k->stat("/devices/pci0000:3a", i) == 0);
    CHECK(i.kind == simhost::NodeKind::Directory);
    CHECK(i.mode == 0755);
}

TEST_CASE("modules.alias lines and loaded modules") {
    auto k = host("mellanox-cx5.toml");
    CHECK(k->modules_alias() == "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
                                "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n");
    CHECK(exists(*k, "/module/vfio_pci/drivers/pci:vfio-pci"));
    CHECK_FALSE(exists(*k, "/module/mlx5_vfio_pci"));
    CHECK_FALSE(exists(*k, "/bus/pci/drivers/mlx5_vfio_pci"));
}

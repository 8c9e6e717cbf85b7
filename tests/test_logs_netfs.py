"""Network file systems are told from mountinfo, so their logs are polled."""

from __future__ import annotations

from pathlib import Path

from stata_tools.run.logs.netfs import filesystem_type, on_network_fs

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /home rw,relatime shared:20 - nfs4 fs1:/export/home rw,vers=4.2
41 22 0:36 / /scratch rw,relatime shared:21 - lustre 10.0.0.1@o2ib:/scratch rw
42 40 0:37 / /home/u/local\\040disk rw - xfs /dev/sdb1 rw
"""


def test_longest_mount_point_wins() -> None:
    assert filesystem_type("/home/u/project", MOUNTINFO) == "nfs4"
    assert filesystem_type("/scratch/u/run.log", MOUNTINFO) == "lustre"
    assert filesystem_type("/home/u/local disk/x", MOUNTINFO) == "xfs"
    assert filesystem_type("/homework", MOUNTINFO) == "ext4"
    assert filesystem_type("/tmp", "garbage\n") is None


def test_local_temp_folder_is_not_network(tmp_path: Path) -> None:
    assert on_network_fs(tmp_path) is False

"""`rulec compile -o`: atomic write (temporary file + rename in the target folder), only over
a regular file that is not the source, with the mode the umask gives."""

import os
import stat

import pytest
from table_helpers import SMALL

from rulec.table import format as tables


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "s.rules"
    p.write_text(SMALL)
    return p


def _refused(cli, src, target, what):
    r = cli("compile", src, "-o", target)
    assert r.code == 1 and "[B713]" in r.err and what in r.err, r
    assert "Traceback" not in r.err


def test_symlink_target_is_refused_and_kept(cli, src, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "t.rtbl"
    link.symlink_to(victim)
    _refused(cli, src, link, "symbolic link")
    assert link.is_symlink() and victim.read_text() == "precious"


def test_fifo_and_device_and_folder_are_refused(cli, src, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _refused(cli, src, fifo, "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    _refused(cli, src, "/dev/null", "not a regular file")
    _refused(cli, src, tmp_path, "not a regular file")


def test_the_source_itself_is_refused(cli, src, tmp_path):
    _refused(cli, src, src, "source file itself")
    assert src.read_text() == SMALL
    hard = tmp_path / "hard.rules"
    os.link(src, hard)
    _refused(cli, src, hard, "source file itself")
    assert src.read_text() == SMALL


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_mode_follows_the_umask(cli, src, tmp_path, umask):
    out = tmp_path / "t.rtbl"
    old = os.umask(umask)
    try:
        assert cli("compile", src, "-o", out).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~umask
    assert tables.load(out).shop == "s"


def test_regular_file_is_replaced_atomically(cli, src, tmp_path):
    out = tmp_path / "t.rtbl"
    out.write_text("old")
    before = os.stat(out).st_ino
    assert cli("compile", src, "-o", out).code == 0
    assert os.stat(out).st_ino != before  # renamed over, never rewritten in place
    assert tables.load(out).shop == "s"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rulec-")] == []


def test_unwritable_folder_is_a_coded_error(cli, src, tmp_path):
    r = cli("compile", src, "-o", tmp_path / "no" / "such" / "t.rtbl")
    assert r.code == 1 and "[B714]" in r.err

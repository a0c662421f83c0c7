"""FileFollower on real files: bytes, partial lines, rotation, truncation, resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_monitor.sources.follow import MAX_LINE_BYTES, FileFollower, ReadResult, split_lines
from tui_monitor.sources.positions import FINGERPRINT_BYTES, FilePosition, fingerprint


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def read_all(follower: FileFollower) -> ReadResult:
    """Read until nothing is pending and merge the results."""
    merged = ReadResult()
    while True:
        result = follower.read_lines()
        merged.lines += result.lines
        merged.positions += result.positions
        merged.opened += result.opened
        merged.dropped += result.dropped
        merged.rotated |= result.rotated
        merged.truncated |= result.truncated
        merged.truncated_lines += result.truncated_lines
        merged.lag_bytes = result.lag_bytes
        if not result.has_more:
            return merged


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    return path


# -- bytes -------------------------------------------------------------------


def test_split_lines_crlf_and_lone_cr() -> None:
    lines, cut = split_lines(b"a\r\nb\rc\r\n\r\n")
    assert lines == ["a", "b\rc", ""]
    assert cut == 0


def test_split_lines_bom_only_at_file_start() -> None:
    assert split_lines(b"\xef\xbb\xbfx\n", at_file_start=True)[0] == ["x"]
    assert split_lines(b"\xef\xbb\xbfx\n", at_file_start=False)[0] == ["\ufeffx"]


def test_split_lines_invalid_utf8_replaced() -> None:
    lines, _ = split_lines(b"ok \xc3\x28 \xff\xfe end\n\x00\x01binary\n")
    assert lines == ["ok \ufffd( \ufffd\ufffd end", "\x00\x01binary"]


def test_split_lines_caps_long_line_on_char_boundary() -> None:
    long_line = "é" * MAX_LINE_BYTES  # 2 bytes each
    lines, cut = split_lines(("short\n" + long_line + "\nafter\n").encode())
    assert cut == 1
    assert lines[0] == "short"
    assert lines[1] == "é" * (MAX_LINE_BYTES // 2)
    assert lines[2] == "after"


def test_follower_partial_line_waits_for_newline(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    append(log, b"first\nsec")
    assert follower.read_lines().lines == ["first"]
    append(log, b"ond")
    assert follower.read_lines().lines == []
    append(log, b"\n")
    assert follower.read_lines().lines == ["second"]


def test_follower_position_excludes_partial_line(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    append(log, b"done\nhalf")
    result = follower.read_lines()
    assert result.positions[-1].offset == len(b"done\n")


def test_follower_bom_crlf_at_file_start(log: Path) -> None:
    follower = FileFollower(str(log), from_end=False)
    append(log, b"\xef\xbb\xbfheader\r\nrow 1\r\n")
    assert follower.read_lines().lines == ["header", "row 1"]


def test_follower_bom_split_across_reads(log: Path) -> None:
    follower = FileFollower(str(log), from_end=False)
    append(log, b"\xef\xbb")
    assert follower.read_lines().lines == []
    append(log, b"\xbfx\n")
    assert follower.read_lines().lines == ["x"]


def test_follower_long_line_in_pieces_cut_and_counted(log: Path) -> None:
    follower = FileFollower(str(log), from_end=False)
    append(log, b"a" * (MAX_LINE_BYTES - 10))
    follower.read_lines()
    for _ in range(5):
        append(log, b"b" * MAX_LINE_BYTES)
        follower.read_lines()
    append(log, b"tail\nnext\n")
    result = follower.read_lines()
    assert result.lines[0] == "a" * (MAX_LINE_BYTES - 10) + "b" * 10
    assert result.lines[1] == "next"
    assert result.truncated_lines == 1


def test_follower_binary_garbage_keeps_reading(log: Path) -> None:
    follower = FileFollower(str(log), from_end=False)
    garbage = bytes(range(256)) * 2000  # contains newlines, NULs and invalid UTF-8
    append(log, garbage + b"\nafter garbage\n")
    result = read_all(follower)
    assert result.lines[-1] == "after garbage"
    assert len(result.lines) == garbage.count(b"\n") + 2


def test_follower_reads_burst_in_budgeted_passes(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    lines = [f"{i:06d} " + "x" * 90 for i in range(20_000)]
    append(log, "".join(line + "\n" for line in lines).encode())
    first = follower.read_lines(budget_bytes=256 * 1024)
    assert first.has_more
    assert first.lag_bytes == log.stat().st_size - 256 * 1024
    rest = read_all(follower)
    assert first.lines + rest.lines == lines
    assert rest.lag_bytes == 0


# -- start, appear later -------------------------------------------------------


def test_follower_starts_at_end_of_existing_file(log: Path) -> None:
    append(log, b"old\n")
    follower = FileFollower(str(log))
    assert follower.read_lines().lines == []
    append(log, b"new\n")
    assert follower.read_lines().lines == ["new"]


def test_follower_file_appearing_later_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "late.log"
    follower = FileFollower(str(path))
    assert follower.read_lines().lines == []
    assert not follower.is_open
    path.write_bytes(b"one\ntwo\n")
    result = follower.read_lines()
    assert result.lines == ["one", "two"]
    assert result.opened[0].offset == 0


# -- rotation ------------------------------------------------------------------


def test_follower_rename_rotation_drains_old_first(log: Path) -> None:
    follower = FileFollower(str(log), rotated_grace_s=0.0)
    follower.read_lines()
    append(log, b"a1\n")
    follower.read_lines()
    append(log, b"a2\na3")  # a3 has no newline when the file is rotated
    log.rename(log.with_suffix(".log.1"))
    append(log, b"b1\n")
    result = read_all(follower)
    assert result.rotated
    assert result.lines == ["a2", "b1"]
    result = read_all(follower)  # the old file is now quiet past its grace
    assert result.lines == ["a3"]
    assert len(result.dropped) == 1


def test_follower_rotated_file_written_late_still_read(log: Path) -> None:
    follower = FileFollower(str(log), rotated_grace_s=60.0)
    follower.read_lines()
    with open(log, "ab") as writer:  # the writer keeps its descriptor across the rename
        log.rename(log.with_suffix(".log.1"))
        append(log, b"new file\n")
        assert read_all(follower).lines == ["new file"]
        writer.write(b"late line in old file\n")
        writer.flush()
        assert read_all(follower).lines == ["late line in old file"]
    assert follower.identities()[0] != follower.identities()[1]


def test_follower_delete_and_recreate(log: Path) -> None:
    follower = FileFollower(str(log), rotated_grace_s=0.0)
    follower.read_lines()
    append(log, b"before delete\n")
    log.unlink()
    assert read_all(follower).lines == ["before delete"]
    append(log, b"recreated\n")
    assert read_all(follower).lines == ["recreated"]


def test_follower_deleted_file_closed_when_quiet(log: Path) -> None:
    follower = FileFollower(str(log), rotated_grace_s=0.0)
    follower.read_lines()
    append(log, b"last words\n")
    log.unlink()
    assert read_all(follower).lines == ["last words"]
    assert len(read_all(follower).dropped) == 1
    assert follower.identities() == []
    assert not follower.is_open


def test_follower_symlink_switched(tmp_path: Path) -> None:
    first, second, link = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "current.log"
    first.write_bytes(b"")
    second.write_bytes(b"b0\n")
    link.symlink_to(first)
    follower = FileFollower(str(link), rotated_grace_s=0.0)
    follower.read_lines()
    append(first, b"a1\n")
    tmp_link = tmp_path / "tmp.link"
    tmp_link.symlink_to(second)
    tmp_link.replace(link)  # atomic switch, as deploy tools do it
    result = read_all(follower)
    assert result.rotated
    assert result.lines == ["a1", "b0"]


def test_follower_truncated_in_place(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    append(log, b"x" * 100 + b"\n")
    follower.read_lines()
    log.write_bytes(b"")
    append(log, b"after\n")
    result = follower.read_lines()
    assert result.truncated
    assert result.lines == ["after"]


def test_follower_copytruncate_regrown_past_offset(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    append(log, b"old line one\n")
    follower.read_lines()
    os.truncate(log, 0)
    append(log, b"new content that is longer than before\n")  # size >= old offset
    result = follower.read_lines()
    assert result.truncated
    assert result.lines == ["new content that is longer than before"]


# -- resume from stored positions ----------------------------------------------


def _stored(result: ReadResult) -> dict[tuple[int, int], FilePosition]:
    latest: dict[tuple[int, int], FilePosition] = {}
    for position in [*result.opened, *result.positions]:
        latest[position.identity] = position
    return latest


def test_follower_resumes_at_stored_offset(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    append(log, b"one\ntwo\nhal")
    stored = _stored(read_all(follower))
    follower.close()
    append(log, b"f\nthree\n")
    resumed = FileFollower(str(log), stored=stored)
    assert read_all(resumed).lines == ["half", "three"]


def test_follower_resumes_short_file_by_prefix_fingerprint(log: Path) -> None:
    follower = FileFollower(str(log), from_end=False)
    append(log, b"tiny\n")
    stored = _stored(read_all(follower))
    assert stored[follower.identities()[0]].fingerprint_bytes == len(b"tiny\n")
    follower.close()
    append(log, b"y" * FINGERPRINT_BYTES + b"\n")
    resumed = FileFollower(str(log), stored=stored)
    result = read_all(resumed)
    assert result.lines == ["y" * FINGERPRINT_BYTES]
    assert result.positions[-1].fingerprint_bytes == FINGERPRINT_BYTES


def test_follower_fingerprint_mismatch_reads_from_start(log: Path) -> None:
    append(log, b"old first line\n")
    info = log.stat()
    stale = FilePosition(info.st_dev, info.st_ino, 15, fingerprint(b"something else\n"), 15)
    follower = FileFollower(str(log), stored={stale.identity: stale})
    assert follower.read_lines().lines == ["old first line"]


def test_follower_new_file_after_history_read_from_start(log: Path) -> None:
    gone = FilePosition(1, 1, 10, fingerprint(b"gone"), 4)  # a file that no longer exists
    append(log, b"written while stopped\n")
    follower = FileFollower(str(log), stored={gone.identity: gone})
    result = follower.read_lines()
    assert result.lines == ["written while stopped"]
    assert result.dropped == [gone]


def test_follower_drains_file_rotated_while_stopped(log: Path) -> None:
    follower = FileFollower(str(log))
    follower.read_lines()
    append(log, b"read before stop\n")
    stored = _stored(read_all(follower))
    follower.close()
    append(log, b"unread in old file\n")
    log.rename(log.with_suffix(".log.1"))
    append(log, b"in new file\n")
    resumed = FileFollower(str(log), stored=stored)
    assert read_all(resumed).lines == ["unread in old file", "in new file"]


def test_follower_directory_path_raises(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-file.log"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        FileFollower(str(folder)).read_lines()


def test_follower_read_error_keeps_lines_read_before(log: Path, tmp_path: Path) -> None:
    follower = FileFollower(str(log), rotated_grace_s=60.0)
    follower.read_lines()
    append(log, b"in old file\n")
    log.rename(log.with_suffix(".log.1"))
    append(log, b"in new file\n")
    follower.read_lines()  # opens the new file; the old one is drained first
    append(log.with_suffix(".log.1"), b"late old line\n")
    current = follower._current
    assert current is not None
    folder_fd = os.open(tmp_path, os.O_RDONLY)
    os.dup2(folder_fd, current.fd)  # reads of the current file now fail with EISDIR
    os.close(folder_fd)
    result = follower.read_lines()
    assert result.lines == ["late old line"]
    assert isinstance(result.error, IsADirectoryError)
    follower.close()

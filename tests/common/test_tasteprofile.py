"""The Taste Profile reader: exact counts, formats, malformed lines with line numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from musicrec_common.tasteprofile import TasteProfileError, iter_chunks, read_listens

DATA = Path(__file__).resolve().parents[2] / "data" / "msd"


def write(tmp_path: Path, text: str, name: str = "listens.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_sample_exact_counts() -> None:
    listens = read_listens(DATA / "listens_10000_head.tsv")
    assert len(listens) == 42_739
    assert len(listens.users) == 1_630
    assert len(listens.songs) == 9_071
    assert listens.counts.dtype == np.int32 and listens.user_codes.dtype == np.int32
    assert int(listens.counts.min()) >= 1


def test_chunking_does_not_change_the_result() -> None:
    whole = read_listens(DATA / "listens_10000_head.tsv")
    small = read_listens(DATA / "listens_10000_head.tsv", chunk_rows=997)
    assert np.array_equal(whole.counts, small.counts)
    assert np.array_equal(whole.users[whole.user_codes], small.users[small.user_codes])
    assert np.array_equal(whole.songs[whole.song_codes], small.songs[small.song_codes])


def test_frame_has_categorical_ids() -> None:
    frame = read_listens(DATA / "listens_subset_users.tsv").to_frame()
    assert len(frame) == 39_017
    assert str(frame["user_id"].dtype) == "category"
    assert frame["user_id"].nunique() == 10_000 and frame["song_id"].nunique() == 2_036


def test_headerless_and_reordered_header(tmp_path: Path) -> None:
    plain = read_listens(write(tmp_path, "u1\ts1\t3\nu2\ts1\t1\nu1\ts2\t7"))  # no trailing newline
    assert plain.counts.tolist() == [3, 1, 7] and plain.users.tolist() == ["u1", "u2"]
    reordered = read_listens(write(tmp_path, "song_id\tplay_count\tuser_id\ns1\t3\tu1\ns2\t7\tu1\n", "r.tsv"))
    assert reordered.users.tolist() == ["u1"] and reordered.songs.tolist() == ["s1", "s2"]
    assert reordered.counts.tolist() == [3, 7]


def test_windows_line_endings(tmp_path: Path) -> None:
    listens = read_listens(write(tmp_path, "user_id\tsong_id\tplay_count\r\nu1\ts1\t2\r\nu1\ts2\t5\r\n"))
    assert listens.counts.tolist() == [2, 5] and listens.songs.tolist() == ["s1", "s2"]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("user_id\tsong_id\tplay_count\nu1\ts1\t3\nu2\ts2\n", 3, "expected 3 tab-separated fields, found 2"),
        ("user_id\tsong_id\tplay_count\nu1\ts1\t3\nu1\ts2\tmany\n", 3, "play count 'many' is not a positive integer"),
        ("u1\ts1\t3\nu1\ts2\t0\n", 2, "out of range"),
        ("u1\ts1\t3\nu1\ts2\t-4\n", 2, "not a positive integer"),
        ("u1\ts1\t3\nu1\ts2\t99999999999\n", 2, "out of range"),
        ("u1\ts1\t3\n\ts2\t4\n", 2, "empty user or song id"),
        ("u1\ts1\t3\tx\n", 1, "expected 3 tab-separated fields, found 4"),
        ("song\tuser\tcount\nu1\ts1\t3\n", 1, "unknown column order"),
        ("user_id\tplay_count\nu1\t3\n", 1, "unknown column order"),
    ],
)
def test_malformed_lines_are_rejected_with_their_line_number(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TasteProfileError) as info:
        read_listens(path)
    assert info.value.line == line
    assert reason in str(info.value)
    assert f"line {line}:" in str(info.value)


def test_skip_mode_reports_and_keeps_the_good_lines(tmp_path: Path) -> None:
    rows = ["user_id\tsong_id\tplay_count"] + [f"u{i}\ts{i % 7}\t{i + 1}" for i in range(50)]
    rows[10] = "u9\ts2"  # truncated (line 11)
    rows[30] = "u29\ts1\tabc"  # non-numeric (line 31)
    path = write(tmp_path, "\n".join(rows) + "\n")
    listens = read_listens(path, on_error="skip", chunk_rows=8)
    assert len(listens) == 48
    assert [(b.line, b.reason.split()[0]) for b in listens.bad_lines] == [(11, "expected"), (31, "play")]


def test_line_numbers_across_chunks(tmp_path: Path) -> None:
    rows = [f"u{i}\ts{i}\t1" for i in range(100)]
    rows[73] = "u73\ts73\tx"
    path = write(tmp_path, "\n".join(rows) + "\n")
    with pytest.raises(TasteProfileError) as info:
        list(iter_chunks(path, chunk_rows=10))
    assert info.value.line == 74


def test_empty_file(tmp_path: Path) -> None:
    assert len(read_listens(write(tmp_path, ""))) == 0
    assert len(read_listens(write(tmp_path, "user_id\tsong_id\tplay_count\n", "h.tsv"))) == 0

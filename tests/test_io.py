import pandas as pd
import pytest

from classifier.errors import InputError
from classifier.io import read_table, write_table

ROWS = [["基金代码", "基金简称"], ["159995", "华夏国证半导体芯片ETF"], ["510300", "华泰柏瑞沪深300ETF"]]


def _csv_bytes(encoding, rows=ROWS):
    return "\n".join(",".join(r) for r in rows).encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_each_encoding(tmp_path, encoding):
    p = tmp_path / f"f_{encoding}.csv"
    p.write_bytes(_csv_bytes(encoding))
    t = read_table(p)
    assert list(t.frame.columns) == ["基金代码", "基金简称"]
    assert t.frame["基金简称"].tolist() == ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]


def test_mixed_encodings_are_decoded_line_by_line(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_bytes(_csv_bytes("utf-8", ROWS[:2]) + b"\n" + "510300,华泰柏瑞沪深300ETF".encode("gbk"))
    t = read_table(p)
    assert t.frame["基金简称"].tolist() == ["华夏国证半导体芯片ETF", "华泰柏瑞沪深300ETF"]
    assert any("mixed encodings" in w for w in t.warnings)


def test_values_are_kept_as_text(tmp_path):
    p = tmp_path / "codes.csv"
    p.write_text("基金代码,基金简称,x\n000001,华夏成长混合,NA\n", encoding="utf-8")
    f = read_table(p).frame
    assert f.iloc[0].tolist() == ["000001", "华夏成长混合", "NA"]


def test_xlsx_and_parquet_round_trip(tmp_path):
    df = pd.DataFrame(ROWS[1:], columns=ROWS[0])
    for ext in ("xlsx", "parquet", "csv"):
        p = tmp_path / f"r.{ext}"
        write_table(df, p)
        assert read_table(p).frame.values.tolist() == df.values.tolist()


def test_merged_title_row_in_excel_is_skipped(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["新发基金列表 2026-11"])
    ws.merge_cells("A1:B1")
    for r in ROWS:
        ws.append(r)
    p = tmp_path / "merged.xlsx"
    wb.save(p)
    t = read_table(p)
    assert list(t.frame.columns) == ["基金代码", "基金简称"] and len(t.frame) == 2
    assert t.header_row == 1


def test_formulas_are_written_as_text(tmp_path):
    df = pd.DataFrame({"基金简称": ["=1+1", "@SUM(A1)"]})
    p = tmp_path / "f.xlsx"
    write_table(df, p)
    import openpyxl

    ws = openpyxl.load_workbook(p).active
    assert ws["A2"].value == "=1+1" and ws["A2"].data_type == "s"


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"\x00\x01\x02binary\x00", "binary file"),
    (b"   \n\n", "empty file"),
])
def test_unreadable_files(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as e:
        read_table(p)
    assert "bad.csv" in str(e.value)


def test_not_a_workbook(tmp_path):
    p = tmp_path / "fake.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="fake.xlsx: not a readable XLSX workbook"):
        read_table(p)


def test_atomic_write_leaves_no_partial_file(tmp_path):
    df = pd.DataFrame({"a": ["x"], "a ": ["y"]}).rename(columns={"a ": "a"})
    p = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="duplicate column names"):
        write_table(df, p)
    assert list(tmp_path.iterdir()) == []

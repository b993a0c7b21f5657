"""Display columns: a Chinese character takes two, tables and wrapping count columns."""
from __future__ import annotations

from guardroom.console import cols
from guardroom.console.render import fit, kv, table


def test_width_counts_wide_characters_twice():
    assert cols.width("防区") == 4
    assert cols.width("zone 防区") == 9
    assert cols.ljust("防区", 6) == "防区  "
    assert cols.clip("紧急报警按钮", 7) == "紧急报~"


def test_wrap_breaks_chinese_between_characters_within_the_width():
    text = "防区“前门”报警：紧急报警按钮被按下，请立即处理 and some english here"
    lines = cols.wrap(text, 20)
    assert all(cols.width(line) <= 20 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_table_aligns_columns_with_chinese_cells():
    rows = [("panic_reception", "紧急", "正常"), ("door", "出入口", "触发")]
    lines = table(["防区", "类型", "状态"], rows)
    col2 = {line.index(line.split()[1]) for line in lines[2:]}
    starts = [cols.width(line[:line.index(line.split()[1])]) for line in lines[2:]]
    assert len(set(starts)) == 1, lines
    assert col2


def test_long_chinese_lines_fit_79_columns():
    long = "未恢复正常的防区：" + "北门周界对射探测器" * 10
    for line in fit(long) + kv([("说明", long)]) + table(["防区", "备注"], [("a", long)]):
        assert cols.width(line) <= 79, line

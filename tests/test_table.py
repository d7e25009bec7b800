from celerytop.formatting import display_width
from celerytop.ui import table
from celerytop.ui.panes import TASK_COLUMNS, WORKER_COLUMNS


def used(widths):
    return sum(widths) + table.GAP * (len(widths) - 1)


def test_layout_fills_the_width_when_a_column_is_uncapped():
    for total in (80, 120, 200):
        assert used(table.layout(TASK_COLUMNS, total)) == total


def test_layout_never_exceeds_the_width_when_every_flexible_column_is_capped():
    for total in (80, 120, 200, 400):
        widths = table.layout(WORKER_COLUMNS, total)
        assert used(widths) <= total and all(w >= 1 for w in widths)
    assert used(table.layout(WORKER_COLUMNS, 80)) == 80


def test_layout_respects_caps_and_gives_the_rest_to_uncapped_columns():
    columns = (table.Column("A", 4, weight=1, maximum=10), table.Column("B", 4, weight=1))
    assert table.layout(columns, 101) == [10, 90]


def test_layout_shrinks_flexible_columns_when_too_narrow():
    widths = table.layout(TASK_COLUMNS, 40)
    assert used(widths) == 40


def test_row_markup_is_exactly_as_wide_as_the_layout():
    widths = table.layout(TASK_COLUMNS, 100)
    cells = [("row", "漢字" * 30)] * len(TASK_COLUMNS)
    text = "".join(part for _style, part in table.row_markup(cells, TASK_COLUMNS, widths))
    assert display_width(text) == 100

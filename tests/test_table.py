from celerytop.present import table
from celerytop.present.columns import TASK_COLUMNS, WORKER_COLUMNS
from celerytop.present.formatting import display_width


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


def worker_content(hostname="alpha@vm", version="py-celery 5.7.0"):
    cells = [("row", " "), ("row", hostname), ("row", "online"), ("row", "3"), ("row", "1234"),
             ("row", "0.50 0.25 0.10"), ("row", "2s"), ("row", version)]
    return table.content_widths(WORKER_COLUMNS, [cells])


def test_columns_are_as_wide_as_their_content_not_their_share_of_the_width():
    content = worker_content()
    for total in (100, 120, 200):
        widths = dict(zip((c.title for c in WORKER_COLUMNS), table.layout(WORKER_COLUMNS, total, content)))
        assert widths["HOSTNAME"] == 12  # its minimum: 'alpha@vm' is 8
        assert widths["VERSION"] == len("py-celery 5.7.0")


def test_a_column_never_exceeds_its_maximum_however_long_its_content():
    widths = table.layout(WORKER_COLUMNS, 200, worker_content(hostname="h" * 100))
    assert widths[1] == WORKER_COLUMNS[1].maximum


def test_the_spare_width_goes_to_args_not_to_name_and_worker():
    cells = [("row", " "), ("row", "387ed050"), ("row", "proj.add"), ("row", "SUCCESS"), ("row", "alpha@vm"),
             ("row", "12:00:00"), ("row", "1.25s"), ("row", "(1, 2)")]
    content = table.content_widths(TASK_COLUMNS, [cells])
    widths = dict(zip((c.title for c in TASK_COLUMNS), table.layout(TASK_COLUMNS, 200, content)))
    assert widths["NAME"] == 10 and widths["WORKER"] == 8  # their minimum: the content is shorter
    assert used(table.layout(TASK_COLUMNS, 200, content)) == 200
    assert widths["ARGS"] == 200 - used([w for t, w in widths.items() if t != "ARGS"]) - table.GAP


def test_when_the_width_runs_short_the_widest_content_gives_way_first():
    long_name = "proj.services.billing.invoices.charge_customer"  # 46
    cells = [("row", " "), ("row", "387ed050"), ("row", long_name), ("row", "SUCCESS"), ("row", "alpha@vm"),
             ("row", "12:00:00"), ("row", "1.25s"), ("row", "(1, 2) " * 40)]
    content = table.content_widths(TASK_COLUMNS, [cells])
    widths = dict(zip((c.title for c in TASK_COLUMNS), table.layout(TASK_COLUMNS, 120, content)))
    assert used(table.layout(TASK_COLUMNS, 120, content)) == 120
    assert widths["WORKER"] == 8  # short content keeps its width
    assert abs(widths["NAME"] - widths["ARGS"]) <= 1  # the two long ones share what is left
    for total in (60, 80, 100):
        assert used(table.layout(TASK_COLUMNS, total, content)) == total


def test_content_widths_count_terminal_columns():
    cells = [[("row", "漢字")], [("row", "abc")]]
    assert table.content_widths([table.Column("X", 1)], cells) == [4]


def test_a_dotted_name_too_long_for_its_column_keeps_its_end():
    columns = (table.Column("NAME", 16, dotted=True), table.Column("ARGS", 10))
    markup = table.row_markup([("row", "proj.services.billing.charge"), ("row", "(1, 2)")], columns, [16, 10])
    assert markup[0] == ("row", "…billing.charge ")

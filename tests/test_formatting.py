import pytest

from celerytop.present import formatting as f


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("plain text", "plain text"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bell\x07", "bell\\x07"),
        ("a\nb", "a\\x0ab"),
        ("tab\there", "tab here"),
        ("c1\x9bcontrol", "c1\\x9bcontrol"),
        ("rtl\u202eoverride", "rtl\\u202eoverride"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("del\x7f", "del\\x7f"),
        ("üñïçødé 漢字", "üñïçødé 漢字"),
    ],
)
def test_sanitize_makes_control_characters_visible(raw, shown):
    assert f.sanitize(raw) == shown


def test_sanitize_keeps_newlines_when_asked_and_escapes_carriage_returns():
    assert f.sanitize("line1\nline2\r\x1b]0;title\x07", keep_newlines=True) == (
        "line1\nline2\\x0d\\x1b]0;title\\x07"
    )


def test_sanitize_limits_huge_values_before_working_on_them():
    shown = f.sanitize("x" * 1_000_000, limit=100)
    assert len(shown) == 100 and shown.endswith("…")


def test_sanitize_non_strings_and_none():
    assert f.sanitize(None) == ""
    assert f.sanitize(42) == "42"


@pytest.mark.parametrize(
    "text, width, expected",
    [
        ("abc", 5, "abc  "),
        ("abcdef", 4, "abc…"),
        ("漢字漢字", 5, "漢字…"),
        ("漢字", 4, "漢字"),
        ("x", 0, ""),
    ],
)
def test_fit_pads_and_clips_to_display_width(text, width, expected):
    assert f.fit(text, width) == expected
    assert f.display_width(f.fit(text, width)) == width


def test_fit_right_aligns():
    assert f.fit("7", 3, "right") == "  7"


@pytest.mark.parametrize(
    "seconds, shown",
    [
        (None, "-"),
        (0.0005, "500µs"),
        (0.25, "250ms"),
        (1.234, "1.23s"),
        (42.0, "42.0s"),
        (125, "2m05s"),
        (3725, "1h02m"),
        (3 * 86400 + 4 * 3600, "3d04h"),
        (-1, "?"),
        ("garbage", "?"),
    ],
)
def test_format_duration(seconds, shown):
    assert f.format_duration(seconds) == shown


def test_estimated_rates_and_durations_are_compact():
    rates = (0.5, 0.05, 0.001, 2, 2.5, 12, 999.4, 1234, 56_000, 3_000_000)
    assert [f.format_rate(r, estimate=True) for r in rates] == [
        "0.5/s", "0.05/s", "<0.01/s", "2/s", "2.5/s", "12/s", "999/s", "1.2k/s", "56k/s", "3M/s"]
    assert [f.format_duration(s, estimate=True) for s in (0.2, 45, 125, 3 * 3600, 5 * 86400)] == [
        "~1 s", "~45 s", "~2 min", "~3 h", "~5 d"]


def test_format_age_counts_whole_seconds():
    assert f.format_age(None) == "-"
    assert f.format_age(0.3) == "now"
    assert f.format_age(3.9) == "3s"
    assert f.format_age(130) == "2m10s"


def test_mask_url_hides_passwords():
    assert f.mask_url("redis://:s3cret@host:6379/0") == "redis://:**@host:6379/0"
    assert "pw" not in f.mask_url("amqp://user:pw@rabbit:5672//")


def test_args_summary_leaves_out_empty_kwargs():
    assert f.args_summary("(1, 2)", "{}") == "(1, 2)"
    assert f.args_summary("()", "{'a': 1}") == "{'a': 1}"
    assert f.args_summary("(1,)", "{'a': 1}") == "(1,) {'a': 1}"
    assert f.args_summary("('\x1b[2J',)", "{}") == "('\\x1b[2J',)"


def test_format_loadavg_tolerates_garbage():
    assert f.format_loadavg([0.5, 1, 2.25]) == "0.50 1.00 2.25"
    assert f.format_loadavg("junk") == "-"
    assert f.format_loadavg(None) == "-"


@pytest.mark.parametrize(
    "name, width, shown",
    [
        ("proj.services.billing.charge", 40, "proj.services.billing.charge" + " " * 12),
        ("proj.services.billing.charge", 28, "proj.services.billing.charge"),
        ("proj.services.billing.charge", 15, "…billing.charge"),  # cut at a dot
        ("proj.services.billing.charge", 16, "…billing.charge "),
        ("proj.services.billing.charge", 14, "…illing.charge"),  # at a dot only half would be left
        ("proj.services.billing.charge", 1, "…"),
        ("no_dots_in_this_long_name", 10, "no_dots_i…"),  # not a dotted name: cut at the end
        ("app.漢字漢字.end", 9, "…漢字.end"),
    ],
)
def test_fit_dotted_cuts_a_long_dotted_name_from_the_start(name, width, shown):
    assert f.fit_dotted(name, width) == shown
    assert f.display_width(f.fit_dotted(name, width)) == width


def test_every_time_formatter_takes_values_that_are_not_times():
    from celerytop.present.columns import coarse_age
    from celerytop.ui.views.detail import clock_ms

    for value in (float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 10 ** 400, "soon", "", [1], {}, True):
        shown = (f.format_clock(value), clock_ms(value), f.format_duration(value),
                 f.format_age(value), coarse_age(value))
        assert all(text in ("?", "-") for text in shown) or shown[3] == "now" and value == -1e308, (value, shown)
    assert f.format_duration(-1) == "?" and f.format_clock_ms(1700000000.123).endswith(".123")

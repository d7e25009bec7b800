import pytest

from celerytop.control import inputs
from celerytop.control.inputs import InputError


@pytest.mark.parametrize("text, value", [("10/s", "10/s"), ("100/m", "100/m"), (" 5/h ", "5/h"), ("2.5", "2.5"),
                                         ("0", "0"), ("", "0")])
def test_rate_limits_in_celerys_forms(text, value):
    assert inputs.rate_limit(text) == value


@pytest.mark.parametrize("text", ["fast", "10/d", "/s", "-1/s", "10 per second"])
def test_bad_rate_limits_explain_the_format(text):
    with pytest.raises(InputError, match="N/s, N/m or N/h"):
        inputs.rate_limit(text)


def test_time_limits():
    assert inputs.time_limits("30 60") == (30.0, 60.0)
    assert inputs.time_limits("- 60") == (None, 60.0)
    for bad, message in (("60 30", "below the hard"), ("30", "soft and the hard"), ("a b", "not a number")):
        with pytest.raises(InputError, match=message):
            inputs.time_limits(bad)


def test_signals():
    assert inputs.signal_name("") == "TERM"
    assert inputs.signal_name("sigkill") == "KILL"
    with pytest.raises(InputError, match="TERM, KILL"):
        inputs.signal_name("STOP")


def test_pool_sizes():
    assert inputs.count("") == 1 and inputs.count("3") == 3
    assert inputs.autoscale("10,3") == (10, 3)
    for bad in ("3,10", "x", "10"):
        with pytest.raises(InputError):
            inputs.autoscale(bad)
    with pytest.raises(InputError):
        inputs.count("0")


def test_calls_are_recovered_only_from_exact_literals():
    assert inputs.call_from_reprs("(1, 'a', [2])", "{'k': None}") == ((1, "a", [2]), {"k": None})
    assert inputs.call_from_reprs("[1, 2]", "{}") == ((1, 2), {})
    for args in ("(<object at 0x1>,)", "(1, 2"):
        with pytest.raises(InputError, match="not Python literals"):
            inputs.call_from_reprs(args, "{}")
    with pytest.raises(InputError, match="truncated"):
        inputs.call_from_reprs("('" + "a" * 1020 + "...', 2)", "{}")

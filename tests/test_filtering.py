import pytest

from celerytop.filtering import FilterError, parse

TASK = {
    "uuid": "0f3c2a10-aaaa-bbbb-cccc-123456789abc",
    "name": "billing.charge",
    "state": "FAILURE",
    "worker": "alpha@host1",
    "args": "(42, 'visa')",
    "kwargs": "{'retry': True}",
    "result": "",
    "exception": "ValueError('card expired')",
}


@pytest.mark.parametrize(
    "query, hit",
    [
        ("", True),
        ("billing", True),
        ("BILLING", True),
        ("expired", True),
        ("visa", True),
        ("0f3c2a10", True),
        ("nothing-like-this", False),
        ("state:FAILURE", True),
        ("state:failure", True),
        ("state:SUCCESS", False),
        ("state:FAIL*", True),
        ("name:billing.*", True),
        ("name:billing", False),
        ("name:*.charge", True),
        ("worker:alpha*", True),
        ("worker:beta*", False),
        ("!state:SUCCESS", True),
        ("-state:FAILURE", False),
        ("!billing", False),
        ("billing state:FAILURE worker:alpha*", True),
        ("billing state:SUCCESS", False),
        ("exception:ValueError*", True),
        ("kwargs:*retry*", True),
        ('"card expired"', True),
        ("id:0f3c*", True),
        ("12:30", False),
    ],
)
def test_filter_language(query, hit):
    assert parse(query).matches(TASK) is hit


@pytest.mark.parametrize(
    "query, message",
    [
        ("colour:red", "unknown field 'colour'"),
        ("!", "need a term"),
        ("state:", "needs a value"),
        ('"unclosed', "close the quote"),
    ],
)
def test_bad_filters_explain_themselves(query, message):
    with pytest.raises(FilterError, match=message):
        parse(query)


def test_empty_filter_is_falsy_and_keeps_its_text():
    assert not parse("  ")
    assert parse(" state:FAILURE ").text == "state:FAILURE"

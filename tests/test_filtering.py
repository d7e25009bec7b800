import fnmatch
import itertools
import re

import pytest

from benchmarks import workload
from celerytop.model.cluster import ClusterModel
from celerytop.model.filtering import FIELDS, FREE_TEXT_FIELDS, FilterError, parse
from tests.events import event

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


# -- the model's compiled filter against the language written plainly ----------------------------------------


def plain_matches(query, values):
    """The filter language as the module docstring states it: fnmatch for fields, substring for free text."""
    for term in parse(query).terms:
        if term.field is None:
            hit = any(term.pattern.lower() in values[f].lower() for f in FREE_TEXT_FIELDS)
        else:
            hit = re.fullmatch(fnmatch.translate(term.pattern), values[FIELDS[term.field]], re.I | re.S) is not None
        if hit == term.negated:
            return False
    return True


def shown_values(model, uuid):
    detail = model.task_detail(uuid)
    return {"uuid": uuid, "name": detail.name, "state": detail.state, "worker": detail.worker,
            "args": detail.args, "kwargs": detail.kwargs, "result": detail.result, "exception": detail.exception}


def test_the_models_filter_keeps_exactly_the_tasks_the_language_describes():
    model = ClusterModel(max_tasks=10 ** 6, max_failures=10 ** 6)
    for e in itertools.islice(workload.receiver_events(workload.stream(seed=3), seed=3), 6000):
        model.on_event(e)
    model.on_event(event("task-received", uuid="Odd-1", name="Proj.Ünïcode", args="('a\0b', 'CAFÉ')", kwargs="{}"))
    everything = {uuid: shown_values(model, uuid) for uuid in model.query()}
    assert len(everything) > 1000
    sample = everything[model.query()[-1]]  # the oldest task: pieces of it make queries that hit
    name, worker, args = sample["name"], sample["worker"], sample["args"]
    queries = [
        name, name.upper(), f"name:{name}", f"name:{name[:5]}*", f"name:*{name[-4:]}", f"name:*{name[3:8]}*",
        f"name:{name[:3]}?{name[4:]}", f"name:*{name[:4]}", f"name:{name[-4:]}*", f"name:?{name}",
        f"name:*?{name[2:]}", f"worker:{worker[:-1]}*", f"!worker:{worker}", "state:FAILURE",
        "state:fail*", "-state:SUCCESS", f"args:*{args[5:12]}*", f"{args[5:12].upper()}", "kwargs:{*}",
        "kwargs:*[a-c]*", "result:*ok*", "exception:*Error*", "*", "args:*", f"{sample['uuid'][:6]}",
        f"id:{sample['uuid'][:6]}*", "cafÉ", "args:*café*", "name:proj.ü*", "ünïcode", "zzz-not-there",
        f"{name} !state:FAILURE worker:{worker[:4]}*", "a\0b",
    ]
    hits = 0
    for query in queries:
        found = set(model.query(parse(query)))
        expected = {uuid for uuid, values in everything.items() if plain_matches(query, values)}
        assert found == expected, query
        hits += bool(found)
    assert hits >= len(queries) - 6, "the queries must select something to prove anything"


def test_free_text_searches_exactly_the_free_text_fields():
    model = ClusterModel()
    model.on_event(event("task-received", hostname="wmark@host", uuid="umark-1", name="nmark.task",
                         args="('amark',)", kwargs="{'k': 'kmark'}", queue="qmark", routing_key="rmark"))
    model.on_event(event("task-failed", hostname="wmark@host", uuid="umark-1", exception="emark()", traceback="tmark"))
    model.on_event(event("task-received", hostname="w2@host", uuid="umark-2", name="other", args="()", kwargs="{}"))
    model.on_event(event("task-succeeded", hostname="w2@host", uuid="umark-2", result="'smark'", runtime=0.1))
    found = {marker: model.query(parse(marker)) for marker in
             ("umark-1", "nmark", "wmark", "amark", "kmark", "emark", "smark", "qmark", "rmark", "tmark")}
    assert found == {"umark-1": ["umark-1"], "nmark": ["umark-1"], "wmark": ["umark-1"], "amark": ["umark-1"],
                     "kmark": ["umark-1"], "emark": ["umark-1"], "smark": ["umark-2"],
                     "qmark": [], "rmark": [], "tmark": []}
    assert {"uuid", "name", "worker", "args", "kwargs", "result", "exception"} == set(FREE_TEXT_FIELDS)


# -- queue: the queue a task was routed to --------------------------------------------------------------------


def routed_model():
    """Tasks sent to known queues, one sent with only a routing key, one never seen sent (no route at all)."""
    model = ClusterModel()
    sent = [("q-bill-1", "billing", "billing.charge"), ("q-bill-2", "billing.eu", "billing.eu"),
            ("q-mail-1", "mail", "mail.send"), ("q-CASE-1", "Reports", "reports")]
    for uuid, queue, routing_key in sent:
        model.on_event(event("task-sent", uuid=uuid, name="proj.task", args="()", kwargs="{}", queue=queue,
                             routing_key=routing_key, exchange=""))
    # no queue known (sent to an exchange by key): the routing key stands for it
    model.on_event(event("task-sent", uuid="q-key-1", name="proj.task", args="()", kwargs="{}", queue=None,
                         routing_key="billing.us", exchange="topic"))
    model.on_event(event("task-received", uuid="q-none-1", name="proj.task", args="()", kwargs="{}",
                         hostname="w@h"))
    # the worker's events keep the route the task-sent event gave
    model.on_event(event("task-received", uuid="q-mail-1", name="proj.task", args="()", kwargs="{}", hostname="w@h"))
    model.on_event(event("task-succeeded", uuid="q-mail-1", result="None", runtime=0.1, hostname="w@h"))
    return model


@pytest.mark.parametrize(
    "query, expected",
    [
        ("queue:billing", {"q-bill-1"}),  # the queue's name, whole: not billing.eu
        ("queue:billing*", {"q-bill-1", "q-bill-2", "q-key-1"}),  # q-key-1 by its routing key, no queue known
        ("queue:billing.us", {"q-key-1"}),
        ("queue:billing.charge", set()),  # a routing key does not count when the queue is known
        ("queue:mail", {"q-mail-1"}),  # still there once the worker took and finished it
        ("queue:reports", {"q-CASE-1"}),  # case-insensitive, as every field
        # a glob of the whole text, as every field: * matches no route too, ?* only a route
        ("queue:*", {"q-bill-1", "q-bill-2", "q-mail-1", "q-CASE-1", "q-key-1", "q-none-1"}),
        ("queue:?*", {"q-bill-1", "q-bill-2", "q-mail-1", "q-CASE-1", "q-key-1"}),
        ("!queue:billing*", {"q-mail-1", "q-CASE-1", "q-none-1"}),
        ("queue:mail state:SUCCESS", {"q-mail-1"}),
        ("queue:mail state:FAILURE", set()),
        ("queue:nowhere", set()),
    ],
)
def test_queue_term_selects_the_tasks_routed_to_the_queue(query, expected):
    assert set(routed_model().query(parse(query))) == expected


def test_queue_term_needs_a_value_and_is_named_when_a_field_is_unknown():
    with pytest.raises(FilterError, match="'queue:' needs a value"):
        parse("queue:")
    with pytest.raises(FilterError, match="queue"):
        parse("colour:red")
    assert parse("QUEUE:Mail").terms[0].field == "queue"

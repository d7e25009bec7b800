"""The command registry is the one place a command is declared: everything else reads it.

Its handlers resolve on the real MonitorApp, every key names a declared command,
read-only mode refuses exactly the commands that change the cluster, they ask
first exactly when declared so, and the help overlay and the man page list
exactly the declared bindings.  The app is driven as tests/test_key_safety.py
drives it (a SpyControl: celerytop's Control, recording instead of sending).
"""

import pytest

from celerytop import manpage
from celerytop.control import cmdline, verbs
from celerytop.control.control import Control, ReadOnlyError
from celerytop.events.capture import ConnectionStatus
from celerytop.model.cluster import ClusterModel
from celerytop.ui.app import MonitorApp
from celerytop.ui.keys import commands
from celerytop.ui.keys.keymap import CONTEXTS, DEFAULT_BINDINGS, Keymap, key_label
from celerytop.ui.views.help import HelpOverlay
from tests.test_key_safety import make_app, press, put_in_context

CLUSTER_BINDINGS = [b for b in DEFAULT_BINDINGS if commands.COMMANDS[b.command].changes_cluster]

#: What to type at the prompt a cluster key opens (Enter alone takes a prefilled value).
ANSWERS = {"task.rate_limit": "10/m", "task.time_limit": "10 20", "worker.autoscale": "4,2",
           "worker.add_consumer": "q1", "worker.cancel_consumer": "q1"}


def binding_id(binding):
    return f"{binding.context}:{binding.key}"


def test_every_command_resolves_to_a_method_of_the_app_and_has_help():
    bound = commands.bind(MonitorApp(ClusterModel(), ConnectionStatus()))
    assert set(bound) == set(commands.COMMANDS)
    for name, command in commands.COMMANDS.items():
        assert callable(bound[name]), name
        assert isinstance(command.help, str) and command.help.strip(), name


def test_every_command_declares_its_policy_and_agrees_with_its_verb():
    for name, command in commands.COMMANDS.items():
        assert isinstance(command.asks_first, bool), name
        if not command.verb:
            assert not command.changes_cluster and not command.asks_first, name
            continue
        verb = verbs.VERBS[command.verb]  # a verb the table declares
        assert command.changes_cluster == verb.changes_cluster, name
        if verb.asks_first:  # what the prompt confirms, the key confirms too
            assert command.asks_first, name
        if command.asks_first and command.verb in cmdline.CONTROL:  # and what a key confirms, the prompt too
            assert verb.asks_first, name


def test_every_verb_the_prompt_sends_is_declared():
    assert set(cmdline.CONTROL) <= set(verbs.VERBS)


def test_a_handler_that_does_not_resolve_stops_the_app_at_startup(monkeypatch):
    monkeypatch.setitem(commands.COMMANDS, "broken.command",
                        commands.Command("broken.command", "Breaks", handler="actions.no_such_method"))
    with pytest.raises(ValueError, match="broken.command.*actions.no_such_method"):
        MonitorApp(ClusterModel(), ConnectionStatus())


def test_every_binding_names_a_declared_command_and_every_command_has_a_key():
    bound = {binding.command for binding in DEFAULT_BINDINGS}
    assert bound <= set(commands.COMMANDS)
    assert set(commands.COMMANDS) <= bound


@pytest.mark.parametrize("binding", DEFAULT_BINDINGS, ids=binding_id)
def test_read_only_refuses_exactly_the_keys_that_change_the_cluster(binding):
    app, _uuids = make_app(read_only=True)
    put_in_context(app, binding.context)
    press(app, binding.key)
    command = commands.COMMANDS[binding.command]
    assert app.control.sent == []
    if command.changes_cluster:
        assert "Read-only mode:" in app._message and "changes the cluster and is disabled" in app._message
        assert app.stack.dialog is None and app.stack.prompt is None
    else:
        assert "Read-only mode" not in app._message, f"{binding.key!r} ({binding.command}) was refused"


def test_control_refuses_exactly_the_verbs_that_change_the_cluster():
    control = Control(None, read_only=True)
    try:
        for name, verb in verbs.VERBS.items():
            if verb.changes_cluster:
                with pytest.raises(ReadOnlyError):
                    control.refuse_if_read_only(name)
            else:
                control.refuse_if_read_only(name)
        with pytest.raises(ReadOnlyError):
            control.refuse_if_read_only("a_verb_nobody_declared")
    finally:
        control.close()


@pytest.mark.parametrize("binding", CLUSTER_BINDINGS, ids=binding_id)
def test_a_cluster_key_asks_first_exactly_when_its_command_says_so(binding):
    app, _uuids = make_app()
    put_in_context(app, binding.context)
    press(app, binding.key)
    if app.stack.prompt is not None:
        for key in ANSWERS.get(binding.command, ""):
            press(app, key)
        press(app, "enter")
    if commands.COMMANDS[binding.command].asks_first:
        assert app.stack.dialog is not None and app.control.sent == [], app._message
    else:
        assert app.stack.dialog is None and app.control.sent, app._message


@pytest.mark.parametrize("typed, asks", [(name, verb.asks_first) for name, verb in verbs.VERBS.items()
                                         if name in cmdline.CONTROL])
def test_the_prompt_asks_first_exactly_for_the_verbs_declared_so(typed, asks):
    app, uuids = make_app()
    line = {"rate_limit": "control rate_limit proj.add 10/m", "time_limit": "control time_limit proj.add 10 20",
            "revoke": f"control revoke {uuids[0]}", "terminate": f"control terminate KILL {uuids[0]}",
            "pool_grow": "control pool_grow 1", "pool_shrink": "control pool_shrink 1",
            "autoscale": "control autoscale 4 2", "add_consumer": "control add_consumer q1",
            "cancel_consumer": "control cancel_consumer q1"}.get(typed, f"control {typed}")
    app.console.run(line)
    assert (app.stack.dialog is not None) == asks, app._message
    assert bool(app.control.sent) == (not asks), app._message


def expected_key_rows():
    """{context title: [(keys, help)]}, in CONTEXTS order, straight from the bindings and the declarations."""
    rows = {title: {} for title in CONTEXTS.values()}
    for binding in DEFAULT_BINDINGS:
        section = rows.setdefault(CONTEXTS[binding.context], {})
        asks = " (asks first)" if commands.COMMANDS[binding.command].asks_first else ""
        keys, text = section.setdefault(binding.command, ([], binding.help + asks))
        keys.append(key_label(binding.key))
    return {title: [(", ".join(keys), text) for keys, text in section.values()]
            for title, section in rows.items() if section}


def test_the_help_overlay_lists_exactly_the_declared_bindings():
    lines = [getattr(widget, "text", "") for widget in HelpOverlay(Keymap()).listbox.body]
    shown, section = {}, None
    for line in lines:
        if line in CONTEXTS.values():
            section = shown.setdefault(line, [])
        elif line in (title for title, _rows in cmdline.reference()):
            section = None
        elif line and section is not None:
            section.append(line)
    expected = {title: [f"{keys}  {text}" for keys, text in rows] for title, rows in expected_key_rows().items()}
    assert list(shown.items()) == list(expected.items())


def test_the_man_page_lists_exactly_the_declared_bindings():
    page = manpage.render()
    keys_section = page.split("\n.SH KEYS\n", 1)[1].split("\n.SH COMMANDS\n", 1)[0].splitlines()[1:]
    expected = []
    for title, rows in expected_key_rows().items():
        expected.append(".SS " + manpage.roff(title))
        for keys, text in rows:
            expected += [".TP", ".B " + manpage.roff(keys), manpage.roff(text)]
    assert keys_section == expected

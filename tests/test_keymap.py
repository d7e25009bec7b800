import pytest

from celerytop.events.capture import ConnectionStatus
from celerytop.model.cluster import ClusterModel
from celerytop.present import palettes
from celerytop.ui.app import MonitorApp
from celerytop.ui.keys import commands
from celerytop.ui.keys.keymap import CONTEXTS, DEFAULT_BINDINGS, Binding, Keymap, key_label


def test_every_default_binding_names_a_registered_command():
    for binding in DEFAULT_BINDINGS:
        assert binding.command in commands.COMMANDS, binding
        assert binding.context in CONTEXTS, binding


def test_the_ui_has_a_handler_for_every_command():
    app = MonitorApp(ClusterModel(), ConnectionStatus())
    assert set(commands.bind(app)) == set(commands.COMMANDS)


def test_no_key_is_bound_twice_in_one_context():
    seen = set()
    for binding in DEFAULT_BINDINGS:
        assert (binding.context, binding.key) not in seen, binding
        seen.add((binding.context, binding.key))


def test_unknown_commands_and_contexts_are_rejected():
    with pytest.raises(ValueError):
        Keymap([Binding("x", "global", "no.such.command", "")])
    with pytest.raises(ValueError):
        Keymap([Binding("x", "nowhere", "quit", "")])


def test_resolution_prefers_the_most_specific_context():
    keymap = Keymap()
    assert keymap.resolve(("help", "list", "global"), "q") == "help.close"
    assert keymap.resolve(("tasks", "list", "global"), "q") == "quit"
    assert keymap.resolve(("tasks", "list", "global"), "j") == "cursor.down"
    assert keymap.resolve(("tasks", "list", "global"), "Z") is None


def test_help_groups_keys_of_one_command_together():
    sections = dict(Keymap().grouped())
    assert ("j, Down", "Down one row") in sections["Lists (workers, tasks, help)"]
    assert ("?, F1", "Show this help") in sections["Everywhere"]


def test_hints_skip_keys_shadowed_by_a_more_specific_context():
    hints = Keymap().hints(("help", "list", "global"))
    assert ("Esc", "close") in hints
    assert ("q", "quit") not in hints


@pytest.mark.parametrize("key, label", [("page down", "PgDn"), ("shift tab", "Shift-Tab"), ("f1", "F1"),
                                        ("ctrl c", "Ctrl-C"), ("G", "G")])
def test_key_labels(key, label):
    assert key_label(key) == label


@pytest.mark.parametrize("theme", palettes.THEMES)
def test_every_palette_defines_every_style(theme):
    defined = {entry[0] for entry in palettes.palette(theme)}
    assert set(palettes.style_names()) <= defined


def test_every_style_the_ui_uses_is_in_the_palette():
    from celerytop.ui.widgets.panes import FOCUS_MAP

    defined = {entry[0] for entry in palettes.palette()}
    assert set(FOCUS_MAP.values()) <= defined
    for state in ("SUCCESS", "FAILURE", "RETRY", "STARTED", "REVOKED", "WHATEVER"):
        assert palettes.state_style(state) in defined

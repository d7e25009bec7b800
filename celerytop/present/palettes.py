"""Named styles, in colour and in monochrome.

Each style is (name, foreground, background, mono): the 16-colour names work
on any colour terminal, and the mono column (bold, underline, standout)
carries meaning where colour is off (``--colors mono`` or NO_COLOR).
Task states have a style each; a focused row keeps its state colour on a
highlighted background.
"""

from __future__ import annotations

STATE_COLOURS = {
    "PENDING": "light gray",
    "SENT": "light gray",
    "RECEIVED": "light blue",
    "STARTED": "dark cyan",
    "SUCCESS": "dark green",
    "FAILURE": "dark red",
    "RETRY": "yellow",
    "REVOKED": "dark magenta",
    "REJECTED": "light red",
}
STATE_MONO = {"FAILURE": "bold,standout", "RETRY": "bold", "STARTED": "underline", "REVOKED": "bold"}

FOCUS_BG = "dark gray"

_BASE = (
    ("default", "default", "default", ""),
    ("header", "white", "dark blue", "standout"),
    ("header.ok", "light green,bold", "dark blue", "bold,standout"),
    ("header.warn", "yellow,bold", "dark blue", "bold,standout"),
    ("header.error", "light red,bold", "dark blue", "bold,standout"),
    ("header.dim", "light gray", "dark blue", "standout"),
    ("pane.title", "black", "light gray", "standout"),
    ("pane.title.focus", "white,bold", "dark cyan", "bold,standout"),
    ("column.head", "light gray,bold", "default", "bold"),
    ("row", "default", "default", ""),
    ("row.focus", "white,bold", FOCUS_BG, "standout"),
    ("worker.online", "dark green", "default", "bold"),
    ("worker.offline", "dark red", "default", "standout"),
    ("task.lost", "light red,bold", "default", "bold,standout"),  # a lost task (model/stuckness.py)
    ("task.stuck", "yellow,bold", "default", "bold,underline"),  # a stuck task
    ("status", "black", "light gray", "standout"),
    ("status.key", "dark blue,bold", "light gray", "bold,standout"),
    ("status.message", "black", "light gray", "standout"),
    ("status.warn", "yellow,bold", "default", "bold"),
    ("prompt", "white", "dark blue", "standout"),
    ("prompt.caption", "yellow,bold", "dark blue", "bold,standout"),
    ("mark", "yellow,bold", "default", "bold,underline"),
    ("traceback", "default", "default", ""),
    ("traceback.error", "light red,bold", "default", "bold,standout"),
    ("help", "default", "default", ""),
    ("help.title", "white,bold", "dark blue", "bold,standout"),
    ("help.section", "yellow,bold", "default", "bold,underline"),
    ("help.key", "light cyan,bold", "default", "bold"),
)


def style_names():
    """Every style name the UI may use, including per-state and focused variants."""
    names = [entry[0] for entry in _BASE]
    names += [state_style(s) for s in STATE_COLOURS] + ["state.other"]
    names += [focused(n) for n in list(names) if not n.endswith(".focus")]
    return names


def state_style(state: str) -> str:
    return f"state.{state}" if state in STATE_COLOURS else "state.other"


def focused(style: str) -> str:
    return style if style.endswith(".focus") else style + ".focus"


def _with_focus(entries):
    out = []
    for name, fg, bg, mono in entries:
        out.append((name, fg, bg, mono))
        if not name.endswith(".focus") and focused(name) not in {e[0] for e in entries}:
            focus_mono = mono if "standout" in mono else ",".join(filter(None, (mono, "standout")))
            out.append((focused(name), fg if fg != "default" else "white", FOCUS_BG, focus_mono))
    return out


def palette(theme: str = "default"):
    """An urwid palette list for ``theme`` ('default' or 'mono')."""
    entries = list(_BASE)
    entries += [(state_style(s), c, "default", STATE_MONO.get(s, "")) for s, c in STATE_COLOURS.items()]
    entries.append(("state.other", "default", "default", ""))
    entries = _with_focus(entries)
    if theme == "mono":
        return [(name, mono or "default", "default", mono) for name, _fg, _bg, mono in entries]
    return entries


THEMES = ("default", "mono")

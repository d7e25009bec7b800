import os
import subprocess

import click

from celerytop import manpage
from celerytop.cli import command
from celerytop.keymap import Keymap

MAN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "man", "celerytop.1")


def committed():
    with open(MAN, encoding="utf-8") as fh:
        return fh.read()


def test_committed_man_page_is_generated_from_the_code():
    assert committed() == manpage.render(), "run: python -m celerytop.manpage > man/celerytop.1"


def test_every_option_is_documented():
    page = committed()
    for param in command.params:
        if isinstance(param, click.Option):
            for name in param.opts:
                assert manpage.roff(name) in page, name


def test_every_key_is_documented():
    page = committed()
    for _title, rows in Keymap().grouped():
        for keys, help_text in rows:
            assert manpage.roff(keys) in page and manpage.roff(help_text) in page


def test_man_renders_without_warnings():
    result = subprocess.run(["man", "--warnings", "-l", MAN], capture_output=True, text=True,
                            env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert result.returncode == 0
    assert result.stderr == ""
    assert "celerytop - top-like monitor" in result.stdout.replace("\u2010", "-")


def test_readme_mentions_every_key_and_option():
    with open(os.path.join(os.path.dirname(MAN), "..", "README.rst"), encoding="utf-8") as fh:
        readme = fh.read()
    for _title, rows in Keymap().grouped():
        for keys, _help in rows:
            for key in keys.split(", "):
                assert key in readme, f"README.rst does not mention the key {key!r}"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.opts[-1] in readme, f"README.rst does not mention {param.opts[-1]}"


def test_every_prompt_command_is_in_the_man_page_and_the_help():
    from celerytop import cmdline
    from celerytop.ui.help import help_lines

    page = committed()
    shown = "\n".join(line.text for line in help_lines(Keymap()))
    for _title, rows in cmdline.reference():
        for usage, help_text in rows:
            assert manpage.roff(usage) in page and manpage.roff(help_text) in page, usage
            assert usage in shown and help_text in shown, usage

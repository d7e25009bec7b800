import os
import re
import subprocess

import click

from celerytop import manpage
from celerytop.cli import command
from celerytop.ui.keys.keymap import Keymap

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


README = os.path.join(os.path.dirname(MAN), "..", "README.rst")


def readme_key_table():
    """{key: [description of each README row listing it]}, from the table under 'Keys'.

    The table is an RST simple table: a border, one row per line (a blank key
    column continues the row above), a border.
    """
    with open(README, encoding="utf-8") as fh:
        lines = fh.read().split("\nKeys\n----", 1)[1].splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ +=+", line)]
    second_column = lines[borders[0]].index(" =") + 1
    rows = []
    for line in lines[borders[0] + 1:borders[1]]:
        keys, text = line[:second_column].strip(), line[second_column:].strip()
        if keys:
            rows.append((keys, [text]))
        else:
            rows[-1][1].append(text)
    table = {}
    for keys, text in rows:
        for key in keys.split(", "):
            table.setdefault(key.replace("\\*", "*"), []).append(" ".join(text))
    return table


def keymap_keys():
    """{key label: [help of each binding]}, as the help overlay and the man page list them."""
    keys = {}
    for _title, rows in Keymap().grouped():
        for labels, help_text in rows:
            for key in labels.split(", "):
                keys.setdefault(key, []).append(help_text)
    return keys


def words(text):
    filler = {"the", "and", "one", "its", "this", "that", "with", "from", "for", "first", "last"}
    return {word for word in re.findall(r"[a-z]+", text.lower()) if len(word) > 2 and word not in filler}


def test_readme_key_table_has_a_row_for_every_key_and_no_other():
    table, keymap = readme_key_table(), keymap_keys()
    assert sorted(set(keymap) - set(table)) == [], "keys missing from README.rst's key table"
    assert sorted(set(table) - set(keymap)) == [], "README.rst's key table lists keys celerytop does not bind"


def test_each_readme_key_row_describes_what_the_key_does():
    # The README words the rows for people (several keys to a row), so this
    # only asks each key's row to share a word with the key's own help text.
    table, keymap = readme_key_table(), keymap_keys()
    for key in set(table) & set(keymap):
        readme_words, help_words = words(" ".join(table[key])), words(" ".join(keymap[key]))
        assert readme_words & help_words, f"README row for {key!r}: {table[key]} vs the keymap's {keymap[key]}"


def test_readme_mentions_every_option():
    with open(README, encoding="utf-8") as fh:
        readme = fh.read()
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.opts[-1] in readme, f"README.rst does not mention {param.opts[-1]}"


def test_every_prompt_command_is_in_the_man_page_and_the_help():
    from celerytop.control import cmdline
    from celerytop.ui.views.help import help_lines

    page = committed()
    shown = "\n".join(line.text for line in help_lines(Keymap()))
    for _title, rows in cmdline.reference():
        for usage, help_text in rows:
            assert manpage.roff(usage) in page and manpage.roff(help_text) in page, usage
            assert usage in shown and help_text in shown, usage

"""The install a user does, as README.rst gives it, works against the live brokers.

The test venv has the ``test`` extra, whose packages (pytest brings
``packaging``) once hid that ``pip install '.[redis]'`` gave a celerytop that
could not use Redis.  Here each install goes into a fresh venv, with the
command README.rst prints and without the test extra, from a copy of the
source tree (so the checkout gets no build/ or egg-info), and the installed
``celerytop --batch`` must connect to the live broker.  pip's cache is used:
the point is which packages get installed, not downloading them again.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.live import BROKER_URLS, REPO_ROOT, selected_brokers

README = REPO_ROOT / "README.rst"


def readme_text():
    return " ".join(README.read_text(encoding="utf-8").split())


def readme_plain_install():
    """The fresh-machine line: ``.venv/bin/pip install . && .venv/bin/celerytop --demo``."""
    match = re.search(r"\.venv/bin/(pip install [^&]+?) && \.venv/bin/celerytop --demo", readme_text())
    assert match, "README.rst no longer gives the plain install line this test follows"
    return shlex.split(match.group(1))


def readme_redis_install():
    """The Redis instruction: ``pip install '.[redis]'``."""
    match = re.search(r"install the ``redis`` extra \(``(pip install [^`]+)``", readme_text())
    assert match, "README.rst no longer gives the Redis install instruction this test follows"
    return shlex.split(match.group(1))


# what the README tells a user to install for each broker the live tests use
INSTALLS = {"redis": readme_redis_install, "rabbitmq": readme_plain_install}


def user_env():
    """A user's shell: none of the test run's PYTHONPATH, venv or celerytop test variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CELERYTOP_"))}


def run(argv, cwd, timeout):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, env=user_env(),
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def source_copy(tmp_path):
    """The source tree as a clone has it, minus anything built or installed."""
    copy = tmp_path / "celerytop-src"
    shutil.copytree(REPO_ROOT, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    return copy


def install_as_readme_says(pip_args, source_copy, venv):
    """``python3 -m venv`` and the README's pip command, run in the source folder as a user would."""
    made = run([sys.executable, "-m", "venv", venv], cwd=source_copy, timeout=120)
    assert made.returncode == 0, made.stderr
    pip = venv / "bin" / pip_args[0]
    installed = run([pip, *pip_args[1:]], cwd=source_copy, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]


@pytest.mark.parametrize("broker", [name for name in INSTALLS if name in selected_brokers()])
def test_readme_install_runs_batch_against_the_live_broker(broker, source_copy, tmp_path):
    pip_args = INSTALLS[broker]()
    venv = tmp_path / "venv"
    install_as_readme_says(pip_args, source_copy, venv)

    # a user's install: celerytop from the venv's site-packages, nothing the test extra brings
    where = run([venv / "bin" / "python", "-c", "import celerytop; print(celerytop.__file__)"],
                cwd=tmp_path, timeout=60)
    assert where.stdout.startswith(str(venv)), where
    assert run([venv / "bin" / "python", "-c", "import pytest"], cwd=tmp_path, timeout=60).returncode != 0

    url = BROKER_URLS[broker]
    result = run([venv / "bin" / "celerytop", "-b", url, "--batch", "--width", "120"], cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), f"{' '.join(pip_args)}: {result.stderr}"
    header = result.stdout.splitlines()[0]
    assert f"broker {url.replace('guest:guest', 'guest:**')}" in header and "● connected" in header, result.stdout
    assert "Workers" in result.stdout and "Tasks" in result.stdout

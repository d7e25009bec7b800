"""A broker transport whose packages are missing is reported as that, in one line, with the fix.

How a missing package is simulated: every package is installed in the test venv,
so each test runs the real ``celerytop`` in a subprocess with a ``sitecustomize``
module on PYTHONPATH that installs an import hook making ``import <name>`` fail
with ModuleNotFoundError for the names in CELERYTOP_TEST_HIDE.  That is exactly
what Python raises when the package is not installed; nothing in celerytop is
patched.  (tests/test_user_install.py proves the real installs.)
"""

import os
import subprocess
import sys

import pytest

from tests.terminal import Terminal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
REDIS = "redis://127.0.0.1:6379/0"

HIDING_SITECUSTOMIZE = '''
import os, sys

HIDDEN = set(filter(None, os.environ.get("CELERYTOP_TEST_HIDE", "").split(",")))


class HideModules:
    """Import hook: the modules named in CELERYTOP_TEST_HIDE are not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, HideModules())
'''


@pytest.fixture
def hiding_env(tmp_path):
    """An environment whose processes cannot import the packages passed in."""
    (tmp_path / "sitecustomize.py").write_text(HIDING_SITECUSTOMIZE)

    def env(*hidden):
        return dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]),
                    CELERYTOP_TEST_HIDE=",".join(hidden), XDG_STATE_HOME=str(tmp_path / "state"))
    return env


def run_without(env, program, *args):
    return subprocess.run([os.path.join(BIN, program), *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


def assert_only_error(result, expected):
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"celerytop: error: {expected}\n")


REDIS_MESSAGE = ("the redis transport needs packages that are not installed (No module named {!r}): "
                 "pip install 'celerytop[redis]'")


@pytest.mark.parametrize("mode", [("--batch",), ("--dump",), ("--camera", "celery.events.snapshot.Polaroid")])
@pytest.mark.parametrize("hidden", ["packaging", "redis"])
def test_redis_transport_without_its_packages_names_the_extra(hiding_env, mode, hidden):
    # packaging: what kombu 5.7's Redis transport imports and pip install '.[redis]' lacked
    result = run_without(hiding_env(hidden), "celerytop", "-b", REDIS, *mode)
    assert_only_error(result, REDIS_MESSAGE.format(hidden))


def test_screen_mode_says_the_same_before_drawing(hiding_env):
    with Terminal([os.path.join(BIN, "celerytop"), "-b", REDIS], cols=200, rows=10,
                  env=hiding_env("packaging"), cwd=ROOT) as term:
        assert term.wait_exit() == 2
        assert [line.rstrip() for line in term.lines() if line.strip()] == [
            "celerytop: error: " + REDIS_MESSAGE.format("packaging")]


def test_celery_top_subcommand_checks_the_apps_broker_too(hiding_env, tmp_path):
    (tmp_path / "redisproj.py").write_text(f"from celery import Celery\napp = Celery('redisproj', broker={REDIS!r})\n")
    result = run_without(hiding_env("packaging"), "celery", "-A", "redisproj", "top", "--batch")
    assert_only_error(result, REDIS_MESSAGE.format("packaging"))


def test_transport_without_a_celerytop_extra_names_kombus_extra(hiding_env):
    result = run_without(hiding_env("boto3", "botocore"), "celerytop", "-b", "sqs://", "--batch")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("celerytop: error: the sqs transport needs packages that are not installed "
                                    "(No module named 'boto")
    assert result.stderr.endswith("): pip install 'kombu[sqs]'\n")
    assert len(result.stderr.splitlines()) == 1


def test_sqlalchemy_alias_names_kombus_extra(hiding_env):
    result = run_without(hiding_env("sqlalchemy"), "celerytop", "-b", "sqla+sqlite:///x.db", "--batch")
    assert_only_error(result, "the sqla transport needs packages that are not installed "
                              "(No module named 'sqlalchemy'): pip install 'kombu[sqlalchemy]'")


def test_without_amqp_kombu_itself_cannot_load_and_says_so(hiding_env):
    # amqp is a requirement of kombu itself (kombu.exceptions imports it), so
    # without it no transport loads: the amqp transport's case is this one.
    result = run_without(hiding_env("amqp"), "celerytop", "-b", "amqp://guest:guest@127.0.0.1:5672//", "--batch")
    assert_only_error(result, "celerytop needs packages that are not installed (No module named 'amqp'): "
                              "pip install amqp")


def test_the_hook_hides_only_what_it_is_told(hiding_env):
    # The same run with nothing hidden gets past the transport check to the
    # connection (port 1: refused), so the messages above come from the hook.
    result = run_without(hiding_env(), "celerytop", "-b", "redis://127.0.0.1:1/0", "--batch")
    assert result.returncode == 2
    assert result.stderr.startswith("celerytop: error: cannot reach the broker at redis://127.0.0.1:1/0")


def test_unknown_transport_is_still_a_malformed_url(hiding_env):
    result = run_without(hiding_env(), "celerytop", "-b", "nosuchtransport://host/", "--batch")
    assert result.returncode == 2
    assert result.stderr.startswith("celerytop: error: malformed broker URL 'nosuchtransport://host/': "
                                    "unknown transport 'nosuchtransport'")

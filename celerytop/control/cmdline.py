"""The ``:`` command prompt's language: the management guide's commands,
parsed into an :class:`Invocation` or refused with a one-line reason.

The tables here are the one source of truth for what the prompt accepts:
the help overlay, the man page and the completion
(:mod:`celerytop.control.completion`) all read them.

    inspect active -d w1@host --timeout 2
    control rate_limit tasks.add 10/m
    purge -Q celery,hipri -X lopri
    migrate redis://other:6379/0
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from celerytop.control import inputs


class CommandLineError(ValueError):
    """What is wrong with a command line, in one line."""


@dataclass(frozen=True)
class Spec:
    name: str
    usage: str  # the arguments, as the help shows them
    help: str


#: ``inspect`` methods: what celery's worker answers, read-only.
INSPECT = {spec.name: spec for spec in (
    Spec("active", "", "Tasks being executed, by worker"),
    Spec("scheduled", "", "Tasks waiting for their ETA or countdown"),
    Spec("reserved", "", "Tasks prefetched by workers, waiting to run"),
    Spec("revoked", "", "Ids of the tasks each worker holds as revoked"),
    Spec("registered", "[ATTR…]", "Task types each worker runs, with rate limits"),
    Spec("stats", "", "Worker statistics: pool, broker, resource usage, totals"),
    Spec("query_task", "ID…", "Where the given tasks are and in what state"),
    Spec("conf", "", "Each worker's configuration"),
    Spec("active_queues", "", "The queues each worker consumes"),
    Spec("report", "", "Each worker's bug report (versions, settings)"),
)}

#: ``control`` commands: they change the cluster.
CONTROL = {spec.name: spec for spec in (
    Spec("enable_events", "", "Turn task events on"),
    Spec("disable_events", "", "Turn task events off"),
    Spec("rate_limit", "TASK RATE", "Rate limit of a task type: 10/s, 100/m, 5/h; 0 removes it"),
    Spec("time_limit", "TASK SOFT [HARD]", "Soft and hard time limits of a task type, in seconds"),
    Spec("revoke", "ID…", "Revoke tasks"),
    Spec("terminate", "SIGNAL ID…", "Revoke tasks and kill them with SIGNAL if running"),
    Spec("shutdown", "", "Shut workers down (warm)"),
    Spec("pool_grow", "[N]", "Add N pool processes (default 1)"),
    Spec("pool_shrink", "[N]", "Remove N pool processes (default 1)"),
    Spec("autoscale", "MAX [MIN]", "Set autoscale bounds"),
    Spec("add_consumer", "QUEUE [EXCHANGE [TYPE [ROUTING_KEY]]]", "Start consuming from a queue"),
    Spec("cancel_consumer", "QUEUE", "Stop consuming from a queue"),
)}

#: The prompt's verbs.
VERBS = {spec.name: spec for spec in (
    Spec("inspect", "METHOD [ARG…] [-d WORKER,…] [--timeout S]", "Ask workers; the reply opens as a view"),
    Spec("control", "COMMAND [ARG…] [-d WORKER,…] [--timeout S]", "Change workers (asks first where a key would)"),
    Spec("purge", "[-Q QUEUE,…] [-X QUEUE,…]",
         "Delete waiting messages from the app's queues, or those named (asks first)"),
    Spec("result", "ID", "Fetch a task's result from the result backend"),
    Spec("status", "[-d WORKER,…] [--timeout S]", "Ping workers: who is online"),
    Spec("migrate", "URL [-Q QUEUE,…]", "Move waiting messages to the broker at URL (asks first)"),
    Spec("queues", "", "Open the queues view: depth, consumers, oldest message's age, trend, purge"),
    Spec("reconcile", "[--timeout S]",
         "Ask workers and the result backend about tasks shown STARTED or RECEIVED; correct those that "
         "finished (changes nothing in the cluster)"),
    Spec("failures", "", "Open the failures view: every failure seen, grouped by task, exception and message"),
    Spec("types", "", "Open the task types view: counts, failure %, rate, runtime and wait percentiles"),
    Spec("stuck", "", "Open the stuck and lost tasks view: lost with their worker, or past their threshold"),
    Spec("beat", "", "Open the periodic tasks view: the app's beat_schedule, next and last runs, missed runs"),
    Spec("alerts", "", "Open the alerts view: every alert fired this session, firing or cleared"),
)}

#: Which options each verb takes, by canonical name.
OPTIONS = {
    "inspect": ("destination", "timeout"),
    "control": ("destination", "timeout"),
    "status": ("destination", "timeout"),
    "purge": ("queues", "exclude"),
    "migrate": ("queues",),
    "result": (),
    "queues": (),
    "failures": (),
    "types": (),
    "stuck": (),
    "beat": (),
    "alerts": (),
    "reconcile": ("timeout",),
}
#: Each flag the prompt takes, and the canonical name of its option.
OPTION_NAMES = {
    "-d": "destination", "--destination": "destination",
    "-t": "timeout", "--timeout": "timeout",
    "-Q": "queues", "--queues": "queues",
    "-X": "exclude", "--exclude-queues": "exclude",
}
_UUIDISH = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:-]*$")


@dataclass(frozen=True)
class Invocation:
    verb: str
    action: str = ""  # the inspect method or control command
    args: tuple = ()  # inspect's positional arguments
    arguments: dict = field(default_factory=dict)  # control's broadcast arguments
    destination: tuple = ()
    timeout: float | None = None
    queues: tuple = ()
    exclude: tuple = ()
    url: str = ""
    task_id: str = ""

    @property
    def name(self) -> str:
        """'inspect active', 'purge': what the audit log and the messages call it."""
        return f"{self.verb} {self.action}".strip()


def parse(line: str) -> Invocation:
    """The command ``line`` as typed at the prompt, or CommandLineError."""
    try:
        words = shlex.split(line)
    except ValueError as exc:  # an unclosed quote
        raise CommandLineError(f"cannot read the line: {exc}") from None
    if not words:
        raise CommandLineError("type a command: " + ", ".join(VERBS) + " (Tab completes)")
    verb, rest = words[0], words[1:]
    if verb not in VERBS:
        raise CommandLineError(f"unknown command {verb!r}: use " + ", ".join(VERBS))
    options, positional = _split_options(verb, rest)
    common = dict(
        destination=tuple(options.get("destination", ())),
        timeout=options.get("timeout"),
        queues=tuple(options.get("queues", ())),
        exclude=tuple(options.get("exclude", ())),
    )
    if verb == "inspect":
        return _inspect(positional, common)
    if verb == "control":
        return _control(positional, common)
    if verb == "result":
        if len(positional) != 1 or not _UUIDISH.match(positional[0]):
            raise CommandLineError("result takes one task id: result ID")
        return Invocation("result", task_id=positional[0])
    if verb == "migrate":
        if len(positional) != 1:
            raise CommandLineError("migrate takes the destination broker URL: migrate redis://host:6379/0")
        url = positional[0]
        if "://" not in url:
            raise CommandLineError(f"{url!r} is not a broker URL (transport://host:port/vhost)")
        return Invocation("migrate", url=url, **common)
    if positional:
        raise CommandLineError(f"{verb} takes no arguments, got {' '.join(positional)!r}")
    return Invocation(verb, **common)


def _split_options(verb: str, words: list) -> tuple:
    allowed = OPTIONS[verb]
    options: dict = {}
    positional = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or word == "-" or _is_number(word):
            positional.append(word)
            continue
        flag, _eq, value = word.partition("=")
        name = OPTION_NAMES.get(flag)
        if name is None or name not in allowed:
            takes = ", ".join(flags_for(allowed)) or "no options"
            raise CommandLineError(f"{verb} does not take {flag} (it takes {takes})")
        if not _eq:
            if index >= len(words):
                raise CommandLineError(f"{flag} needs a value")
            value = words[index]
            index += 1
        if name == "timeout":
            options[name] = _timeout(value)
        else:
            names = [n for n in value.split(",") if n]
            if not names:
                raise CommandLineError(f"{flag} needs at least one name")
            options.setdefault(name, []).extend(n for n in names if n not in options.get(name, ()))
    return options, positional


def flags_for(allowed) -> list:
    """The flags (short and long) that spell the options named in ``allowed``."""
    return [flag for flag, name in OPTION_NAMES.items() if name in allowed]


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise CommandLineError(f"--timeout takes seconds, not {value!r}") from None
    if not 0 < seconds <= 300:
        raise CommandLineError("--timeout must be more than 0 and at most 300 seconds")
    return seconds


def _inspect(positional: list, common: dict) -> Invocation:
    if not positional:
        raise CommandLineError("inspect what? " + ", ".join(INSPECT))
    method, args = positional[0], tuple(positional[1:])
    if method not in INSPECT:
        raise CommandLineError(f"unknown inspect method {method!r}: use " + ", ".join(INSPECT))
    if method == "query_task" and not args:
        raise CommandLineError("query_task needs at least one task id")
    if args and method not in ("query_task", "registered"):
        raise CommandLineError(f"inspect {method} takes no arguments, got {' '.join(args)!r}")
    return Invocation("inspect", method, args=args, **common)


def _control(positional: list, common: dict) -> Invocation:
    if not positional:
        raise CommandLineError("control what? " + ", ".join(CONTROL))
    command, args = positional[0], positional[1:]
    if command not in CONTROL:
        raise CommandLineError(f"unknown control command {command!r}: use " + ", ".join(CONTROL))
    try:
        name, arguments = _control_arguments(command, args)
    except inputs.InputError as exc:
        raise CommandLineError(f"control {command}: {exc}") from None
    return Invocation("control", name, arguments=arguments, **common)


def _arity(command: str, args: list, low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise CommandLineError(f"usage: control {command} {CONTROL[command].usage}")


def _control_arguments(command: str, args: list) -> tuple:
    """(the remote-control command to broadcast, its arguments) as celery's CLI sends them."""
    if command in ("enable_events", "disable_events", "shutdown"):
        _arity(command, args, 0, 0)
        return command, {}
    if command == "rate_limit":
        _arity(command, args, 2, 2)
        return command, {"task_name": args[0], "rate_limit": inputs.rate_limit(args[1])}
    if command == "time_limit":
        _arity(command, args, 2, 3)
        soft, hard = inputs.time_limits(" ".join(args[1:] + (["-"] if len(args) == 2 else [])))
        return command, {"task_name": args[0], "soft": soft, "hard": hard}
    if command == "revoke":
        _arity(command, args, 1, 10_000)
        return "revoke", {"task_id": list(args), "terminate": False, "signal": "TERM"}
    if command == "terminate":
        _arity(command, args, 2, 10_000)
        return "revoke", {"task_id": list(args[1:]), "terminate": True, "signal": inputs.signal_name(args[0])}
    if command in ("pool_grow", "pool_shrink"):
        _arity(command, args, 0, 1)
        return command, {"n": inputs.count(args[0] if args else "1")}
    if command == "autoscale":
        _arity(command, args, 1, 2)
        high, low = inputs.autoscale(",".join(args if len(args) == 2 else args + ["0"]))
        return command, {"max": high, "min": low}
    if command == "add_consumer":
        _arity(command, args, 1, 4)
        arguments = {"queue": inputs.queue_name(args[0])}
        for key, value in zip(("exchange", "exchange_type", "routing_key"), args[1:]):
            arguments[key] = value
        return command, arguments
    if command == "cancel_consumer":
        _arity(command, args, 1, 1)
        return command, {"queue": inputs.queue_name(args[0])}
    raise CommandLineError(f"control {command} is not supported")  # pragma: no cover - CONTROL covers all


def reference() -> list:
    """[(section title, [(usage, help)])]: every command the prompt takes, for the
    help overlay and the man page."""
    return [
        ("Commands (: opens the prompt; Tab completes, Up/Down recall)",
         [(f"{spec.name} {spec.usage}".strip(), spec.help) for spec in VERBS.values()]),
        ("inspect METHOD", [(f"inspect {spec.name} {spec.usage}".strip(), spec.help) for spec in INSPECT.values()]),
        ("control COMMAND", [(f"control {spec.name} {spec.usage}".strip(), spec.help) for spec in CONTROL.values()]),
    ]

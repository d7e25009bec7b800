"""Whether celerytop can use a broker URL: a transport kombu knows, whose packages
are installed, and when they are not, what to pip install.

Only the standard library is imported at the top: cli.py asks for
:func:`missing_module_hint` when celery's own requirements are not all installed.
"""

from __future__ import annotations

import importlib
import re

from celerytop.present.errors import one_line_error
from celerytop.present.formatting import mask_url


class BrokerUrlError(Exception):
    """A broker URL celerytop cannot use: reported in one line, exit 2."""


def check_broker_url(url: str) -> None:
    """Raise BrokerUrlError unless ``url`` names a transport kombu knows, with a sane port."""
    from kombu.transport import TRANSPORT_ALIASES, resolve_transport
    from kombu.utils.url import parse_url

    for part in str(url).split(";"):
        part = part.strip()
        shown = mask_url(part)
        if "://" not in part:
            raise BrokerUrlError(f"malformed broker URL {shown!r}: expected transport://[user:password@]host[:port]/…, "
                                 "e.g. redis://localhost:6379/0")
        scheme = part.split("://", 1)[0].split("+", 1)[0]  # sqla+sqlite:// is kombu's sqla transport
        if scheme in TRANSPORT_ALIASES:
            check_transport_loads(scheme)
        else:
            try:
                resolve_transport(scheme)  # a module path, or a typo
            except (KeyError, ImportError, ValueError) as exc:
                raise BrokerUrlError(f"malformed broker URL {shown!r}: unknown transport {scheme!r} "
                                     f"({one_line_error(exc)})")
        try:
            parse_url(part)
        except (ValueError, TypeError) as exc:
            raise BrokerUrlError(f"malformed broker URL {shown!r}: {one_line_error(exc)}")
        check_transport_client(scheme, part)


def check_transport_loads(scheme: str) -> None:
    """Raise MissingTransportPackages unless kombu's transport for ``scheme`` imports."""
    from kombu.transport import resolve_transport

    # kombu 5.7's Redis transport fails with AttributeError, not ImportError,
    # without redis-py: import what our extra brings first, for a clear reason.
    for module in CELERYTOP_EXTRAS.get(scheme, ("", ()))[1]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingTransportPackages(scheme, exc)
    try:
        resolve_transport(scheme)
    except Exception as exc:  # noqa: BLE001 - a half-installed client breaks a transport in any way
        raise MissingTransportPackages(scheme, exc)


def check_transport_client(scheme: str, url: str) -> None:
    """Raise MissingTransportPackages if the transport's client library is missing.

    Most kombu transports import their client library inside try/except and
    only raise ImportError ('Missing redis library') when the Transport is
    built; building one opens no connection.
    """
    from kombu import Connection

    try:
        Connection(url).transport
    except ImportError as exc:
        raise MissingTransportPackages(scheme, exc)
    except Exception:  # noqa: BLE001 - anything else is the connection's to report, with retries
        pass


class MissingTransportPackages(BrokerUrlError):
    """A kombu transport whose import fails: say so, and what to install."""

    def __init__(self, scheme: str, exc: Exception):
        if isinstance(exc, ImportError):
            reason = one_line_error(exc).split(": ", 1)[-1]  # "No module named 'packaging'"
            what = "needs packages that are not installed"
        else:
            reason = one_line_error(exc)
            what = "does not load, as when its packages are not installed"
        super().__init__(f"the {scheme} transport {what} ({reason}): {install_hint(scheme, exc)}")


# Transports whose packages celerytop's own extras bring: the extra, and the
# modules it provides that kombu's transport imports.
REDIS_EXTRA = ("redis", ("redis", "packaging"))
CELERYTOP_EXTRAS = {"redis": REDIS_EXTRA, "rediss": REDIS_EXTRA, "sentinel": REDIS_EXTRA}


def install_hint(scheme: str, exc: Exception) -> str:
    """What to pip install for a transport: celerytop's extra, kombu's, or the package kombu lacks."""
    if scheme in CELERYTOP_EXTRAS:
        return f"pip install 'celerytop[{CELERYTOP_EXTRAS[scheme][0]}]'"
    extra = transport_module(scheme).lower()  # kombu names its extras so: kombu.transport.SQS -> kombu[sqs]
    if extra in kombu_extras():
        return f"pip install 'kombu[{extra}]'"
    missing = (getattr(exc, "name", None) or "").split(".")[0]
    if missing:
        return missing_module_hint(missing)
    return f"install the client library that kombu.transport.{transport_module(scheme)} imports"


def missing_module_hint(module: str) -> str:
    """pip install it when it is one of the packages celerytop, celery or kombu require."""
    if module.lower() in requirements("celerytop", "celery", "kombu"):
        return f"pip install {module}"
    return f"install the package that provides the module {module!r}"


def transport_module(scheme: str) -> str:
    """The module of a kombu transport alias: 'sqs' -> 'SQS' (kombu.transport.SQS:Transport)."""
    from kombu.transport import TRANSPORT_ALIASES

    target = TRANSPORT_ALIASES[scheme]
    path = target.split(":")[0] if ":" in target else target.rsplit(".", 1)[0]
    return path.rsplit(".", 1)[-1]


def kombu_extras() -> list:
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        return metadata("kombu").get_all("Provides-Extra") or []
    except PackageNotFoundError:
        return []


def requirements(*distributions: str) -> set:
    """The names of the packages these distributions always require (extras left out)."""
    from importlib.metadata import PackageNotFoundError, requires

    names = set()
    for distribution in distributions:
        try:
            specs = requires(distribution) or []
        except PackageNotFoundError:
            continue
        names.update(re.match(r"[A-Za-z0-9._-]*", spec).group(0).lower() for spec in specs if "extra ==" not in spec)
    return names

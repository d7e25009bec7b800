"""Workers' replies to a remote-control command, read: merged, normalised to (ok, text), summed up in one line.

celery answers a broadcast with ``[{hostname: reply}, ...]``; :class:`Outcome`
holds what one command got and says it in a status line that fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from celerytop.present.formatting import display_width, fit


@dataclass(frozen=True)
class Outcome:
    """What happened to one command: each worker's reply, who was silent."""

    command: str
    destination: tuple  # () = every worker
    replies: dict  # hostname -> (ok: bool, text)
    missing: tuple = ()  # named destinations that did not answer in time
    refused: str = ""  # why nothing was sent (read-only)
    sent: str = ""  # for commands without replies: what was done

    def summary(self, width: int | None = None) -> str:
        """One line for the status bar, the replies that stand out (errors, then the
        rarest) before the ones most workers gave.  Given ``width``, a line too long
        is summarised to fit: the usual reply is counted rather than repeated, task
        ids are shortened, and it ends with where to read everything (``L``)."""
        if self.refused:
            return self.refused
        if self.sent and not self.destination and not self.replies:
            return f"{self.command}: {self.sent}"
        full = self._full_summary()
        if width is None or display_width(full) <= width or not (self.replies or self.missing):
            return full
        for line in self._brief_summaries():
            if display_width(line) <= width:
                return line
        return fit(line[: -len(SEE_ALL)], width - len(SEE_ALL)).rstrip() + SEE_ALL

    def _where(self) -> str:
        return ", ".join(self.destination) if self.destination else "all workers"

    def _reply_groups(self) -> list:
        """[((ok, text), [hosts])]: errors first, then replies saying something was done
        (the rarest first), then those saying there was nothing to do."""
        groups: dict = {}
        for host, reply in sorted(self.replies.items()):
            groups.setdefault(reply, []).append(host)
        return sorted(groups.items(), key=lambda group: (group[0][0], bool(NOTHING_DONE.search(group[0][1])),
                                                         len(group[1])))

    def _full_summary(self) -> str:
        single = len(self.destination) == 1 and set(self.replies) <= set(self.destination)
        parts = [("" if single else f"{host}: ") + f"{'ok' if ok else 'error'}: {text}"
                 for (ok, text), hosts in self._reply_groups() for host in hosts]
        parts += [f"{host}: no reply within the timeout" for host in self.missing]
        if self.sent:
            parts.insert(0, self.sent)
        if not parts:
            parts = ["no worker replied within the timeout"]
        return f"{self.command} → {self._where()}: " + "; ".join(parts)

    def _brief_summaries(self):
        """Ever shorter one-liners, each ending with where to read everything."""
        groups = [((ok, shorten_task_ids(text)), hosts) for (ok, text), hosts in self._reply_groups()]
        total = len(self.replies) + len(self.missing)
        count = "" if total < 2 else f"{len(self.replies)} of {total} answered" if self.missing \
            else f"{total} answered"

        def said(ok, text):
            return text if ok else f"error: {text}"

        def line(parts, prefix=f"{self.command} → {self._where()}: "):
            return prefix + ", ".join(p for p in [count, "; ".join(parts)] if p) + SEE_ALL

        named = [f"{', '.join(hosts)}: {said(ok, text)}" for (ok, text), hosts in groups]
        errors = sum(1 for (ok, _text), _hosts in groups if not ok)
        if self.missing:
            named.insert(errors, f"{', '.join(self.missing)}: no reply")
        yield line(named)
        if groups and groups[-1][0][0] and len(groups[-1][1]) > 1:  # the last reply: counted, not named
            (ok, text), hosts = groups[-1]
            yield line(named[:-1] + [f"{len(hosts)} others: {text}"])
            named = named[:-1] + [f"{len(hosts)} others: ok"]
            yield line(named)
        yield line(named, prefix=f"{self.command}: ")


#: Words of celery's replies from a worker that had nothing to act on
#: ('terminate: tasks unknown', 'no task found'): those go after the ones that acted.
NOTHING_DONE = re.compile(r"\b(unknown|not found|no such|nothing)\b", re.IGNORECASE)

#: How a summarised status line points at the whole text: the audit view.
SEE_ALL = "; L for all"

_TASK_ID = re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def shorten_task_ids(text: str) -> str:
    """Task ids as the tasks pane shows them (8 characters)."""
    return _TASK_ID.sub(r"\1", text)


def normalise_replies(replies) -> dict:
    """celery's [{host: {'ok': text} | {'error': text}}] as {host: (ok, text)}."""
    out = {}
    for host, reply in merge_replies(replies).items():
        if isinstance(reply, dict) and "error" in reply:
            out[host] = (False, str(reply["error"]))
        elif isinstance(reply, dict) and "ok" in reply:
            out[host] = (True, str(reply["ok"]))
        else:
            out[host] = (True, str(reply))
    return out


def merge_replies(replies) -> dict:
    """celery's ``[{host: reply}, ...]`` (or ``None``) as one ``{host: reply}``."""
    merged: dict = {}
    for reply in replies or ():
        if isinstance(reply, dict):
            merged.update(reply)
    return merged

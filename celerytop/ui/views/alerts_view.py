"""The alerts view (``!``, ``:alerts``): every alert this session, firing or cleared, with when it fired and cleared.

The alerts are the engine's (model/alerts.py), the same batch JSON prints;
rows sort with ``<`` ``>`` ``I``, filter with ``/`` (a glob, else a
substring of the rule, subject or message), and Enter closes the view and
filters the tasks pane to the alert's task type or worker.
"""

from __future__ import annotations

from celerytop.present import formatting
from celerytop.present.table import Column
from celerytop.ui.views.table_view import TableView
from celerytop.ui.views.types_view import name_filter
from celerytop.ui.widgets.lazylist import Row

#: (column, the Alert attribute it shows and sorts by).
ALERT_COLUMNS = (
    (Column("RULE", 14, maximum=22), "rule"),
    (Column("SUBJECT", 12, weight=2, maximum=50, dotted=True), "subject"),
    (Column("MESSAGE", 20, weight=4), "message"),
    (Column("FIRED", 9), "fired_at"),
    (Column("CLEARED", 9), "cleared_at"),
)
COLUMNS = tuple(column for column, _field in ALERT_COLUMNS)
FIELDS = tuple(field for _column, field in ALERT_COLUMNS)
STILL_FIRING = "firing"


def alert_cells(alert) -> list:
    """(style, text) per column of one Alert: a firing one in red."""
    style = "state.FAILURE" if alert.firing else "row"
    return [(style, formatting.sanitize(alert.rule)), (style, formatting.sanitize(alert.subject)),
            (style, formatting.sanitize(alert.message)), (style, formatting.format_clock(alert.fired_at)),
            (style, STILL_FIRING if alert.firing else formatting.format_clock(alert.cleared_at))]


def _sort_key(field):
    if field == "cleared_at":  # still firing sorts as the latest
        return lambda alert: float("inf") if alert.cleared_at is None else alert.cleared_at
    if field == "fired_at":
        return lambda alert: alert.fired_at
    return lambda alert: getattr(alert, field).lower()


class AlertsView(TableView):
    context = "alerts"
    columns = ALERT_COLUMNS

    def __init__(self, engine, model=None, ascii: bool = False):
        self.ascii = ascii  # the sort arrow in ASCII
        self.engine = engine  # a model.alerts.AlertEngine (without rules when every one is off)
        self.model = model
        super().__init__(" Alerts", sort=3, descending=True)  # FIRED, newest first

    def natural_descending(self, index: int) -> bool:
        return FIELDS[index] in ("fired_at", "cleared_at")  # times: the newest first

    def refresh(self) -> None:
        history = list(self.engine.history)
        wanted = name_filter(self.filter_text)
        alerts = [a for a in history if wanted(a.rule) or wanted(a.subject) or wanted(a.message)]
        alerts.sort(key=_sort_key(FIELDS[self.sort]), reverse=self.descending)
        firing = sum(1 for alert in history if alert.firing)
        title = f" Alerts  {firing} firing, {len(history) - firing} cleared"
        if self.filter_text:
            title += f" · / {formatting.sanitize(self.filter_text)}"
        self._title.set_text(("pane.title.focus", title))
        lines = self.table_lines(COLUMNS, alerts, [alert_cells(alert) for alert in alerts])
        if not alerts:
            lines.append(Row(("row", "  No alert has fired." if not self.filter_text else "  No alert matches.")))
        rules = ", ".join(rule.name for rule in self.engine.rules) or "none (--no-alert turned every one off)"
        lines.append(Row(("row", f"  Rules on: {rules}")))
        lines.append(Row(("row", "  < > sort, I inverts, / filters, Enter lists the tasks of the alert's type "
                                 "or worker")))
        self.set_lines(lines)
        if len(self.walker) > 1 and self.walker.focus == 0:
            self.walker.set_focus(1)

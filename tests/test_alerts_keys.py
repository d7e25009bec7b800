"""The alerts view's Enter without a screen: the filter each kind of alert hands the tasks pane, or what it says."""

from celerytop.model.alertrules import CLUSTER, QUEUE, TYPE, WORKER
from celerytop.model.alerts import Alert
from celerytop.ui.controllers.alerts import AlertsController
from celerytop.ui.views.alerts_view import AlertsView


class Stack:
    """The ViewStack's part the controller uses: the view on top, pop."""

    def __init__(self, view):
        self.top = view
        self.popped = 0

    def pop(self):
        self.popped += 1


class Listing:
    def __init__(self):
        self.applied = []

    def apply_filter(self, text):
        self.applied.append(text)


class Engine:
    rules = ()

    def __init__(self, alert):
        self.history = [alert]


def enter_on(alert):
    view = AlertsView(Engine(alert))
    stack, listing, said = Stack(view), Listing(), []
    assert view.selected_item() is alert
    AlertsController(None, stack, listing, said.append, Engine(alert)).filter_tasks()
    return listing.applied, said, stack.popped


def alert(kind, subject):
    return Alert("rule", "a rule", subject, "message", kind, 1.0)


def test_enter_filters_to_the_type_or_the_worker_and_says_when_there_is_nothing_to_filter():
    assert enter_on(alert(TYPE, "proj.add")) == (["name:proj.add"], [], 1)
    assert enter_on(alert(TYPE, "proj.a*")) == (["name:'proj.a[*]'"], [], 1)  # a literal name, not a glob
    assert enter_on(alert(WORKER, "w1@host")) == (["worker:w1@host"], [], 1)
    for kind, subject in ((QUEUE, "celery"), (CLUSTER, "events"), (TYPE, "(other)")):
        applied, said, popped = enter_on(alert(kind, subject))
        assert applied == [] and popped == 0 and "nothing to filter" in said[0], (kind, said)

"""The Celery app the live tests run real workers (and celerytop) against.

Every process builds the same app from the same environment variables:

``CELERYTOP_TEST_BROKER_URL``
    ``filesystem://localhost//``, ``redis://127.0.0.1:6379/0`` or
    ``amqp://guest:guest@127.0.0.1:5672//``.
``CELERYTOP_TEST_FSDIR``
    Folder for the filesystem transport (``queue/``, ``control/``) and the
    filesystem result backend (``results/``).
``CELERYTOP_TEST_NS``
    Per-test namespace naming the event exchange, the control exchange and
    the default queue, so tests sharing one Redis or RabbitMQ stay apart.
``CELERYTOP_TEST_RESULT_BACKEND``
    Optional: another result backend for this process only (a test points
    celerytop at a backend that never answers while its workers keep theirs).

``celery -A tests.liveapp worker`` and ``celerytop -A tests.liveapp`` pick up
the module-level ``app`` (built from the environment on first access); the
test process calls :func:`make_app` directly.  With no variables set, ``app``
uses the filesystem transport in a folder under the system temp dir and the
namespace ``default``.
"""
import os
import tempfile
import time

from celery import Celery

REDIS_RESULT_BACKEND = 'redis://127.0.0.1:6379/1'

BROKER_URL_ENV = 'CELERYTOP_TEST_BROKER_URL'
FSDIR_ENV = 'CELERYTOP_TEST_FSDIR'
NS_ENV = 'CELERYTOP_TEST_NS'
RESULT_BACKEND_ENV = 'CELERYTOP_TEST_RESULT_BACKEND'


def make_app(url, ns, fsdir=None, set_as_current=False):
    """Build the test app for broker ``url`` and namespace ``ns``."""
    app = Celery('tests.liveapp', broker=url, set_as_current=set_as_current)
    conf = {
        'event_exchange': f'celeryev.{ns}',
        'control_exchange': f'ctl-{ns}',
        'task_default_queue': f'q-{ns}',
        'result_extended': True,
        'result_expires': 3600,
        'worker_send_task_events': True,
        'task_send_sent_event': True,
        'broker_connection_retry_on_startup': True,
    }
    if url.startswith('filesystem'):
        if not fsdir:
            raise RuntimeError(f'{FSDIR_ENV} is required for {url}')
        queue, control, results = (os.path.join(fsdir, d)
                                   for d in ('queue', 'control', 'results'))
        for folder in (queue, control, results):
            os.makedirs(folder, exist_ok=True)
        # kombu's own filesystem transport loses messages between processes
        # (see celerytop/fstransport.py); workers here use the fixed one,
        # celerytop reads either.
        conf['broker_transport'] = 'celerytop.events.fstransport:Transport'
        conf['broker_transport_options'] = {
            'data_folder_in': queue, 'data_folder_out': queue,
            'control_folder': control, 'polling_interval': 0.1,
        }
        conf['result_backend'] = 'file://' + os.path.abspath(results)
    else:
        conf['result_backend'] = REDIS_RESULT_BACKEND
    app.conf.update(conf)
    _register_tasks(app)
    return app


def _register_tasks(app):
    @app.task(name='tests.add')
    def add(x, y):
        return x + y

    @app.task(name='tests.fail')
    def fail(message):
        _fail_outer(message)

    @app.task(name='tests.sleep')
    def sleep(seconds):
        time.sleep(seconds)
        return seconds

    @app.task(name='tests.echo')
    def echo(value):
        return value

    @app.task(name='tests.total')
    def total(values):
        return sum(values)


def _fail_outer(message):
    _fail_inner(message)


def _fail_inner(message):
    raise ValueError(message)


def app_from_env(environ=os.environ):
    url = environ.get(BROKER_URL_ENV, 'filesystem://localhost//')
    fsdir = environ.get(FSDIR_ENV)
    if url.startswith('filesystem') and not fsdir:
        fsdir = os.path.join(tempfile.gettempdir(),
                             f'celerytop-liveapp-{os.getuid()}')
    app = make_app(url, environ.get(NS_ENV, 'default'), fsdir,
                   set_as_current=True)
    if environ.get(RESULT_BACKEND_ENV):
        app.conf.result_backend = environ[RESULT_BACKEND_ENV]
    return app


def __getattr__(name):
    # Built on first use, so importing make_app does not build (or make
    # current) an app; ``celery -A tests.liveapp`` reads ``app`` normally.
    if name == 'app':
        global app
        app = app_from_env()
        return app
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

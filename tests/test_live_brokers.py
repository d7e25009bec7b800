"""The live fixtures work end to end on every selected broker."""
import pytest

from tests.live import EventCollector, Workers, selected_brokers


def test_worker_answers_ping(broker, workers):
    worker = workers('w1')
    replies = broker.app.control.ping(destination=[worker.hostname],
                                      timeout=5)
    assert replies == [{worker.hostname: {'ok': 'pong'}}]


def test_task_events_reach_receiver(broker, workers):
    worker = workers('w1')
    with EventCollector(broker.app) as events:
        result = broker.app.send_task('tests.echo', ('hello',))
        sent = events.wait_for('task-sent', uuid=result.id)
        received = events.wait_for('task-received', uuid=result.id)
        events.wait_for('task-started', uuid=result.id)
        succeeded = events.wait_for('task-succeeded', uuid=result.id)
    assert sent['name'] == received['name'] == 'tests.echo'
    assert received['hostname'] == succeeded['hostname'] == worker.hostname
    assert succeeded['result'] == "'hello'"


def test_failing_task_reports_traceback(broker, workers):
    workers('w1')
    with EventCollector(broker.app) as events:
        result = broker.app.send_task('tests.fail', ('boom',))
        failed = events.wait_for('task-failed', uuid=result.id)
    assert failed['exception'] == "ValueError('boom')"
    assert '_fail_outer' in failed['traceback']
    assert '_fail_inner' in failed['traceback']
    with pytest.raises(ValueError, match='boom'):
        result.get(timeout=20)


def test_result_backend_returns_result(broker, workers):
    workers('w1')
    result = broker.app.send_task('tests.add', (2, 3))
    assert result.get(timeout=20) == 5
    assert result.name == 'tests.add'  # result_extended


@pytest.mark.skipif('redis' not in selected_brokers(),
                    reason='redis is not in CELERYTOP_TEST_BROKERS')
def test_namespaces_on_one_redis_are_isolated(make_broker, tmp_path):
    brokers = [make_broker('redis'), make_broker('redis')]
    pools = [Workers(b, tmp_path / f'ns{i}') for i, b in enumerate(brokers)]
    try:
        for pool in pools:
            pool.log_dir.mkdir()
        started = [pool(f'w{i}', wait=False) for i, pool in enumerate(pools)]
        for pool, worker in zip(pools, started):
            pool.wait_ready(worker)
        with EventCollector(brokers[0].app) as ev0, \
                EventCollector(brokers[1].app) as ev1:
            results = [b.app.send_task('tests.echo', (i,))
                       for i, b in enumerate(brokers)]
            ev0.wait_for('task-succeeded', uuid=results[0].id)
            ev1.wait_for('task-succeeded', uuid=results[1].id)
        for events, own in ((ev0, 0), (ev1, 1)):
            other = 1 - own
            assert not events.matching(uuid=results[other].id)
            assert not events.matching(hostname=started[other].hostname)
        for b, worker in zip(brokers, started):
            assert b.app.control.ping(timeout=1) == [
                {worker.hostname: {'ok': 'pong'}}]
    finally:
        for pool in pools:
            pool.stop_all()

"""``ivr serve`` and ``ivr worker``: running the IVR server and the RQ worker of its background jobs."""

from __future__ import annotations

import click

from ivr.cli.common import _redis, _settings
from ivr.runner.processes import DEFAULT_THREADS, DEFAULT_WORKER_CLASS, DEFAULT_WORKERS


@click.command()
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker for the IVR's background jobs."""
    from rq import Worker

    from ivr.bootstrap import worker_services
    from ivr.jobs.queue import QUEUE_NAME, enqueue_startup_sweep
    redis = _redis(_settings())
    enqueue_startup_sweep(redis)  # what a dead worker left
    worker_services(redis)  # built once here: the work horses forked for each job inherit them
    Worker([QUEUE_NAME], connection=redis).work(burst=burst, with_scheduler=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True, help="gunicorn worker processes")
@click.option("--worker-class", default=DEFAULT_WORKER_CLASS, show_default=True,
              help="gunicorn worker class (gthread carries webhooks, event streams and media-stream WebSockets)")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              help="threads per worker: each open media stream or agent event stream holds one")
@click.option("--no-worker", is_flag=True, help="Do not start an RQ worker.")
def serve(host: str, port: int, workers: int, worker_class: str, threads: int, no_worker: bool) -> None:
    """Run the IVR server (gunicorn) and an RQ worker; without REDIS_URL, on the project's own Redis."""
    from ivr.runner.processes import running_stack
    with running_stack(host=host, port=port, workers=workers, threads=threads, with_worker=not no_worker,
                       worker_class=worker_class) as stack:
        click.echo(f"IVR listening on {stack.base_url} (Redis {stack.redis_url}). Point your Twilio number's voice "
                   f"webhook at $IVR_PUBLIC_URL/twilio/voice and its status callback at /twilio/status.")
        click.echo(f"Try it: ivr call --url {stack.base_url}     (Ctrl-C stops everything)")
        click.echo(f"Consoles: {stack.base_url}/ — sign in with an account from 'ivr accounts add'.")
        _wait_forever(stack)


def _wait_forever(stack) -> None:
    import signal
    import time
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(0.5)
        click.echo("a server process exited; stopping", err=True)
    except KeyboardInterrupt:
        click.echo("stopping")

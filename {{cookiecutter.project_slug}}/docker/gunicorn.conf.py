"""Gunicorn settings for the container: https://docs.gunicorn.org/en/stable/settings.html

Every value can be overridden without a rebuild, through the environment variables named
below or GUNICORN_CMD_ARGS.
"""

import gc
import os
import shutil
from pathlib import Path


def container_cpus():
    """CPUs this container may use: its cgroup quota (docker run --cpus), else its affinity."""
    cpus = len(os.sched_getaffinity(0))
    v2, v1 = Path("/sys/fs/cgroup/cpu.max"), Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    if v2.exists():
        quota, period = v2.read_text().split()
    elif v1.exists():
        quota, period = v1.read_text().strip(), (v1.parent / "cpu.cfs_period_us").read_text()
    else:
        return cpus
    if quota in ("max", "-1"):
        return cpus
    return max(1, min(cpus, round(int(quota) / int(period))))


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# Threads overlap the time a request waits on the database; processes use the cores: one
# per CPU, at least two, so one serves while the master replaces the other.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, container_cpus())))
threads = int(os.environ.get("GUNICORN_THREADS", 8))

# Import the app once in the master, before forking: workers share its memory, and a
# configuration error stops the container with one line instead of failing every worker.
preload_app = True

# Heartbeat files on tmpfs: a slow or read-only disk must not look like a hung worker.
worker_tmp_dir = "/dev/shm"

timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# Finish in-flight requests on SIGTERM, inside `docker stop`'s default 10 s.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 8))
# Longer than a load balancer's idle timeout (commonly 60 s), so gunicorn never closes a
# connection the balancer is about to reuse.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 75))

# No runtime control socket (gunicornc): nothing here uses it, and the app user has no
# home directory to keep it in.
control_socket_disable = True

# nginx logs every request it proxies (with the time gunicorn took), so gunicorn keeps
# only its error log: a second access log would double the lines Docker's logging handles.
# Set GUNICORN_ACCESS_LOG=- where nothing logs in front.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Gunicorn's own lines as JSON objects like Django's (config/settings/base.py), so every
# line of the container's log parses the same way. Read here, not from Django's settings:
# gunicorn logs before it loads the app. The image runs the production settings, whose
# default is json. https://docs.gunicorn.org/en/stable/settings.html#logconfig-dict
if os.environ.get("DJANGO_LOG_FORMAT", "json") == "json":
    logconfig_dict = {
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                # request_id is always null here; it keeps the keys the same as Django's.
                "fmt": ["levelname", "name", "message", "request_id"],
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            }
        },
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        # Not propagated: Django's root logger would print each line a second time.
        "loggers": {
            "gunicorn.error": {"handlers": ["error_console"], "propagate": False},
            # A logging config switches gunicorn's access log on; keep it off unless
            # GUNICORN_ACCESS_LOG is set, as without one.
            "gunicorn.access": {"handlers": ["console"] if accesslog else [], "propagate": False},
        },
    }

# Prometheus metrics are kept per process and summed at scrape time, so /metrics tells the
# truth whichever worker answers it. https://prometheus.github.io/client_python/multiprocess/
# Made here, before the app is imported (preload_app), because metrics open their files
# at import; anything left from an earlier run on this host would be summed in.
prometheus_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/dev/shm/prometheus"))
shutil.rmtree(prometheus_dir, ignore_errors=True)
prometheus_dir.mkdir(parents=True)


def pre_fork(server, worker):
    # Park everything the master has loaded (preload_app) where the garbage collector never
    # looks: otherwise each worker's first collections touch those objects and the kernel
    # copies their memory into every worker.
    # https://docs.python.org/3/library/gc.html#gc.freeze
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

"""Statement ingestion throughput: this tool's LRS (SQLite, PostgreSQL) beside Ralph 5.1.

    .venv/bin/python bench/xapi_ingest.py [--ralph-venv DIR] [--postgres URL]
        [--singles 500] [--stored 2000] [--grow 10000] [--only ours-sqlite,ours-postgres,ralph]
        [--server gunicorn|waitress] [--workers 2] [--clients 1] [--durability full|relaxed]
        [--derivation worker|background] [--repeat 3]

Each target is started fresh on a loopback port, then loaded in the same way by
``--clients`` client processes (default one), each posting on its own keep-alive
connection (``http.client``: the client's own cost stays small beside the servers'),
the requests of each phase dealt out between them:

1. single POSTs (one statement each) into the empty store;
2. batches of 100 statements until the store holds ``--stored`` (2,000);
3. single POSTs into the store already holding those 2,000 statements.

Our servers run as the README's production lines do, ``gunicorn`` with ``--workers``
gthread workers (keep-alive) and ``lti-tool worker`` deriving evidence beside them, or
with ``--server waitress`` as ``lti-tool serve``, or ``--derivation background`` (a
thread of each web process derives, the zero-setup default); all with the DIPLOVIS
référentiel loaded, a mapping rule for Moodle quizzes and 50 known
learners, so every statement also becomes evidence, as in production. Ralph runs its
file backend under uvicorn, as its documentation says, through
``bench/ralph_launcher.py`` (its writes made to append). Needs Ralph installed in its
own virtualenv: ``scripts/ralph-venv`` installs it (``bench/ralph_peer.py`` starts
it); Ralph is skipped when it is absent.

Our servers derive evidence after answering (from the derivation queue): for ours each
phase gives two rates, statements acknowledged per
second, and statements per second until the last of them is evidence (the clock stops
when the queue is empty), which is the figure compared with Ralph, who keeps statements
only; the evidence lag is the time from the answer to a phase's last POST until then.
``--grow N`` adds batches until the store holds N statements and singles again,
to see whether the rate falls as the store grows.

``--repeat N`` (3 by default) runs every target N times, in turn, each on a fresh store,
and prints the median of each phase with the lowest and highest runs: on a small
virtual machine one run of a phase may differ from the next by a third.

Prints a table of statements per second, and the whole machine's busy CPU time per
statement in each phase (``/proc/stat``; client, servers and database together, the
same way for every target): on C CPUs a rate of R statements/s leaves at most
C × 10⁶ / R µs per statement, which is how far a target is from a rate. Asserts
nothing. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ralph_peer import free_port, stop_server, wait_for_server
from ralph_peer import installed as ralph_installed
from ralph_peer import start_ralph as start_ralph_peer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
LTI_TOOL = str(ROOT / ".venv" / "bin" / "lti-tool")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
MOODLE = "https://moodle.example.org"
LEARNERS = 50
COURSE_START = datetime(2026, 3, 2, 9, 15, 27, tzinfo=timezone(timedelta(hours=1)))


def moodle_statement(n: int) -> dict[str, object]:
    """A quiz attempt as Moodle's logstore_xapi sends it: the ``n``-th event of the
    course, each a second after the one before (Moodle sends the event's time)."""
    learner = str(random.randint(1, LEARNERS))
    quiz = random.randint(1, 40)
    return {
        "actor": {"name": f"Learner {learner}", "account": {"homePage": MOODLE, "name": learner}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en": "completed"}},
        "object": {
            "id": f"{MOODLE}/mod/quiz/view.php?id={quiz}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": {"en": f"Quiz {quiz}"},
            },
        },
        "timestamp": (COURSE_START + timedelta(seconds=n)).isoformat(),
        "result": {
            "score": {"raw": n % 11, "min": 0, "max": 10, "scaled": (n % 11) / 10},
            "completion": True,
            "success": n % 11 >= 5,
            "duration": "PT12M5S",
        },
        "context": {
            "platform": "Moodle",
            "language": "fr",
            "registration": str(uuid.uuid4()),
            "contextActivities": {
                "grouping": [{"id": MOODLE}, {"id": f"{MOODLE}/course/view.php?id=3"}],
                "category": [{"id": "http://moodle.org"}],
            },
        },
    }


@dataclass
class Target:
    name: str
    statements_url: str
    auth: tuple[str, str]
    stop: Callable[[], None]
    # Rows left in the derivation queue (ours); None for an LRS that derives nothing.
    backlog: Callable[[], int] | None = None
    # (statements stored, evidence rows) at the end (ours): every statement must be one.
    census: Callable[[], tuple[int, int]] | None = None
    counted: tuple[int, int] | None = None
    rates: dict[str, float] = field(default_factory=dict)
    evidence_rates: dict[str, float] = field(default_factory=dict)
    # Seconds from the answer to the last POST of a phase until its evidence is done.
    lags: dict[str, float] = field(default_factory=dict)
    # With several runs: the lowest and highest of the compared rate, per phase.
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Busy CPU time of the whole machine per statement (µs), from the first POST of a
    # phase until its evidence is done: servers, worker, database and client together.
    cpu: dict[str, float] = field(default_factory=dict)
    runs: int = 1


@dataclass(frozen=True)
class Serving:
    """How our server runs: ``gunicorn`` (gthread workers) or ``waitress``."""

    server: str = "gunicorn"
    workers: int = 2
    threads: int = 4
    # Where evidence is derived: "worker" (an `lti-tool worker` process beside the web
    # server, as the README's production lines run it) or "background" (a thread of
    # each web process, the zero-setup default).
    derivation: str = "worker"

    def command(self, port: int) -> list[str]:
        if self.server == "waitress":
            return [LTI_TOOL, "serve", "--port", str(port), "--threads", str(self.threads)]
        return [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--bind",
            f"127.0.0.1:{port}",
            "lti_tool:create_app()",
        ]

    def label(self) -> str:
        if self.server == "waitress":
            server = f"waitress, {self.threads} threads"
        else:
            server = f"gunicorn, {self.workers} gthread workers × {self.threads} threads"
        if self.derivation == "worker":
            return f"{server}, evidence derived by lti-tool worker"
        return f"{server}, evidence derived in the web processes"


def start_ours(
    name: str, database_url: str | None, durability: str, evidence: bool, serving: Serving
) -> Target:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    port = free_port()
    env = dict(os.environ)
    env.update(
        LTI_TOOL_INSTANCE_PATH=str(work / "instance"),
        LTI_TOOL_BASE_URL=f"http://127.0.0.1:{port}",
        LTI_TOOL_LOG_LEVEL="WARNING",
        LTI_TOOL_DATABASE_DURABILITY=durability,
        LTI_TOOL_EVIDENCE_DERIVATION=serving.derivation,
    )
    env.pop("LTI_TOOL_DATABASE_URL", None)
    if database_url:
        env["LTI_TOOL_DATABASE_URL"] = database_url

    def cli(*args: str) -> str:
        return subprocess.run(
            [LTI_TOOL, *args], env=env, check=True, capture_output=True, text=True
        ).stdout

    cli("db", "upgrade")
    if evidence:
        _prepare_evidence(cli, env, port)
    credential = json.loads(cli("xapi", "credentials", "create", "--name", "bench", "--json"))
    log = work / "server.log"
    process = subprocess.Popen(
        serving.command(port),
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_server(f"http://127.0.0.1:{port}/xapi/about", process, log)
    worker = (
        subprocess.Popen(
            [LTI_TOOL, "worker"],
            env=env,
            stdout=(work / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        if serving.derivation == "worker"
        else None
    )
    engine = create_engine(database_url or f"sqlite:///{work / 'instance' / 'lti_tool.sqlite3'}")

    def backlog() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM xapi_derivation_queue")).scalar())

    def census() -> tuple[int, int]:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM xapi_statement")).scalar()
            evidence = conn.execute(text("SELECT count(*) FROM evidence")).scalar()
        return int(stored or 0), int(evidence or 0)

    def stop_all() -> None:
        engine.dispose()
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)
        stop_server(process, work)

    return Target(
        name,
        f"http://127.0.0.1:{port}/xapi/statements",
        (credential["key"], credential["secret"]),
        stop_all,
        backlog,
        census,
    )


def _prepare_evidence(cli: Callable[..., str], env: dict[str, str], port: int) -> None:
    """The référentiel, a mapping rule for Moodle quizzes and the learners, so that every
    statement becomes evidence and feeds achievement, as in production."""
    cli("referentiel", "load", "diplovis-bgdc")
    competency = f"http://127.0.0.1:{port}/referentiels/diplovis-bgdc/bloc-2/C10"
    cli(
        "xapi",
        "map",
        "add",
        "--activity",
        f"{MOODLE}/mod/quiz/",
        "--prefix",
        "--competency",
        competency,
    )
    subprocess.run(
        [
            PYTHON,
            "-c",
            (
                "from lti_tool import create_app; from lti_tool.database import db; "
                "from lti_tool.models import LtiUser\n"
                "app = create_app()\n"
                "with app.app_context():\n"
                f"    db.session.add_all([LtiUser(issuer={MOODLE!r}, sub=str(n)) "
                f"for n in range(1, {LEARNERS + 1})])\n"
                "    db.session.commit()\n"
            ),
        ],
        env=env,
        check=True,
    )


def start_ralph(venv: Path) -> Target:
    peer = start_ralph_peer(venv)
    return Target("ralph 5.1 (fs)", f"{peer.endpoint}statements", peer.auth, peer.stop)


def fresh_postgres(url: str) -> str:
    """An empty schema in that database (created when missing). The schema is replaced
    rather than the database dropped: DROP DATABASE waits for a checkpoint."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def _client(url: str, token: str, share: list[bytes], start: Any, out: Any) -> None:
    """One client process: post its share on one keep-alive connection."""
    parts = urlsplit(url)
    headers = {
        "Authorization": f"Basic {token}",
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
    }
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    start.wait()
    for body in share:
        connection.request("POST", parts.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            out.put(f"{response.status} {answer[:300]!r}")
            return
    out.put(None)


def busy_cpu_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, all CPUs together (``/proc/stat``:
    user, nice, system, irq and softirq; not idle, I/O wait or time stolen by the host),
    or NaN where there is no ``/proc/stat`` (the CPU rows then print ``nan``)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:8]]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def post_all(target: Target, bodies: list[object], clients: int = 1) -> tuple[float, float]:
    """Seconds to post these request bodies, dealt out to ``clients`` client processes
    that each post one after the other, and the machine's busy CPU seconds when the
    first was posted."""
    token = base64.b64encode(":".join(target.auth).encode()).decode()
    encoded = [json.dumps(body).encode() for body in bodies]
    context = multiprocessing.get_context("fork")
    start, out = context.Event(), context.Queue()
    processes = [
        context.Process(
            target=_client, args=(target.statements_url, token, encoded[k::clients], start, out)
        )
        for k in range(clients)
    ]
    for process in processes:
        process.start()
    time.sleep(0.2)  # every client connected and waiting
    cpu_began = busy_cpu_seconds()
    began = time.perf_counter()
    start.set()
    failures = [failure for failure in (out.get() for _ in processes) if failure]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    if failures:
        raise SystemExit(f"{target.name}: {failures[0]}")
    return elapsed, cpu_began


def wait_for_evidence(target: Target, timeout: float = 600) -> float:
    """Seconds until the derivation queue is empty (0 for an LRS without one)."""
    if target.backlog is None:
        return 0.0
    began = time.perf_counter()
    while target.backlog():
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"{target.name}: evidence still queued after {timeout} s")
        time.sleep(0.01)
    return time.perf_counter() - began


def run(target: Target, singles: int, stored: int, clients: int, grow: int) -> None:
    n = 0

    def statements(k: int) -> list[dict[str, object]]:
        nonlocal n
        out = [moodle_statement(n + i) for i in range(k)]
        n += k
        return out

    def phase(label: str, bodies: list[object]) -> None:
        count = sum(len(b) if isinstance(b, list) else 1 for b in bodies)
        posted, cpu_began = post_all(target, bodies, clients)
        lag = wait_for_evidence(target)
        target.cpu[label] = (busy_cpu_seconds() - cpu_began) * 1e6 / count
        derived = posted + lag
        target.lags[label] = lag
        target.rates[label] = count / posted
        target.evidence_rates[label] = count / derived

    phase("single, empty store", list(statements(singles)))
    phase("batches of 100", [statements(100) for _ in range((stored - n) // 100)])
    phase(f"single, {n:,} stored", list(statements(singles)))
    if grow > n:
        phase(f"batches to {grow:,}", [statements(100) for _ in range((grow - n) // 100)])
        phase(f"single, {n:,} stored", list(statements(singles)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ralph-venv", type=Path, default=ROOT / "bench" / ".ralph-venv")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/lti_tool_bench_lrs"
        ),
        help="a database whose public schema this script may replace",
    )
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument(
        "--stored", type=int, default=2000, help="batches fill the store up to this many"
    )
    parser.add_argument("--only", default="ours-sqlite,ours-postgres,ralph")
    parser.add_argument(
        "--durability",
        choices=["full", "relaxed"],
        default="full",
        help="LTI_TOOL_DATABASE_DURABILITY of our servers (relaxed: commits do not wait "
        "for the disk, like Ralph's file backend)",
    )
    parser.add_argument("--server", choices=["gunicorn", "waitress"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (ours)")
    parser.add_argument(
        "--derivation",
        choices=["worker", "background"],
        default="worker",
        help="ours: evidence derived by an lti-tool worker process (production) or by a "
        "thread of each web process",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (ours)")
    parser.add_argument(
        "--clients",
        type=int,
        default=1,
        help="concurrent clients, the same number for every target (1: sequential)",
    )
    parser.add_argument(
        "--grow",
        type=int,
        default=0,
        help="then batches until the store holds this many statements, and singles again",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of every target, in turn (each on a fresh store); medians are printed",
    )
    parser.add_argument(
        "--no-evidence",
        action="store_true",
        help="no référentiel, mapping rule or learners: statements are stored only",
    )
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    random.seed(42)

    serving = Serving(args.server, args.workers, args.threads, args.derivation)
    ours = (args.durability, not args.no_evidence, serving)
    starters: list[tuple[str, Callable[[], Target]]] = []
    if "ours-sqlite" in wanted:
        starters.append(("ours-sqlite", lambda: start_ours("ours (SQLite)", None, *ours)))
    if "ours-postgres" in wanted:
        starters.append(
            (
                "ours-postgres",
                lambda: start_ours("ours (PostgreSQL)", fresh_postgres(args.postgres), *ours),
            )
        )
    if "ralph" in wanted:
        if ralph_installed(args.ralph_venv):
            starters.append(("ralph", lambda: start_ralph(args.ralph_venv)))
        else:
            print(f"Ralph skipped: no {args.ralph_venv}/bin/ralph", file=sys.stderr)

    # Runs interleaved (every target once, then again) so that a slow spell of the
    # machine weighs on all of them alike.
    runs: dict[str, list[Target]] = {}
    for repetition in range(1, args.repeat + 1):
        for label, start in starters:
            print(f"… {label} (run {repetition} of {args.repeat})", file=sys.stderr)
            try:
                target = start()
            except Exception as error:  # one target down must not lose the others' figures
                print(f"{label} skipped: could not start ({error})", file=sys.stderr)
                continue
            try:
                run(target, args.singles, args.stored, args.clients, args.grow)
                if target.census is not None:
                    target.counted = target.census()
            finally:
                target.stop()
            print(
                f"  {target.name}: "
                + ", ".join(f"{k} {v:.0f}/s" for k, v in target.evidence_rates.items()),
                file=sys.stderr,
            )
            runs.setdefault(target.name, []).append(target)

    report([median_of(targets) for targets in runs.values()], args, serving)


def median_of(targets: list[Target]) -> Target:
    """One target whose rates are the medians of its runs (``spread``: their range)."""
    first = targets[0]
    merged = Target(first.name, first.statements_url, first.auth, first.stop, first.backlog)
    for column in first.rates:
        merged.rates[column] = statistics.median(t.rates[column] for t in targets)
        merged.evidence_rates[column] = statistics.median(t.evidence_rates[column] for t in targets)
        merged.lags[column] = statistics.median(t.lags[column] for t in targets)
        merged.cpu[column] = statistics.median(t.cpu[column] for t in targets)
        compared = [(t.evidence_rates if t.backlog else t.rates)[column] for t in targets]
        merged.spread[column] = (min(compared), max(compared))
    censuses = [t.counted for t in targets if t.counted is not None]
    merged.counted = censuses[-1] if censuses else None
    merged.runs = len(targets)
    return merged


def report(results: list[Target], args: argparse.Namespace, serving: Serving) -> None:
    columns = list(results[0].rates) if results else []
    ralph = next((t for t in results if t.name.startswith("ralph")), None)
    print(
        f"\nstatements/s, median of {args.repeat} run(s) "
        f"({args.singles} single POSTs per single phase, batches of 100; "
        f"{args.clients} client process(es), keep-alive; ours: {serving.label()}, "
        f"durability {args.durability}, "
        f"{'statements only' if args.no_evidence else 'with evidence'}; "
        f"load average {os.getloadavg()[0]:.2f})"
    )
    width = max([len(c) for c in columns] + [12]) + 2
    label = 36

    def row(name: str, values: list[str]) -> None:
        print(f"{name:<{label}}" + "".join(f"{v:>{width}}" for v in values))

    row("target", columns)
    for target in results:
        row(f"{target.name}, acknowledged", [f"{target.rates[c]:.0f}" for c in columns])
        if target.backlog is not None:
            row(
                f"{target.name}, evidence done",
                [f"{target.evidence_rates[c]:.0f}" for c in columns],
            )
            row(
                f"{target.name}, evidence lag (ms)",
                [f"{target.lags[c] * 1000:.0f}" for c in columns],
            )
    for target in results:
        row(f"{target.name}, CPU µs/statement", [f"{target.cpu[c]:.0f}" for c in columns])
    if args.repeat > 1:
        for target in results:
            row(
                f"{target.name}, lowest-highest",
                [f"{low:.0f}-{high:.0f}" for low, high in target.spread.values()],
            )
    if ralph is not None:
        for target in results:
            if target is not ralph:
                rates = target.evidence_rates if target.backlog else target.rates
                row(
                    f"{target.name} / ralph",
                    [f"{rates[c] / ralph.rates[c]:.1f}x" for c in columns],
                )
    print(
        f"CPU µs/statement: the machine's busy time ({os.cpu_count()} CPUs) per statement, "
        f"from a phase's first POST until its evidence is done; R statements/s leaves "
        f"{os.cpu_count()} × 10⁶ / R µs."
    )
    for target in results:
        if target.counted is not None:
            stored, evidence = target.counted
            print(
                f"{target.name}: {stored:,} statements stored, {evidence:,} evidence rows "
                "(last run)"
            )


if __name__ == "__main__":
    main()

"""Does the installed kafka-python let two group members share a fresh topic? Count the failures.

    .venv/bin/python benchmarks/kafka_group_join.py --rounds 40 --parallel 2

Why it exists: kafka-python 3.0.12 sometimes drops the group leader's SyncGroup answer when a
metadata refresh lands during the assignment. The leader never learns its partitions, stops
heartbeating, is expelled after the session timeout and stays outside the group: its peer ends up
with every partition while it still reports its old ones (or none) and reads nothing, for good. finsentry pins ``kafka-python<3``
because of it (pyproject.toml); run this before moving the pin.

Each round creates a 4-partition topic, starts two member processes of one new group at the same
moment (subscribe, then poll with finsentry's heartbeat settings, pausing ``--work-ms`` after each
poll as a member that processes what it read) and reads the assignment each
holds ``--hold-s`` seconds later, at the same wall-clock moment for both; they leave the group only
3 s after that, so one member's leaving does not show in the other's answer. A round passes when
each member owns two partitions and together they own all four. Starts a throw-away broker (infra/kafka/broker) unless
``--bootstrap`` is given. Prints one line per round and the count of failed rounds; exits 1 when
any round failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_common import broker  # noqa: E402

PARTITIONS = 4
LEAVE_AFTER_S = 3.0  # members stay in the group this long after the common sampling time


def member(
    bootstrap: str, topic: str, group: str, until: float, session_ms: int, work_s: float
) -> int:
    """One group member: poll until the wall-clock time ``until``, print the partitions it owns
    then, and keep polling a few seconds more before leaving, so that neither member's leaving
    the group changes what the other one reports."""
    import logging

    from kafka import KafkaConsumer

    from finsentry.sources.kafka.consumer import heartbeat_interval_ms

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=session_ms,
        heartbeat_interval_ms=heartbeat_interval_ms(session_ms),
    )  # fmt: skip
    consumer.subscribe([topic])
    while time.time() < until:
        consumer.poll(timeout_ms=int(min(300.0, max(1.0, (until - time.time()) * 1000))))
        time.sleep(work_s)  # what a real member does between polls (finsentry scores a batch)
    owned = sorted(tp.partition for tp in consumer.assignment())
    print(json.dumps(owned), flush=True)  # noqa: T201 - read by the round
    while time.time() < until + LEAVE_AFTER_S:
        consumer.poll(timeout_ms=300)
    consumer.close(autocommit=False)
    return 0


def one_round(
    bootstrap: str, hold_s: float, session_ms: int, work_ms: int, logs: Path | None
) -> tuple[str, list[list[int] | None]]:
    """Create a topic, start two members together; the topic and what each owned at the end."""
    from finsentry.config import Settings
    from finsentry.sources.publish import ensure_topic

    topic = f"join-{uuid.uuid4().hex[:10]}"
    ensure_topic(Settings(kafka_bootstrap=bootstrap), topic, PARTITIONS)
    until = time.time() + hold_s  # both members report what they own at this same moment
    argv = [sys.executable, __file__, "--member", bootstrap, topic, f"g-{topic}",
            "--until", repr(until), "--session-timeout-ms", str(session_ms),
            "--work-ms", str(work_ms)]  # fmt: skip
    with ExitStack() as files:
        errs = [
            files.enter_context(open(logs / f"{topic}.{n}.log", "wb")) if logs else subprocess.DEVNULL
            for n in range(2)
        ]
        procs = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)  # noqa: S603
            for err in errs
        ]
        owned: list[list[int] | None] = []
        for proc in procs:
            out, _ = proc.communicate(timeout=hold_s + LEAVE_AFTER_S + 120)
            lines = [line for line in out.splitlines() if line.startswith("[")]
            owned.append(json.loads(lines[-1]) if proc.returncode == 0 and lines else None)
    return topic, owned


def shared_fairly(owned: list[list[int] | None]) -> bool:
    """Each member owns half the partitions and together they own all of them."""
    if None in owned:
        return False
    parts = [set(o or ()) for o in owned]
    return all(len(p) == PARTITIONS // 2 for p in parts) and set.union(*parts) == set(range(PARTITIONS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=1, help="rounds at once (other groups)")
    parser.add_argument("--hold-s", type=float, default=14.0, help="when the members report")
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument("--work-ms", type=int, default=50, help="pause after each poll")
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--logs", type=Path, help="keep each member's client log in this folder")
    parser.add_argument("--member", nargs=3, metavar=("BOOTSTRAP", "TOPIC", "GROUP"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.member:
        return member(
            *args.member, args.until, args.session_timeout_ms, args.work_ms / 1000.0
        )

    from kafka.version import __version__ as client_version

    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)

    failed = 0
    with broker(args.bootstrap) as bootstrap, ThreadPoolExecutor(args.parallel) as pool:
        futures = [
            pool.submit(
                one_round, bootstrap, args.hold_s, args.session_timeout_ms, args.work_ms, args.logs
            )
            for _ in range(args.rounds)
        ]
        for n, future in enumerate(futures, 1):
            topic, owned = future.result()
            ok = shared_fairly(owned)
            failed += not ok
            print(f"round {n:3d}/{args.rounds} {topic}: members own {owned}"  # noqa: T201
                  f" {'ok' if ok else 'FAILED'}", flush=True)  # fmt: skip
    print(  # noqa: T201
        f"kafka-python {client_version}: {failed} of {args.rounds} two-member starts did not share"
        f" the topic ({failed / max(1, args.rounds):.1%})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

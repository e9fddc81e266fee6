"""`invoice-true run`, `invoice-true demo`, `invoice-true status` and `invoice-true doctor`.

Exit status (DESIGN.md "How it runs"): 0 published and every check passed; 2 published but
checks failed (each named on one line); 1 nothing published, with a one-line reason. Status: 0
when the last run was clean, 2 when it was not, 1 when nothing is published (pipelines/status.py).
Doctor: 0 when the configuration is usable and every source answered, else 1 (pipelines/doctor.py).

Dagster is imported only by the commands that run it: `status` reads the published file alone.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from pipelines import progress

PUBLISHED, NOT_PUBLISHED = 0, 1  # as pipelines/runner.py
DEMO_WAREHOUSE = "var/demo/invoice_true.duckdb"
# The FOCUS form keeps its own warehouse and lake: one resource takes its spend from one billing source.
DEMO_FOCUS_FOLDER = "var/demo-focus"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invoice-true", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialise every UTC day of [start, end) and publish WAREHOUSE_PATH")
    run.add_argument("--start", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    run.add_argument("--end", type=date.fromisoformat, required=True, help="day after the last, YYYY-MM-DD")
    demo_parser = commands.add_parser("demo", help="serve the bundled fixture fleet on loopback, run all its days, "
                                      "print $/Mtok")
    demo_parser.add_argument(
        "--billing", choices=("snapshots", "focus"), default="snapshots",
        help="snapshots: the billing API's cumulative samples (default); focus: the same bills written as an "
        "hourly FOCUS export (rule 11), read by the focus_cost_rows adapter")
    for command in (run, demo_parser):
        command.add_argument("--quiet", action="store_true",
                             help="no progress (pages, rows, rows/s, ETA per day and source); findings still print")
    status = commands.add_parser("status", help="is yesterday final and clean? read from the published file alone")
    status.add_argument("--day", type=date.fromisoformat, default=None,
                        help="the UTC day to ask about, YYYY-MM-DD (default: yesterday)")
    doctor = commands.add_parser("doctor", help="check the configuration and probe each source (rows in the last hour)")
    doctor.add_argument("--at", type=instant, default=None,
                        help="count the hour before this RFC 3339 instant instead of now, e.g. 2026-11-30T11:00:00Z")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return NOT_PUBLISHED if exc.code else PUBLISHED
    if args.command == "status":
        from pipelines.status import run_status
        from pipelines.warehouse import published_path_from_env

        return run_status(published_path_from_env(), args.day)
    from pipelines.instance import silence_dagster
    from pipelines.runner import run_days

    silence_dagster()
    if args.command == "doctor":
        from pipelines.doctor import run_doctor

        return run_doctor(now=args.at)
    if args.command == "run":
        with progress.shown_by(progress.choose(args.quiet)):
            outcome = run_days(args.start, args.end)
        return report(outcome)
    return demo(args.billing, args.quiet)


def instant(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("an instant needs its zone, e.g. Z")
    return at.astimezone(timezone.utc)


def report(outcome) -> int:
    for line in outcome.lines:
        print(line, file=sys.stderr if outcome.exit_code else sys.stdout)
    return outcome.exit_code


def demo(billing: str = "snapshots", quiet: bool = False) -> int:
    from fixtures.fleet import default_week
    from fixtures.server import FixtureServer
    from pipelines.demo_report import print_demo_table
    from pipelines.runner import run_days

    fleet = default_week()
    if billing == "focus":
        use_focus_export(fleet)
    token = secrets.token_urlsafe(24)
    server = FixtureServer(fleet, token=token).start()
    try:
        os.environ.update(
            BILLING_API_URL=server.url,
            GATEWAY_API_URL=server.url,
            BILLING_API_TOKEN=token,
            GATEWAY_API_TOKEN=token,
        )
        os.environ.setdefault("WAREHOUSE_PATH", DEMO_WAREHOUSE)
        print(f"serving the bundled demo fleet ({fleet.days[0]} to {fleet.days[-1]}) at {server.url}")
        with progress.shown_by(progress.choose(quiet)):
            outcome = run_days(fleet.days[0], fleet.days[-1].fromordinal(fleet.days[-1].toordinal() + 1))
    finally:
        server.close()
    if outcome.exit_code != NOT_PUBLISHED:
        from dashboards.render import dashboard_path_for

        published = Path(os.environ["WAREHOUSE_PATH"]).resolve()
        print_demo_table(published)
        print(f"Dashboard: {dashboard_path_for(published)}")
    return report(outcome)


def use_focus_export(fleet) -> None:
    """Write the fleet's billing as an hourly FOCUS export and a configuration that reads it, and
    point this process at them (INVOICE_TRUE_CONFIG); requests and events stay on the demo server."""
    from fixtures.wires.focus import config_text, write_export
    from pipelines.config import CONFIG_ENV, load_config

    folder = Path(DEMO_FOCUS_FOLDER).resolve()
    export = write_export(fleet, folder / "export")
    config = folder / "invoice-true.toml"
    config.write_text(config_text(export, export.parquet.parent))
    os.environ[CONFIG_ENV] = str(config)
    os.environ.setdefault("WAREHOUSE_PATH", str(folder / "invoice_true.duckdb"))
    load_config.cache_clear()
    print(f"billing from the FOCUS export at {export.parquet.parent} ({export.rows.height:,} resource-hours; "
          f"configuration {config})")


if __name__ == "__main__":
    sys.exit(main())

"""What each mark says on hover (its SVG `<title>`): the published values, exactly.

Axes and labels round for reading; a tooltip never does. Money keeps the 9 decimals the mart
holds, counts are whole and grouped, fractions are shown as percentages with every digit
(0.003000000 -> 0.3 %). One function per kind of mark, named for the chart that draws it.
"""

from __future__ import annotations

from datetime import timedelta

from dashboards import fmt
from dashboards.data import Row


def _billing(complete: bool) -> str:
    return "billing complete" if complete else "INCOMPLETE billing: not a clean figure"


def _verdict(verdict: str | None) -> str:
    return f", {verdict.replace('_', ' ')}" if verdict else ""


def band_point(r: Row) -> str:
    return (f"{r['day']} {r['tier']}: {fmt.usd_per_mtok_exact(r['usd_per_mtok'])}, "
            f"idle {fmt.pct_exact(r['idle_fraction'])}, {fmt.number_exact(r['completion_tokens'])} tokens, "
            f"spend {fmt.usd_exact(r['spend'])}{_verdict(r['verdict'])}, {_billing(r['billing_complete'])}")


def idle_point(tier: str, label: str, r: Row) -> str:
    return (f"{tier}, idle {label}: {fmt.usd_per_mtok_exact(r['usd_per_mtok'])} over "
            f"{fmt.number_exact(r['resource_hours'])} resource-hours, spend {fmt.usd_exact(r['spend_usd'])}, "
            f"{fmt.number_exact(r['completion_tokens'])} tokens")


def spend_bar(r: Row, state: str) -> str:
    return (f"{r['day']} {r['tier']}: {state} {fmt.usd_exact(r[state])} of {fmt.usd_exact(r['spend'])} spend, "
            f"{_billing(r['billing_complete'])}")


def model_bar(m: Row) -> str:
    days = f"{m['first_day']} to {m['last_day']}" if m["first_day"] != m["last_day"] else f"{m['first_day']}"
    incomplete = (f", {m['incomplete_days']} day(s) with incomplete billing" if m["incomplete_days"]
                  else ", billing complete")
    return (f"{m['tier']} {m['model']} ({days}): spend {fmt.usd_exact(m['spend'])}, "
            f"{fmt.number_exact(m['completion_tokens'])} tokens, {fmt.number_exact(m['requests'])} requests, "
            f"{fmt.usd_per_mtok_exact(m['usd_per_mtok'])}{incomplete}")


def crossover_self_hosted(r: Row) -> str:
    return (f"{r['tier']} self-hosted: {fmt.usd_exact(r['self_hosted_monthly'])} a month at any utilisation "
            f"(rent {fmt.usd_exact(r['spend_monthly'])} + ops labour {fmt.usd_exact(r['ops_labour_monthly'])})")


def crossover_gateway(r: Row) -> str:
    return (f"{r['tier']} gateway at {fmt.usd_per_mtok_exact(r['gateway_usd_per_mtok'])}: "
            f"{fmt.usd_exact(r['gateway_monthly'])} a month for {fmt.number_exact(r['completion_tokens_monthly'])} tokens "
            "(grows with the tokens the fleet would serve)")


def crossover_today(r: Row, option: str) -> str:
    value = r["self_hosted_monthly"] if option == "self_hosted" else r["gateway_monthly"]
    return (f"{r['tier']} today, {option.replace('_', '-')}: {fmt.usd_exact(value)} a month at utilisation "
            f"{fmt.pct_exact(r['utilisation'])} (break-even {fmt.pct_exact(r['breakeven_utilisation'])})")


def demand_day(r: Row) -> str:
    return (f"{r['day']} {r['tier']}: median {fmt.number_exact(r['median_hourly_tokens'])} tokens/h, "
            f"p95 {fmt.number_exact(r['p95_hourly_tokens'])} tokens/h, peak {fmt.number_exact(r['peak_hourly_tokens'])} "
            f"tokens/h at {fmt.utc_exact(r['peak_hour']) if r['peak_hour'] else fmt.DASH}, "
            f"peak ÷ median {fmt.number_exact(r['peak_to_median'])}, busy {fmt.pct_exact(r['busy_fraction'])}, "
            f"{fmt.number_exact(r['completion_tokens'])} tokens in the day, {_billing(r['billing_complete'])}")


def watched_lane(r: Row) -> str:
    return (f"{r['resource_id']} ({r['tier']}): hours from {fmt.utc_exact(r['first_hour'])} to "
            f"{fmt.utc_exact(r['last_hour'] + timedelta(hours=1))}")


def gap(g: Row) -> str:
    return (f"billing gap on {g['resource_id']}: {fmt.utc_exact(g['gap_start'])} to {fmt.utc_exact(g['gap_end'])}, "
            f"{fmt.seconds_exact(g['seconds'])} dark (money counted, hours flagged incomplete)")


def reset(r: Row) -> str:
    return (f"reset on {r['resource_id']} at {fmt.utc_exact(r['at'])} ({r['reason'].replace('_', ' ')}): "
            f"cumulative {fmt.usd_exact(r['previous_cumulative'])} → {fmt.usd_exact(r['cumulative'])}")


def quarantine(source: str, count: int | None) -> str:
    return f"quarantine.{source}: " + ("table missing" if count is None else f"{fmt.number_exact(count)} rows quarantined")

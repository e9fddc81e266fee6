"""UTC days for the sources and marts, UTC months for invoices."""

import os

import dagster as dg

# The first day a fleet's history may be asked for (the bundled demo week starts 2026-10-26).
FIRST_DAY = os.environ.get("INVOICE_TRUE_FIRST_DAY", "2020-01-01")

daily = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC")
monthly = dg.MonthlyPartitionsDefinition(start_date=FIRST_DAY[:8] + "01", timezone="UTC")

# A date range runs as one run: fetch every day, then build the marts once over the range.
single_run = dg.BackfillPolicy.single_run()

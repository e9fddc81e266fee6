"""`python -m dashboards PUBLISHED.duckdb [OUT.html]`: render the dashboard of a published file."""

import sys

from dashboards.render import main

sys.exit(main())

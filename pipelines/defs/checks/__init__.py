"""Trust checks (DESIGN.md "Checks", issue 4): data contracts, quarantine share, dark billing.

Every check here is ERROR when it fails and never blocking: a failed check never hides
data (the flags in the tables tell the truth); `invoice-true run` exits 2 and names it.
"""

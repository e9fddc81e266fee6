"""The provider's invoice: monthly FOCUS import, reconciliation, invoice-true $/Mtok per month."""

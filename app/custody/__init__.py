"""The custody bank's daily statement, reconciled against the custody ledger."""

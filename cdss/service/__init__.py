"""`cdss serve`: a CDS Hooks 2.0 service (patient-view, order-select) on Starlette and uvicorn, and its feedback
store: which cards were shown, accepted or overridden and why, per rule, with no patient data.

Loaded only by `cdss serve` and `cdss feedback`: the web stack is never imported by the other commands.
"""

"""The clinic app: clinics, memberships and roles, access, audit, accounts and the second factor.

The bottom app (docs/architecture.md): it imports no other app, only the rules below it (a pure
library) for the limits it validates.
"""

"""The clinic's core: clinics, memberships and roles, access, audit, accounts and the second factor.

The lowest layer of the project (docs/architecture.md): it imports no other app, only the
rules engine's constants (rules, a pure library).
"""

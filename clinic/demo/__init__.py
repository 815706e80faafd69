"""The demo clinic: `seed_demo` and the states it seeds (docs/demo.md).

Part of the project's top layer (docs/architecture.md): it writes through every app's services.
"""

"""The demo clinic: `seed_demo` and the states it seeds (README.md, "Demo").

Part of the project's top layer (docs/architecture.md): it writes through every app's services.
"""

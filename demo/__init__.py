"""The demo clinic: `seed_demo` and the states it seeds (README.md, "Demo").

Beside the API, under the project's wiring (docs/architecture.md): it writes through every
app's services.
"""

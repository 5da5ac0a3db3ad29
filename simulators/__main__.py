"""python -m simulators (the same as `yiju simulate`)."""

from simulators.cli import simulate_app

simulate_app()

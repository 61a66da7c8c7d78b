"""Load the suite's pytest plugin modules (the machinery lives in fixtures/)."""

pytest_plugins = ["fixtures.plugin"]

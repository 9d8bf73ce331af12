"""The synthetic demo clinic (demo database and benchmarks); see `cocm_desktop.demo.history`."""

from cocm_desktop.demo.history import DEMO_LOGINS, DEMO_PASSWORD, DemoSummary, generate_demo

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "DemoSummary", "generate_demo"]

"""The instance page's tabs, the only words its tab URL accepts."""

TABS = ("overview", "access", "monitoring", "logs", "events", "yaml")

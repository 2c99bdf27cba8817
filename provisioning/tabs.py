"""The installed operator page's tabs, the only words its tab URL accepts."""

TABS = ("details", "subscription", "events", "instances")

"""A simulated Kubernetes cluster (API server + OLM + memcached operator) over HTTP.

Standalone: no Django imports, only the standard library and PyYAML, so it runs
in tests, from the management command, or as `python -m sandbox`.
"""

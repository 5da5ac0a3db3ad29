"""Operators' Grafana: dashboards, data source and alert rules as code, and `yiju grafana sync`."""

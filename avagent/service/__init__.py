"""The HTTP service: jobs API, dashboard, metrics."""

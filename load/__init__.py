"""chakong load testing: the reference query-and-control API and Locust scenarios."""

"""What ``chakong load`` runs around Locust: plan, child processes, summary, report."""

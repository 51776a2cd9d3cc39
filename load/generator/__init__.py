"""What runs inside the Locust processes: locustfile, court flows, open clock, histograms."""

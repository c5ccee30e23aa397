"""Monitoring: reference profiles, drift, quality, performance and anomaly monitors, history,
alerts, retraining and the HTML report. Everything is computed in SQL in the warehouse."""

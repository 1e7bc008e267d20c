"""Retention: the policy's retention rules run as sweeps, legal holds, and evidence of each run."""

"""Data subject rights requests: intake, identity, deadlines, execution plan, evidence."""

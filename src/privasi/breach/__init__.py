"""Breach register: incidents, affected subjects, the notification clocks and the notices."""

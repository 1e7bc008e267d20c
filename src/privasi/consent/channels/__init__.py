"""Consent through the channels people use: WhatsApp keywords, one-click e-mail unsubscribe."""

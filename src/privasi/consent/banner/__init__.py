"""The cookie banner a business embeds on its website, and the GPC declaration."""

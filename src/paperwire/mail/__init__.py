"""Mail: subscribers (lifecycle), digest (pure selection), render (Jinja, autoescape), outbox, sender."""

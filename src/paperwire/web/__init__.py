"""The web layer: HTML pages and JSON API (ours and the Hugging Face–compatible paths)."""

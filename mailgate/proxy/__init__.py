"""The privacy proxy for remote images (opt-in): signed URLs, SSRF-safe fetching, sniffing."""

"""What providers share: HTTP client, file reading and caching, day caches, request budgets."""

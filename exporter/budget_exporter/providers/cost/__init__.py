"""Cost sources: each reads one kind of bill and returns a normalized cost frame."""

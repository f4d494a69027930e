"""One module per dashboard, each assembled from the shared panel builders of panels.py."""

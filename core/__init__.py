"""Django-free building blocks every app shares (the pure cores import them too)."""

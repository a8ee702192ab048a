"""HTTP layer: typed dependencies and thin route handlers over the domain modules."""

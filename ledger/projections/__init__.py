"""Read models folded from the global order: the runner, rebuilds, and the projections."""

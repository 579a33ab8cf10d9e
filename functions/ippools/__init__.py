"""IP address pools: the pool table (definitions and allocations) and its conditional writes."""

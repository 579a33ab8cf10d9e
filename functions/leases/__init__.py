"""VM leases: the lease table and the copy of each lease on its VM's inventory row."""

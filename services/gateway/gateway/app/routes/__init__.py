"""HTTP routers of the gateway (thin: the work is in gateway.db and gateway.core)."""

"""`make bench` building blocks (bench-only; nothing here is imported by plugins or by `make test`)."""

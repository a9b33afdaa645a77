"""What runs the product rather than being it: the `make run` launcher, process helpers, the settings table.

Installed in the development environment (`make run`, `make test`) and the one-shot init image; no serving image
installs it.
"""

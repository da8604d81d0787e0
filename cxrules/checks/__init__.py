"""Checks of `cxrules check`; each module registers its codes."""

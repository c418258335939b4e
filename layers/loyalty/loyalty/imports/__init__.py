"""Imports (v1.2): another programme's members brought here, checked first and applied second."""

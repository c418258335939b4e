"""Imported once by the engine workers' fork server (`loyalty_local.workers`): the libraries every engine imports."""

from loyalty_local.workers import preload

preload()

"""Experiments as files: plans (``plan``), the day loop (``run``), reports (``report``)."""

from botify.experiment.cli import register

__all__ = ["register"]

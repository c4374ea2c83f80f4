"""The built-in trained models, one module each (see :mod:`botify.training.model`)."""

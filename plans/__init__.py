"""The catalogs, shipped as package data so ``goap demo`` finds them without a checkout.

``importlib.resources.files("plans") / "deployment.yaml"``; from a checkout they are also
plain files: ``goap plan plans/deployment.yaml``.
"""

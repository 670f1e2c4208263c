"""The project's Modal app: the GPU training and sampling functions of goap's models package.

`modal deploy cats/modal_app.py` deploys them (A10G, a 6 h timeout, the data volume at /vol);
A01 of the deployment plan checks those settings and trains one step through them.
"""

from models.modal_app import FUNCTIONS, SPECS, app

__all__ = ["FUNCTIONS", "SPECS", "app"]

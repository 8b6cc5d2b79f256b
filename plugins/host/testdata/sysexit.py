#!/usr/bin/python3
"""A plugin whose energy calls sys.exit(3) when the first point's first coordinate is 777: the
host must report that quickly and clearly (a thread that dies of SystemExit would look like a
hang to it)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import goebm_plugin as gp  # noqa: E402
from gaussian import GaussianDiag  # noqa: E402


class Exiting(GaussianDiag):
    def evaluate(self, req):
        if req.x.shape[0] > 0 and req.x[0, 0] == 777:
            sys.exit(3)
        return super().evaluate(req)


if __name__ == "__main__":
    gp.serve(Exiting)

#!/usr/bin/python3
"""A plugin that starts a child inheriting its stderr (as subprocess, multiprocessing or a
shell's & do) and writes the child's pid to $GOEBM_TEST_PIDFILE: the host must still end it
within seconds and leave no process behind."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import goebm_plugin as gp  # noqa: E402
from gaussian import GaussianDiag  # noqa: E402


class Spawner(GaussianDiag):
    def configure(self, config, env):
        super().configure(config, env)
        child = subprocess.Popen(["sleep", "300"], stderr=sys.stderr, start_new_session=True)
        with open(os.environ["GOEBM_TEST_PIDFILE"], "a") as f:
            f.write(f"{child.pid}\n")


if __name__ == "__main__":
    gp.serve(Spawner)

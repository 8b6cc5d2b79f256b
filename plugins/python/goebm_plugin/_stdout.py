"""Stdout carries the go-plugin handshake line and nothing else.

Imported first by the package: it keeps a private duplicate of file descriptor 1 for the
handshake and points fd 1 and sys.stdout at stderr, so that no print and no library (nor a child
process) can write before or after the handshake line.
"""

import os
import sys

handshake_stream = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

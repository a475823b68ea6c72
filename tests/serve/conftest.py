"""rulec serve tests: real server processes on 127.0.0.1 (serve_helpers.Server)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "redis")]

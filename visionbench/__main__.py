"""``python -m visionbench`` (and ``torchrun ... -m visionbench``): the command line."""

import sys

from visionbench.harness.cli import main

sys.exit(main())

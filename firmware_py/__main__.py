"""`python -m guardroom` is the `guardroom` command."""
import sys

from .cli import main

sys.exit(main())

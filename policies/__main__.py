"""The CrossGuard policy pack, as `pulumi preview --policy-pack policies` runs it.

The CLI runs this file as a script with policies/ first on sys.path, so the
project root is put before it to import the rules as the `policies` package.
`PolicyPack` serves the analyzer and blocks until the CLI stops it: build
nothing else here.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policies.pack import ENFORCEMENT_LEVEL, NAME, POLICIES

PolicyPack(name=NAME, policies=POLICIES, enforcement_level=ENFORCEMENT_LEVEL)

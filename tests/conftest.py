"""Shared test set-up: Hypothesis profiles and small fixtures.

``HYPOTHESIS_PROFILE=ci`` (the default, used by .ci/run) runs a fixed, small,
derandomized example budget so the suite fits in minutes on 2 cores;
``HYPOTHESIS_PROFILE=thorough`` is for local runs before a release.
"""

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

settings.register_profile(
    "ci",
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    # no shrinking in CI: each shrink step of a rule case recompiles; a failure is reported as drawn
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""Shared test set-up: Hypothesis profiles, the session's seed, and small fixtures.

``HYPOTHESIS_PROFILE=ci`` (the default, used by .ci/run) runs a small example
budget with no shrinking so the suite fits in minutes on 2 cores; its draws
change from run to run.  Every session draws from one seed, printed in the
session header and summary: ``T2F_SEED=<seed>`` (or ``--hypothesis-seed=<seed>``)
repeats a run's draws, including under ``-n 2``.  ``HYPOTHESIS_PROFILE=thorough``
is for local runs before a release.
"""

import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the environment variable that fixes the session's seed; set by the controller for xdist workers
SEED_VARIABLE = "T2F_SEED"
SEED_KEY = pytest.StashKey[object]()

settings.register_profile(
    "ci",
    max_examples=4,
    deadline=None,
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


def session_seed(config) -> int | str:
    """The seed of this run: ``--hypothesis-seed``, else ``$T2F_SEED``, else a fresh random one.

    An integer as Hypothesis reads it; other text is used as it is (Hypothesis accepts it too).
    """
    chosen = config.getoption("hypothesis_seed", None) or os.environ.get(SEED_VARIABLE)
    if not chosen:
        return random.SystemRandom().randrange(2**32)
    try:
        return int(chosen)
    except ValueError:
        return chosen


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Fix the seed before Hypothesis' own plugin reads ``--hypothesis-seed``.

    The seed is exported so that xdist workers (started after this hook) draw
    from the same one as the controller that prints it.
    """
    seed = session_seed(config)
    os.environ[SEED_VARIABLE] = str(seed)
    config.option.hypothesis_seed = str(seed)
    config.stash[SEED_KEY] = seed


def reproduce_line(config) -> str:
    """The line that says how to repeat this run's draws."""
    seed = config.stash[SEED_KEY]
    return f"seed {seed} (Hypothesis profile {settings.get_current_profile_name()!r}): rerun with {SEED_VARIABLE}={seed}"


def pytest_report_header(config):
    return reproduce_line(config)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Repeat the seed under the results, where ``-q`` (no header) still shows it."""
    terminalreporter.write_line(reproduce_line(config))


def run_cli(capsys, *argv):
    """``torch2flax ARGV`` in-process: (exit code, stdout, stderr); no traceback may reach the user."""
    from translator.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err

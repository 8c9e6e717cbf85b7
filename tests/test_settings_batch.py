"""The batch and Slurm settings: read from STATA_TOOLS_*, each bad value named."""

from __future__ import annotations

import pytest

from stata_tools.stata.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.batch_parallel == 2 and settings.slurm_poll_s == 5.0
    assert settings.slurm.partition is None and not settings.slurm_cancel_on_disconnect
    assert settings.log_polling == "auto"


def test_slurm_settings() -> None:
    settings = Settings.from_env(
        {
            "STATA_TOOLS_SLURM_PARTITION": "short",
            "STATA_TOOLS_SLURM_TIME": "2:00:00",
            "STATA_TOOLS_SLURM_CPUS": "4",
            "STATA_TOOLS_SLURM_MEM": "16G",
            "STATA_TOOLS_SLURM_ACCOUNT": "econ",
            "STATA_TOOLS_SLURM_EXTRA": "--qos=low; --constraint=avx2",
            "STATA_TOOLS_SLURM_POLL_S": "10",
            "STATA_TOOLS_SLURM_CANCEL_ON_DISCONNECT": "on",
            "STATA_TOOLS_BATCH_PARALLEL": "3",
            "STATA_TOOLS_LOG_POLLING": "ON",
        }
    )
    assert settings.slurm.directives() == [
        "#SBATCH --partition=short",
        "#SBATCH --time=2:00:00",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=16G",
        "#SBATCH --account=econ",
        "#SBATCH --qos=low",
        "#SBATCH --constraint=avx2",
    ]
    assert settings.slurm_poll_s == 10 and settings.slurm_cancel_on_disconnect
    assert settings.batch_parallel == 3 and settings.log_polling == "on"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STATA_TOOLS_SLURM_CPUS": "four"}, "SLURM_CPUS='four' is not a whole number"),
        ({"STATA_TOOLS_SLURM_TIME": "2h"}, "time limit '2h'"),
        ({"STATA_TOOLS_SLURM_EXTRA": "--output=x"}, "sets --output"),
        ({"STATA_TOOLS_SLURM_POLL_S": "0.5"}, "below the minimum of 2"),
        ({"STATA_TOOLS_BATCH_PARALLEL": "0"}, "below the minimum of 1"),
        ({"STATA_TOOLS_LOG_POLLING": "sometimes"}, "is not one of auto, on, off"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)

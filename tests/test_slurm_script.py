"""The sbatch script: options validated with clear errors, directives, the batch command."""

from __future__ import annotations

from pathlib import Path

import pytest

from stata_tools.stata.slurm.script import (
    SlurmOptionError,
    SlurmOptions,
    build_script,
    parse_array,
    parse_time_limit,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 1800),
        ("5:30", 330),
        ("2:00:00", 7200),
        ("1-12", 129600),
        ("1-12:30", 131400),
        ("2-00:00:10", 172810),
        ("UNLIMITED", None),
    ],
)
def test_time_limits(text: str, seconds: int | None) -> None:
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize("text", ["2h", "1:2:3:4", "-5", "", "0", "1-"])
def test_bad_time_limit_says_the_forms(text: str) -> None:
    with pytest.raises(SlurmOptionError, match="hours:minutes:seconds"):
        parse_time_limit(text)


def test_settings_then_per_call_options() -> None:
    base = SlurmOptions(partition="short", time_limit="1:00:00", cpus=2, extra=("--qos=low",))
    merged = base.merged(time_limit="4:00:00", memory="16g", cpus=None, extra=["--constraint=avx2"])
    assert merged.partition == "short" and merged.cpus == 2
    assert merged.directives() == [
        "#SBATCH --partition=short",
        "#SBATCH --time=4:00:00",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=16G",
        "#SBATCH --qos=low",
        "#SBATCH --constraint=avx2",
    ]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"partition": "short; rm -rf"}, "partition 'short; rm -rf' is not a name"),
        ({"account": "a b"}, "account 'a b' is not a name"),
        ({"cpus": 0}, "cpus 0 must be a whole number"),
        ({"cpus": True}, "cpus True must be a whole number"),
        ({"memory": "lots"}, "memory 'lots' is not Slurm's form"),
        ({"extra": ["--output=/tmp/x"]}, "sets --output, which stata-tools sets itself"),
        ({"extra": ["-a 1-3"]}, "sets --array"),
        ({"extra": ["--qos=a\nrm -rf ~"]}, "one option on one line"),
        ({"extra": ["qos=long"]}, "is not an sbatch option"),
        ({"colour": "red"}, "unknown Slurm option"),
    ],
)
def test_bad_options_are_refused_clearly(option: dict, message: str) -> None:
    with pytest.raises(SlurmOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SlurmOptions().merged(**option)


def test_extra_lines_may_carry_the_sbatch_prefix() -> None:
    options = SlurmOptions().merged(extra=["#SBATCH --qos=long", "--exclusive", "-N 1"])
    assert options.directives()[-3:] == [
        "#SBATCH --qos=long",
        "#SBATCH --exclusive",
        "#SBATCH -N 1",
    ]


def test_arrays() -> None:
    assert parse_array("1-5").indices == (1, 2, 3, 4, 5)
    assert parse_array("1,3,5-6").indices == (1, 3, 5, 6)
    assert parse_array("0-10:5").indices == (0, 5, 10)
    spec = parse_array("1-100%10")
    assert len(spec.indices) == 100 and spec.throttle == 10 and spec.text == "1-100%10"
    for bad in ("a-b", "5-1", "1-10:0", "1-3%x", "", "1-20000"):
        with pytest.raises(SlurmOptionError):
            parse_array(bad)


def test_script_for_one_job(tmp_path: Path) -> None:
    script = build_script(
        command=["/opt/stata/stata-mp", "-b", "do", "/home/u/my job.do"],
        working_dir=Path("/home/u"),
        output=tmp_path / "slurm-%j.out",
        job_name="stata my job",
        options=SlurmOptions(partition="short", cpus=4),
    )
    lines = script.splitlines()
    assert lines[:5] == [
        "#!/bin/bash",
        "#SBATCH --job-name=stata_my_job",
        f"#SBATCH --output={tmp_path / 'slurm-%j.out'}",
        "#SBATCH --partition=short",
        "#SBATCH --cpus-per-task=4",
    ]
    assert lines[-2:] == [
        "cd /home/u || exit 1",
        "exec /opt/stata/stata-mp -b do '/home/u/my job.do'",
    ]


def test_script_for_an_array_gives_each_task_its_copy_and_index(tmp_path: Path) -> None:
    do_file = Path("/home/u/sim.do")
    script = build_script(
        command=["/opt/stata/stata-mp", "-b", "do", str(do_file)],
        working_dir=Path("/home/u"),
        output=tmp_path / "slurm-%A_%a.out",
        job_name="sim",
        options=SlurmOptions(),
        array=parse_array("1-10"),
        do_file=do_file,
        run_dir=tmp_path,
    )
    assert "#SBATCH --array=1-10" in script
    task = f'{tmp_path}/sim_task"$SLURM_ARRAY_TASK_ID".do'
    assert f"cp /home/u/sim.do {task} || exit 1" in script
    assert script.rstrip().endswith(f'exec /opt/stata/stata-mp -b do {task} "$SLURM_ARRAY_TASK_ID"')

"""Hostile input: random bytes and malformed CSV, JSON, JSON lines, text and event files.

The only allowed outcomes, through `read_log` and through `plateau-cli diagnose`, are success or
a PlateauError: exit 2 with exactly one line on stderr, never a traceback. The example budget
is CI's (tests/fuzzing.py: 300, derandomized); PLATEAU_FUZZ_EXAMPLES=2000 raises it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plateau_cli.errors import PlateauError
from plateau_cli.logs import read_log
from tests.e2e.runner import run_cli
from tests.fuzzing import EXAMPLES

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
EVENT_FILE = next((FIXTURES / "keras" / "tensorboard" / "train").glob("events.out.tfevents.*"))
NAMES = [
    "run.log",
    "metrics.csv",
    "trainer_state.json",
    "train.jsonl",
    "events.out.tfevents.1.h",
    "x",
]

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["nan", "inf", "-inf", "", "n/a", "1e999", "0x10", "1,5", "--", '"']),
)
names = st.sampled_from(["epoch", "step", "loss", "val_loss", "acc", "lr", "", "Epoch", "x y"])
cells = st.one_of(numbers, names, st.text(max_size=8))


@st.composite
def csv_text(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 6))
    header = draw(st.lists(names, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=width + 2), max_size=12))
    text = "\n".join(delimiter.join(r) for r in [header, *rows])
    ending = draw(st.sampled_from(["", "\n", "\r\n"]))
    return (draw(st.sampled_from(["", "\ufeff"])) + text + ending).encode()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(names, st.text(max_size=5)), inner, max_size=5),
    ),
    max_leaves=20,
)


@st.composite
def trainer_state(draw: st.DrawFn) -> bytes:
    entries = draw(
        st.lists(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"epoch": st.one_of(st.floats(), st.integers(), st.text(max_size=3))},
                    optional={
                        "loss": st.floats(),
                        "eval_loss": st.floats(),
                        "step": st.integers(-5, 10**20),
                        "train_runtime": st.floats(),
                    },
                ),
            ),
            max_size=10,
        )
    )
    text = json.dumps({"log_history": entries, "global_step": draw(json_values)})
    cut = draw(st.integers(0, len(text)))
    return text[: cut if draw(st.booleans()) else len(text)].encode()


@st.composite
def json_lines(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(
            st.one_of(json_values.map(json.dumps), st.text(max_size=20), st.just("[" * 5000)),
            max_size=10,
        )
    )
    first = json.dumps({"epoch": draw(st.integers(-3, 5)), "loss": draw(st.floats())})
    return "\n".join([first, *lines]).encode()


@st.composite
def printed_text(draw: st.DrawFn) -> bytes:
    parts = st.one_of(
        st.sampled_from(
            [
                "Epoch",
                "epoch",
                "[epoch",
                "Step",
                "|",
                ":",
                "=",
                "/",
                ",",
                "%",
                "\r",
                "\x08",
                "\x1b[1m",
                " - ",
                "loss",
                "val_acc",
                "Val Loss",
                "ETA",
            ]
        ),
        numbers,
        st.text(max_size=6),
    )
    lines = draw(st.lists(st.lists(parts, max_size=12).map(" ".join), min_size=1, max_size=15))
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


@st.composite
def damaged_events(draw: st.DrawFn) -> bytes:
    data = bytearray(EVENT_FILE.read_bytes())
    data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


inputs = st.one_of(
    st.binary(max_size=2000),
    csv_text(),
    trainer_state(),
    json_lines(),
    printed_text(),
    damaged_events(),
)


def _check(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        message = None
        try:
            read = read_log(path)
        except PlateauError as exc:
            message = exc.message
        if message is None:
            assert read.history.epochs
        else:
            assert message
            assert "\n" not in message
        result = run_cli(["diagnose", str(path), "--json"])
        assert result.code in (0, 1, 2), result.stderr
        if result.code == 2:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith("error: "), result.stderr
        else:
            json.loads(result.stdout)


@fuzz
@given(content=inputs, name=st.sampled_from(NAMES))
def test_hostile_files_fail_cleanly(content, name):
    _check(content, name)


@fuzz
@given(content=damaged_events())
def test_damaged_event_files(content):
    _check(content, "events.out.tfevents.1700000000.host")


@fuzz
@given(content=csv_text())
def test_malformed_csv(content):
    _check(content, "metrics.csv")


@fuzz
@given(content=st.one_of(trainer_state(), json_lines()))
def test_malformed_json(content):
    _check(content, "log.json")


@fuzz
@given(content=printed_text())
def test_malformed_text(content):
    _check(content, "train.log")


def test_huge_line_and_deep_nesting():
    _check(b"Epoch 1/3, loss: 0.5 " + b"x" * 3_000_000 + b"\n", "run.log")
    _check(b'{"epoch": 1, "loss": 0.5}\n' + b'{"a":' * 200_000 + b"\n", "run.jsonl")
    _check(b'{"log_history": ' + b"[" * 200_000 + b"\n", "trainer_state.json")

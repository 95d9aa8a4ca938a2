"""Fuzzing the checkpoint readers: random bytes and mutated real checkpoints.

The only allowed outcomes are success or a PlateauError (through the CLI: exit 0, or exit 2
with exactly one line), never another exception, never a hang. Layers: the sniffer alone
(random bytes behind every magic number it knows), then each framework's readers on mutated
real files (torch: zip, legacy and safetensors through the safe loader and the layout
detection; Keras: .keras and .h5 through the archive reader), then `plateau-cli inspect` on
mutated files of every format. Mutations flip, overwrite, insert and cut bytes, half of them
in the last 512 bytes, where a zip keeps its central directory; or they damage one member of
an archive (config.json, model.weights.h5, data.pkl) and rebuild it with valid checksums.

Budget: PLATEAU_FUZZ_EXAMPLES examples per test (300, as CI runs it; tests/conftest.py), and
pytest-timeout bounds the whole test, so a hang fails it; no stopwatch per example (a busy
machine is not a bug).
The deterministic tests at the end pin what fuzzing found, so it stays fixed.
"""

from __future__ import annotations

import contextlib
import io
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plateau_cli.adapters.sniff import sniff_checkpoint
from plateau_cli.errors import PlateauError
from tests.e2e.runner import run_cli
from tests.fuzzing import EXAMPLES
from tests.security.conftest import MLP_FACTORY

TEST_TIMEOUT_S = 120 + 4 * EXAMPLES

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the bound is the test's timeout: no flaky per-example deadline
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MAGICS = [b"", b"PK\x03\x04", b"\x89HDF\r\n\x1a\n", b"\x80\x02", b"\x80\x05", b"\x8a\x0al\xfc"]
SUFFIXES = [".keras", ".h5", ".pt", ".pth", ".ckpt", ".safetensors", ".bin", ""]


def _mutate(draw: st.DrawFn, data: bytes) -> bytes:
    """1 to 6 flips, overwrites, insertions or cuts; half of them in the last 512 bytes.

    Positions come from a drawn `random.Random`: hypothesis' own integers favour small values,
    which would keep every mutation near the start of a file.
    """
    rnd = draw(st.randoms(use_true_random=False))
    out = bytearray(data)
    for _ in range(rnd.randint(1, 6)):
        if not out:
            break
        window = min(len(out), 512)
        pos = (
            len(out) - 1 - rnd.randrange(window) if rnd.random() < 0.5 else rnd.randrange(len(out))
        )
        op = rnd.choice(["set", "overwrite", "insert", "cut", "ones", "zeros"])
        chunk = rnd.randbytes(rnd.randint(1, 16))
        if op == "set":
            out[pos] = chunk[0]
        elif op == "overwrite":
            out[pos : pos + len(chunk)] = chunk
        elif op == "insert":
            out[pos:pos] = chunk
        elif op == "cut":
            del out[pos:]
        else:
            out[pos : pos + 8] = (b"\xff" if op == "ones" else b"\x00") * 8
    return bytes(out)


@st.composite
def mutations(draw: st.DrawFn, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """A seed's name and its bytes, mutated as a whole or, for an archive, one member mutated
    and the archive rebuilt with valid checksums (so the damage reaches the framework's own
    parser instead of stopping at zipfile's CRC check)."""
    name = draw(st.sampled_from(sorted(seeds)))
    seed = seeds[name]
    if not (seed.startswith(b"PK\x03\x04") and draw(st.booleans())):
        return name, _mutate(draw, seed)
    with zipfile.ZipFile(io.BytesIO(seed)) as source:
        infos = source.infolist()
        victim = draw(st.sampled_from([info.filename for info in infos]))
        rebuilt = io.BytesIO()
        with zipfile.ZipFile(rebuilt, "w") as target:
            for info in infos:
                data = source.read(info)
                target.writestr(info, _mutate(draw, data) if info.filename == victim else data)
    return name, rebuilt.getvalue()


# -- the sniffer on random bytes -------------------------------------------------------------


@pytest.mark.timeout(TEST_TIMEOUT_S)
@fuzz
@given(
    magic=st.sampled_from(MAGICS),
    body=st.binary(max_size=4096),
    suffix=st.sampled_from(SUFFIXES),
)
def test_sniffer_on_random_bytes(tmp_path_factory, magic, body, suffix):
    path = tmp_path_factory.getbasetemp() / f"random{suffix}"
    path.write_bytes(magic + body)
    try:
        sniffed = sniff_checkpoint(path)
    except PlateauError as exc:
        message = str(exc)
    else:
        message = ""
        assert sniffed.framework in ("keras", "torch")
    assert "\n" not in message


@pytest.mark.timeout(TEST_TIMEOUT_S)
@fuzz
@given(
    size=st.integers(0, 2**64 - 1),
    header=st.one_of(st.binary(max_size=64), st.just(b'{"w": {"dtype": "F32"}}')),
)
def test_sniffer_on_safetensors_like_headers(tmp_path_factory, size, header):
    """A little-endian length then '{': the one format sniffed by parsing a header."""
    path = tmp_path_factory.getbasetemp() / "random.safetensors"
    path.write_bytes(struct.pack("<Q", size) + b"{" + header)
    with contextlib.suppress(PlateauError):
        sniff_checkpoint(path)


# -- torch: the safe loader and the layout detection on mutated real files --------------------


@pytest.fixture(scope="module")
def torch_seeds() -> dict[str, bytes]:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save

    from tests.adapters.torch.torch_fixtures import nets

    torch.manual_seed(0)
    model = nets.mlp()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.zeros(2, 64)).sum().backward()
    optimizer.step()
    checkpoint = {"epoch": 1, "model_state_dict": model.state_dict(),
                  "optimizer_state_dict": optimizer.state_dict()}  # fmt: skip
    seeds = {}
    for name, kwargs in (("zip.pt", {}), ("legacy.pt", {"_use_new_zipfile_serialization": False})):
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer, **kwargs)
        seeds[name] = buffer.getvalue()
    seeds["model.safetensors"] = save(dict(model.state_dict()))
    return seeds


@pytest.mark.torch
@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_torch_readers_on_mutated_files(torch_seeds, tmp_path_factory):
    from plateau_cli.adapters.torch.layouts import detect_layout
    from plateau_cli.adapters.torch.loading import load_safetensors, load_torch_file

    directory = tmp_path_factory.mktemp("torch_fuzz")

    def read(path: Path) -> None:
        sniffed = sniff_checkpoint(path)
        if sniffed.format == "safetensors":
            load_safetensors(path)
        elif sniffed.format in ("torch-zip", "torch-legacy"):
            detect_layout(load_torch_file(path, trust_pickle=False).obj, str(path))

    @fuzz
    @given(mutations(torch_seeds))
    def check(case: tuple[str, bytes]) -> None:
        path = directory / case[0]
        path.write_bytes(case[1])
        try:
            read(path)
        except PlateauError as exc:
            message = str(exc)
        else:
            message = ""
        assert "\n" not in message

    check()


@pytest.mark.torch
@pytest.mark.timeout(TEST_TIMEOUT_S)
@fuzz
@given(st.binary(max_size=2048))
def test_static_pickle_scan_never_raises(data):
    from plateau_cli.adapters.torch.unsafe import refusal_message, scan_globals

    names = scan_globals(b"\x80\x04" + data)
    assert isinstance(names, list)
    refusal_message(Path("x.pt"), names, "reason")


# -- keras: the archive reader on mutated real files -----------------------------------------


@pytest.fixture(scope="module")
def keras_seeds(tmp_path_factory) -> dict[str, bytes]:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(keras.ops.zeros((2, 64)), keras.ops.zeros((2,), dtype="int32"))
    directory = tmp_path_factory.mktemp("keras_seeds")
    seeds = {}
    for name in ("model.keras", "model.h5"):
        model.save(directory / name)
        seeds[name] = (directory / name).read_bytes()
    return seeds


@pytest.mark.keras
@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_keras_archive_reader_on_mutated_files(keras_seeds, tmp_path_factory):
    from plateau_cli.adapters.keras.archive import read_facts
    from plateau_cli.adapters.keras.translate import reading_hdf5

    directory = tmp_path_factory.mktemp("keras_fuzz")

    def read(path: Path) -> None:
        sniffed = sniff_checkpoint(path)
        if sniffed.framework == "keras":
            with reading_hdf5(path):
                read_facts(path, sniffed.format)

    @fuzz
    @given(mutations(keras_seeds))
    def check(case: tuple[str, bytes]) -> None:
        path = directory / case[0]
        path.write_bytes(case[1])
        try:
            read(path)
        except PlateauError as exc:
            message = str(exc)
        else:
            message = ""
        assert "\n" not in message

    check()


# -- the CLI on mutated files of every format ------------------------------------------------


@pytest.mark.keras
@pytest.mark.torch
@pytest.mark.timeout(TEST_TIMEOUT_S * 2)
def test_inspect_on_mutated_checkpoints(keras_seeds, torch_seeds, tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli_fuzz")
    seeds = {**keras_seeds, **torch_seeds}
    outcomes = {0: 0, 2: 0}

    @fuzz
    @given(mutations(seeds))
    def check(case: tuple[str, bytes]) -> None:
        path = directory / case[0]
        path.write_bytes(case[1])
        args = ["inspect", str(path), "--json"]
        if not case[0].startswith("model.") or case[0].endswith(".safetensors"):
            args += ["--model-factory", MLP_FACTORY]
        result = run_cli(args)
        assert result.code in (0, 2), result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        if result.code == 2:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith("error: "), result.stderr
        outcomes[result.code] += 1

    check()
    assert outcomes[2] > 0  # the mutations do damage


# -- what fuzzing found, pinned ----------------------------------------------------------------


def _central_directory_edit(data: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite a field of every central-directory entry (offset from its signature)."""
    out = bytearray(data)
    start = 0
    while (start := out.find(b"PK\x01\x02", start)) != -1:
        out[start + offset : start + offset + len(value)] = value
        start += 4
    return bytes(out)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("field", "offset", "value", "needle"),
    [
        ("compression method 99", 10, struct.pack("<H", 99), "compression method 99"),
        ("encrypted flag", 8, struct.pack("<H", 1), "encrypted"),
        ("zip version 25.5", 6, struct.pack("<H", 255), "damaged or truncated zip"),
    ],
)
def test_zip_fields_no_checkpoint_writer_uses(field, offset, value, needle, torch_seeds, tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(_central_directory_edit(torch_seeds["zip.pt"], offset, value))
    result = run_cli(["inspect", str(path), "--model-factory", MLP_FACTORY])
    assert result.code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert needle in result.stderr, result.stderr


@pytest.mark.torch
def test_legacy_file_with_a_damaged_storage_key(torch_seeds, tmp_path):
    """torch's legacy reader fails an `assert` when a storage key was altered."""
    data = torch_seeds["legacy.pt"]
    with zipfile.ZipFile(io.BytesIO(torch_seeds["zip.pt"])) as archive:
        assert archive.namelist()  # the zip seed is sane; the legacy one is edited below
    keys = [
        i
        for i in range(len(data) - 20)
        if data[i : i + 5] == b"X\x0e\x00\x00\x00" and data[i + 5 : i + 19].isdigit()
    ][:1]
    assert keys, "no storage key found in the legacy seed"
    edited = bytearray(data)
    edited[keys[0] + 6] = ord("e")  # a digit of the first storage key becomes a letter
    path = tmp_path / "legacy.pt"
    path.write_bytes(bytes(edited))
    result = run_cli(["inspect", str(path), "--model-factory", MLP_FACTORY])
    assert result.code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

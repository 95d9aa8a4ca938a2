"""Writing small TensorBoard event files in tests, without TensorFlow or torch.

Records are framed exactly as TensorFlow frames them (both masked CRC-32Cs), so a test can damage
one part at a time: the last record cut short, a length header overwritten, a payload garbled.
"""

from __future__ import annotations

import struct
from pathlib import Path


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return (
        length
        + struct.pack("<I", masked_crc(length))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )


def scalar_event(step: int, tag: str, value: float, *, tensor: bool = False) -> bytes:
    """One event holding one scalar: `simple_value` (torch, TF1) or a v2 rank-0 float tensor
    with the scalars plugin (tf.summary / Keras 3)."""
    from tensorboard.compat.proto.event_pb2 import Event

    event = Event(wall_time=1.7e9, step=step)
    summary_value = event.summary.value.add()
    summary_value.tag = tag
    if tensor:
        summary_value.metadata.plugin_data.plugin_name = "scalars"
        summary_value.tensor.dtype = 1  # DT_FLOAT
        summary_value.tensor.float_val.append(value)
    else:
        summary_value.simple_value = value
    return event.SerializeToString()


def write_events(
    path: Path, scalars: list[tuple[int, str, float]], *, tensor: bool = False
) -> Path:
    from tensorboard.compat.proto.event_pb2 import Event

    path.parent.mkdir(parents=True, exist_ok=True)
    data = record(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
    data += b"".join(record(scalar_event(s, t, v, tensor=tensor)) for s, t, v in scalars)
    path.write_bytes(data)
    return path

"""Sequence classifiers and a padded-sequence DataLoader, written as a PyTorch user writes them.

Used by the compatibility suite both in-process and by path (`--model-factory FILE:make_lstm`,
`--data FILE:loaders`), so nothing here may import from the test package. The task: token ids
0..VOCAB-1 in sequences of 4..12 tokens; the label says whether token 1 occurs more often than
token 2. Batches are `(padded ids, lengths, labels)` from a collate_fn, as with
`pack_padded_sequence`.
"""

from __future__ import annotations

import torch  # noqa: TID253 (a user's model file, imported only when used)
from torch import nn  # noqa: TID253
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence  # noqa: TID253
from torch.utils.data import DataLoader, Dataset  # noqa: TID253

VOCAB = 12
#: Vocabulary of the fixed-length token classifier.
TOKENS = 256
PAD = 0


class Sequences(Dataset):
    def __init__(self, count: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(count):
            length = int(torch.randint(4, 13, (1,), generator=generator))
            ids = torch.randint(1, VOCAB, (length,), generator=generator)
            label = int((ids == 1).sum() > (ids == 2).sum())
            self.items.append((ids, label))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.items[index]


def collate(
    items: list[tuple[torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = pad_sequence([ids for ids, _ in items], batch_first=True, padding_value=PAD)
    lengths = torch.tensor([len(ids) for ids, _ in items])
    labels = torch.tensor([label for _, label in items])
    return ids, lengths, labels


def loaders(batch_size: int = 16) -> tuple[DataLoader, DataLoader]:
    train = DataLoader(
        Sequences(160, 0),
        batch_size=batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(0),
    )
    val = DataLoader(Sequences(64, 1), batch_size=batch_size, collate_fn=collate)
    return train, val


class LSTMClassifier(nn.Module):
    def __init__(self, hidden: int = 16, classes: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8, padding_idx=PAD)
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(
            self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return self.head(hidden[-1])


class GRUClassifier(LSTMClassifier):
    def __init__(self, hidden: int = 16, classes: int = 2) -> None:
        super().__init__(hidden, classes)
        self.lstm = nn.GRU(8, hidden, batch_first=True)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(
            self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, hidden = self.lstm(packed)
        return self.head(hidden[-1])


class TransformerClassifier(nn.Module):
    def __init__(self, width: int = 16, classes: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, width, padding_idx=PAD)
        self.position = nn.Parameter(torch.zeros(1, 16, width))
        layer = nn.TransformerEncoderLayer(
            width, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(width, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        padding = torch.arange(ids.shape[1], device=ids.device)[None] >= lengths[:, None]
        hidden = self.encoder(
            self.embed(ids) + self.position[:, : ids.shape[1]], src_key_padding_mask=padding
        )
        keep = (~padding).unsqueeze(-1).float()
        return self.head((hidden * keep).sum(1) / keep.sum(1))


class DictOutputClassifier(LSTMClassifier):
    """Returns a dict ({"logits", "hidden"}), as many research models do."""

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        packed = pack_padded_sequence(
            self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return {"hidden": hidden[-1], "logits": self.head(hidden[-1])}


def make_lstm(hidden: int = 16) -> nn.Module:
    return LSTMClassifier(hidden)


def make_gru(hidden: int = 16) -> nn.Module:
    return GRUClassifier(hidden)


def make_transformer() -> nn.Module:
    return TransformerClassifier()


def make_dict_output(hidden: int = 16) -> nn.Module:
    return DictOutputClassifier(hidden)


def logits_of(output: object) -> torch.Tensor:
    return output["logits"] if isinstance(output, dict) else output  # type: ignore[index]


def train(model: nn.Module, optimizer: torch.optim.Optimizer, epochs: int) -> None:
    """The user's own loop."""
    torch.manual_seed(0)
    train_loader, _ = loaders()
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for ids, lengths, labels in train_loader:
            optimizer.zero_grad()
            loss_fn(logits_of(model(ids, lengths)), labels).backward()
            optimizer.step()


def evaluate(model: nn.Module) -> tuple[float, float]:
    """The user's own evaluation: mean loss per sample and accuracy on the validation loader."""
    _, val_loader = loaders()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    model.eval()
    total, hits, count = 0.0, 0, 0
    with torch.no_grad():
        for ids, lengths, labels in val_loader:
            logits = logits_of(model(ids, lengths))
            total += float(loss_fn(logits, labels))
            hits += int((logits.argmax(1) == labels).sum())
            count += len(labels)
    return total / count, hits / count


def make_norm_mlp(hidden: int = 32) -> nn.Module:
    """64 digits pixels -> Linear -> LayerNorm -> ReLU -> Linear: a bias and a norm to keep
    out of weight decay."""
    return nn.Sequential(
        nn.Linear(64, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, 10)
    )


def no_decay_groups(model: nn.Module, decay: float = 0.05) -> list[dict]:
    """The HF/timm convention: weight matrices decay; biases and norms do not."""
    matrices = [p for n, p in model.named_parameters() if p.dim() > 1]
    rest = [p for n, p in model.named_parameters() if p.dim() <= 1]
    return [{"params": matrices, "weight_decay": decay}, {"params": rest, "weight_decay": 0.0}]


class TokenClassifier(nn.Module):
    """Embedding -> TransformerEncoder -> mean -> Linear over fixed-length id arrays (npz)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            width, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.embed = nn.Embedding(TOKENS, width)  # declared after the encoder on purpose
        self.head = nn.Linear(width, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(ids)).mean(1))


def make_token_classifier() -> nn.Module:
    return TokenClassifier()


def token_arrays(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed-length int64 id rows (8 tokens up to 249: they look like 8-bit pixels to a health
    check that does not know they are ids) and their labels, for an npz."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, TOKENS - 6, (count, 8), generator=generator)
    return ids, (ids[:, 0] < TOKENS // 2).long()

"""A tiny BERT sequence classifier (built from a config: no download) and dict-batch data, as a
Hugging Face user has them: a torch Dataset of {input_ids, attention_mask, labels} and a Trainer
run that writes `checkpoint-N/` directories. Imported by path as `--data FILE:loaders` too."""

from __future__ import annotations

from typing import Any

VOCAB = 100
LENGTH = 12


def config() -> Any:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=2,
    )


def model() -> Any:
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(config())


class Examples:
    """A map-style dataset of dicts; label: whether token 5 occurs in the sequence."""

    def __init__(self, count: int, seed: int) -> None:
        import torch

        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(6, VOCAB, (count, LENGTH), generator=generator)
        marked = torch.rand(count, generator=generator) < 0.5
        spot = torch.randint(1, LENGTH, (count,), generator=generator)
        self.ids[marked, spot[marked]] = 5
        self.ids[:, 0] = 1
        self.labels = marked.long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        return {
            "input_ids": self.ids[index],
            "attention_mask": torch.ones(LENGTH, dtype=torch.long),
            "labels": self.labels[index],
        }


def datasets() -> tuple[Examples, Examples]:
    return Examples(128, 0), Examples(48, 1)


def loaders(batch_size: int = 16) -> tuple[Any, Any]:
    import torch
    from torch.utils.data import DataLoader

    train, val = datasets()
    generator = torch.Generator().manual_seed(0)
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
        DataLoader(val, batch_size=batch_size),
    )


def evaluate(net: Any) -> tuple[float, float]:
    """The user's own evaluation: the model's loss per sample and accuracy on the val set."""
    import torch

    _, val = loaders()
    net.eval()
    total, hits, count = 0.0, 0, 0
    with torch.no_grad():
        for batch in val:
            out = net(**batch)
            size = len(batch["labels"])
            total += float(out.loss) * size
            hits += int((out.logits.argmax(-1) == batch["labels"]).sum())
            count += size
    return total / count, hits / count

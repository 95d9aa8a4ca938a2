"""The PyTorch adapter: checkpoint dicts, Lightning `.ckpt`, bare state dicts, safetensors,
TorchScript archives and (with --trust-pickle) pickled modules, behind `adapters.base`.

Modules, one job each: `device` (picking the device), `unsafe` (naming what a refused pickle
would run, without running it), `loading` (opening files safely), `layouts` (finding the model,
optimizer and epoch entries by content), `factory` (building the module and fitting the weights
into it), `param_match` (which parameters a saved optimizer state belongs to), `optimizer`
(rebuilding the optimizer from that state), `structure` (input and output read from the
layers), `losses` (loss, task, accuracy), `batches` (tensors and batching), `probe` (the
two-sample forward pass before training), `training` (evaluate and the epoch loop), `describe`,
`saving` (writing the input's own layout back), and `handle`/`adapter` that tie them together.
"""

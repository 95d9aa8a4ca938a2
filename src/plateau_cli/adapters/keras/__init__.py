"""The Keras 3 adapter: `.keras` and legacy `.h5` checkpoints, trained with TensorFlow.

Importing this package imports TensorFlow and Keras (quietly, see `runtime`); the registry
imports it only when a Keras checkpoint has been sniffed, so `--help` and `diagnose` never pay
for it. One module per job: `archive` reads facts from the file without building the model,
`loading` builds it and says what became of the optimizer state, `translate` turns Keras'
failures on bad files into plateau-cli errors, `optimizer` reads and overrides the learning
rate, `describe` fills `inspect`, `pipeline` turns data into tf.data, `training` runs `fit`.
"""

from plateau_cli.adapters.keras.runtime import import_tensorflow_quietly

import_tensorflow_quietly()

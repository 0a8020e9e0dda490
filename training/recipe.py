"""The numbers ``tagger-train fit`` builds models with (``--base musicnn``: the shipped model's recipe).

Light on purpose (no TensorFlow): the command line reads them before any
training module is imported.
"""

# Batches per epoch of the small CNN (what fit's --epochs counts).
STEPS_PER_EPOCH = 50

# Kept per branch by default (musicnn has 204 timbral and 51 temporal filters per branch): the
# smallest tried that lost no accuracy under the CV and valid-list protocols (docs/experiments/).
DEFAULT_TIMBRAL_FILTERS = 48
DEFAULT_TEMPORAL_FILTERS = 16
# Timbral basis filters: 16 ran 1.7x faster than unfactorised at the same valid-list accuracy and
# one CV track fewer (docs/experiments/).
DEFAULT_TIMBRAL_RANK = 16
# Front-end convolutions evaluated at every 2nd Mel band and every 2nd frame (musicnn_stride).
DEFAULT_FREQUENCY_STRIDE = 2
DEFAULT_TIME_STRIDE = 2

"""Detectors: one module per detector, each scores spans of window series and writes its alert text.

- :mod:`.volume` - items in a span (5-90 min) against the scope's share of the flow;
- :mod:`.negative` - negative share / negative items in a span against the scope's baseline;
- :mod:`.tone` - a sustained drop of the mean score (CUSUM).

:mod:`.registry` lists them with the default rule of each; :mod:`.history` holds the in-memory
window history and the cross-section priors; :mod:`.stats` the tail probabilities.
"""

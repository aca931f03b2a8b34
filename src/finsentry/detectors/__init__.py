"""Detectors: one module per detector, each scores spans of window series and writes its alert text.

- :mod:`.volume` - items in a span (5-90 min) against the scope's share of the flow;
- :mod:`.negative` - negative share / negative items in a span against the scope's baseline;
- :mod:`.tone` - a sustained drop of the mean score (CUSUM).

:mod:`.registry` lists them with the default rule of each; :mod:`.history` holds the in-memory
window history and the cross-section priors; :mod:`.stats` the tail probabilities.

:mod:`.series` scores a plain numeric series row by row with the same ideas (robust trailing
baseline, a scan over several spans in both directions, new extremes, gate and cooldown); the NAB
benchmark (``benchmarks/nab.py``) uses it. It is not registered for a window scope yet.
"""

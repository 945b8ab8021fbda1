"""The lab layer: seeing and trying event sourcing in a notebook, for any domain.

``viz`` (matplotlib pictures), ``widgets`` (the time slider and friends),
``determinism`` (clocks and ids that make a notebook repeat itself exactly).
Nothing here knows the example shop: a domain reaches the pictures through its
decider.
"""

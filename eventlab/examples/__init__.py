"""Example domains, on top of everything else: ``from eventlab.examples import orders``.

The coffee shop of the course: ``orders`` (its events, rules and state SQL),
``read_models``, ``queries``, ``sample`` (a simulated shop), ``crud`` (the same
shop as CRUD tables), ``exercises`` and ``gallery``. A second domain that is not
about orders: ``library`` (books lent, renewed, returned). A new domain goes here
as a module of its own; nothing below this layer imports it.
"""

"""Example domains used by the course: ``from eventlab.examples import orders``."""

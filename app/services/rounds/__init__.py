"""Rounds: a round's settings, its audience and the checklist people answer."""

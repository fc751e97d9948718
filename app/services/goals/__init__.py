"""Goals: the sections' yearly goals and the annual report."""

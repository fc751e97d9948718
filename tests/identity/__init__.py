"""Tests of identity: signing in, the directory, and who may use what."""

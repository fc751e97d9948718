"""Tests of the app's plumbing: the factory, the API, requests and their database work."""

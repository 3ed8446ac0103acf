"""PyTorch models the translator must keep green: translated, ported and checked in the test suite."""

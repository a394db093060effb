"""MNIST: the IDX file format, acquisition and verification, loading, and preprocessing."""

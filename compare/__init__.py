"""The harness: parity, speed, plots and reports for the NumPy and Keras MLPs (`mlp-compare`)."""

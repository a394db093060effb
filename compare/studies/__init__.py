"""The studies the tutorial names as what to learn next: the vanishing gradient (vanishing) and
tuning the hyperparameters (sweep). Both train numpy_mlp networks on MNIST through one function
(cells), draw with figures, and write JSON, figures and a report into their output folder."""

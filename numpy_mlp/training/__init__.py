"""Training: the SGD optimizer, the fit loop, the fast step, minibatches, callbacks."""

"""How a model learns: configuration, data, losses, the Lightning trainer, evaluation."""
